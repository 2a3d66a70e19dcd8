#!/usr/bin/env bash
# scripts/bench-sweep.sh: one sweep run fanned out in shards of 100 connectors, through the real
# Google adapter against the fake (emulator/) answering every call after 20 ms, the shards going
# through the official Pub/Sub emulator (started here; stopped by PID on exit) to workers that
# take 4 shards at a time, each checking 32 connectors at once.
#
#   scripts/bench-sweep.sh                         1,000 connectors
#   scripts/bench-sweep.sh --connectors 10000      as many as given
#   scripts/bench-sweep.sh --workers 8 --latency 50ms
#   scripts/bench-sweep.sh --in-process            shards to an in-process pool, no Pub/Sub emulator
#   scripts/bench-sweep.sh --one-request           the old shape: one request looping over all
#                                                  connectors (1,000, 50 ms per call)
#
# Prints wall time (s/run), connectors/s, Google calls per connector by API and Secret Manager
# metadata reads per run, and fails unless every connector was checked exactly once. Extra
# arguments go to go test. It asserts nothing about time. The connector store is in memory.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT=scripts/bench-sweep.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}
PUBSUB_BIN="$SDK/platform/pubsub-emulator/bin/cloud-pubsub-emulator"

pubsub=true
bench=BenchmarkSweepFanOutAgainstFake
flags=()
while [ $# -gt 0 ]; do
	case $1 in
	--connectors) export GCPCONN_BENCH_CONNECTORS=$2; shift ;;
	--connectors=*) export GCPCONN_BENCH_CONNECTORS=${1#*=} ;;
	--workers) export GCPCONN_BENCH_WORKERS=$2; shift ;;
	--workers=*) export GCPCONN_BENCH_WORKERS=${1#*=} ;;
	--latency) export GCPCONN_BENCH_LATENCY=$2; shift ;;
	--latency=*) export GCPCONN_BENCH_LATENCY=${1#*=} ;;
	--in-process) pubsub=false ;;
	--one-request) pubsub=false; bench=BenchmarkSweepThousandAgainstFake ;;
	-h | --help) sed -n '2,17p' "$0"; exit 0 ;;
	*) flags+=("$1") ;;
	esac
	shift
done
[ ${#flags[@]} -gt 0 ] || flags=(-benchtime=1x)

trap 'stop_pids "${pids[@]}"' EXIT
unset PUBSUB_EMULATOR_HOST
if $pubsub; then
	[ -x "$PUBSUB_BIN" ] || die "Pub/Sub emulator not found at $PUBSUB_BIN: install google-cloud-cli-pubsub-emulator, or run with --in-process"
	port=$(free_port)
	log=$(mktemp "${TMPDIR:-/tmp}/bench-sweep-pubsub.XXXXXX")
	spawn "$log" "$PUBSUB_BIN" --host=127.0.0.1 --port="$port"
	wait_until pubsub "$SPAWNED" "$log" 60 curl -fsS -o /dev/null "http://127.0.0.1:$port/"
	export PUBSUB_EMULATOR_HOST="127.0.0.1:$port"
	say "Pub/Sub emulator at $PUBSUB_EMULATOR_HOST"
fi
go test -run='^$' -bench="^$bench\$" -timeout=60m "${flags[@]}" ./shared/connector/
