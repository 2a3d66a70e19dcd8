#!/usr/bin/env bash
# scripts/bench-sweep.sh: sweep runs as deployed. The real functions (functions/cmd/serve)
# plan a run and publish its shards to the official Pub/Sub emulator, whose push subscription
# delivers each (through emulator/cmd/pushauth, which adds the push identity's ID token, as
# Pub/Sub does deployed) to /sweep-shard; the store is the official Firestore emulator and the
# fake's Secret Manager, and the fake Google (emulator/) answers every call after 20 ms.
#
#   scripts/bench-sweep.sh                          1,000 connectors, Firestore emulator
#   scripts/bench-sweep.sh --connectors 10000       as many as given
#   scripts/bench-sweep.sh --store memory           the memory store (in the serve process)
#   scripts/bench-sweep.sh --latency 50ms --shard-size 200 --concurrency 64 --runs 2
#   scripts/bench-sweep.sh --logs DIR               keep the functions' and pushauth's logs
#   scripts/bench-sweep.sh --no-firestore-count     without the counting proxy in front of the
#                                                   Firestore emulator (0.5 ms less CPU a connector)
#   scripts/bench-sweep.sh --in-process             the Go benchmark: shards to an in-process
#                                                   pool, memory store, no emulators
#   scripts/bench-sweep.sh --one-request            the old shape: one request looping over
#                                                   all connectors (1,000, 50 ms per call)
#
# It seeds the connectors in bulk (secrets through the store's Secret Manager code, documents
# with Firestore's BulkWriter; on the memory store through /register), then per run prints the
# wall time, connectors/s, Google calls per connector by API, Secret Manager metadata reads
# per run, Firestore calls per connector and the CPU time per connector of each process, and
# fails unless every connector was checked exactly once (its own bucket read once, counted at
# the fake). It asserts nothing about time. The emulators are started here on free 127.0.0.1
# ports and stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT=scripts/bench-sweep.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}
PUBSUB_BIN="$SDK/platform/pubsub-emulator/bin/cloud-pubsub-emulator"

mode=stack store=google
args=()
gobench=()
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) sed -n '2,26p' "$0"; exit 0 ;;
	--store) [ $# -ge 2 ] || die "--store needs google or memory"; store=$2; shift ;;
	--store=*) store=${1#*=} ;;
	--connectors | --latency | --shard-size | --concurrency | --runs | --logs)
		[ $# -ge 2 ] || die "$1 needs a value"
		args+=("-${1#--}" "$2")
		[ "$1" != --connectors ] || export GCPCONN_BENCH_CONNECTORS=$2
		[ "$1" != --latency ] || export GCPCONN_BENCH_LATENCY=$2
		shift ;;
	--connectors=* | --latency=* | --shard-size=* | --concurrency=* | --runs=* | --logs=*)
		args+=("${1#-}")
		case $1 in --connectors=*) export GCPCONN_BENCH_CONNECTORS=${1#*=} ;; --latency=*) export GCPCONN_BENCH_LATENCY=${1#*=} ;; esac ;;
	--no-firestore-count) args+=(-count-firestore=false) ;;
	--in-process) mode=gobench gobench=(BenchmarkSweepFanOutAgainstFake) ;;
	--one-request) mode=gobench gobench=(BenchmarkSweepThousandAgainstFake) ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done
case "$store" in google | memory) ;; *) die "--store $store: want google or memory" ;; esac

if [ "$mode" = gobench ]; then
	unset PUBSUB_EMULATOR_HOST
	exec go test -run='^$' -bench="^${gobench[0]}\$" -benchtime=1x -timeout=60m ./shared/upkeep/
fi

bin=$(mktemp -d "${TMPDIR:-/tmp}/bench-sweep.XXXXXX")
trap 'stop_pids "${pids[@]}"; rm -rf "$bin"' EXIT
trap 'exit 130' INT TERM
[ -x "$PUBSUB_BIN" ] || die "Pub/Sub emulator not found at $PUBSUB_BIN: install the Debian package google-cloud-cli-pubsub-emulator, or run with --in-process"
say "building serve, pushauth and benchsweep"
go build -o "$bin/serve" ./functions/cmd/serve
go build -o "$bin/pushauth" ./emulator/cmd/pushauth
go build -o "$bin/benchsweep" ./functions/internal/benchsweep
pport=$(free_port)
spawn "$bin/pubsub.log" "$PUBSUB_BIN" --host=127.0.0.1 --port="$pport"
pubsub_pid=$SPAWNED
groups="pubsub=$pubsub_pid"
if [ "$store" = google ]; then
	need_firestore
	start_firestore "$bin/firestore.log" # meanwhile the Pub/Sub emulator starts too
	groups+=",firestore=$SPAWNED"
fi
wait_until pubsub "$pubsub_pid" "$bin/pubsub.log" 60 curl -fsS -o /dev/null "http://127.0.0.1:$pport/"
export PUBSUB_EMULATOR_HOST="127.0.0.1:$pport"
say "Pub/Sub emulator at $PUBSUB_EMULATOR_HOST${FIRESTORE_EMULATOR_HOST:+, Firestore emulator at $FIRESTORE_EMULATOR_HOST}"
"$bin/benchsweep" -serve "$bin/serve" -pushauth "$bin/pushauth" -store "$store" -cpu-groups "$groups" "${args[@]}"
