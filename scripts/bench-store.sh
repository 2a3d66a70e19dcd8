#!/usr/bin/env bash
# scripts/bench-store.sh: benchmarks of the Firestore connector store (shared/store) against
# the official Firestore emulator: register, get and list timings in collections of 100 and
# 1,000 connectors.
#
#   scripts/bench-store.sh                 the default: -benchtime=100x
#   scripts/bench-store.sh -benchtime=2s   extra flags go to go test
#
# It starts the emulator JVM directly on a free 127.0.0.1 port (as scripts/test.sh does),
# exports FIRESTORE_EMULATOR_HOST, and stops it by PID on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."

SCRIPT=scripts/bench-store.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
LOG=$(mktemp "${TMPDIR:-/tmp}/gcpconn-bench-firestore.XXXXXX")

cleanup() {
	stop_pids "${pids[@]}"
	rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_firestore
start_firestore "$LOG"
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}
say "Firestore emulator at $FIRESTORE_EMULATOR_HOST"
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(-benchtime=100x)
go test -run='^$' -bench=. "${flags[@]}" ./shared/store/
