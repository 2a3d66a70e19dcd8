#!/usr/bin/env bash
# scripts/bench-mint.sh: warm mint-token throughput and latency over loopback HTTP, against a
# bare Go handler returning the same bytes in the same run (DESIGN §7).
#
#   scripts/bench-mint.sh [--store memory|google] [-c CLIENTS] [-d DURATION] [-warmup DURATION]
#
# Builds and runs functions/internal/benchmint: the fake Google in-process (demo world), the
# real functions with caller authentication, one service-account connector, then the same
# closed-loop load (Go clients, keep-alive) on both servers. --store google (what production
# runs) starts the official Firestore emulator on a free 127.0.0.1 port for the run and stops
# it after; the default is the memory store. Prints req/s, p50, p99, max, the ratio, and per
# 1,000 mints: Firestore reads, Secret Manager reads and upstream token calls.
# GCPCONN_REVOCATION_WINDOW applies as in production (default 30s). Numbers depend on the
# machine and on what else runs on it; run it on a quiet one.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT=scripts/bench-mint.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
store=memory
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
	--store) [ $# -ge 2 ] || die "--store needs memory or google"; store=$2; shift 2 ;;
	--store=*) store=${1#--store=}; shift ;;
	*) args+=("$1"); shift ;;
	esac
done
case "$store" in memory | google) ;; *) die "--store $store: want memory or google" ;; esac
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}
bin=$(mktemp -d "${TMPDIR:-/tmp}/bench-mint.XXXXXX")
trap 'stop_pids "${pids[@]}"; rm -rf "$bin"' EXIT
trap 'exit 130' INT TERM
go build -o "$bin/benchmint" ./functions/internal/benchmint
if [ "$store" = google ]; then
	need_firestore
	say "starting the Firestore emulator"
	start_firestore "$bin/firestore.log"
fi
"$bin/benchmint" -store "$store" "${args[@]}"
