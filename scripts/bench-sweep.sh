#!/usr/bin/env bash
# scripts/bench-sweep.sh: one sweep of 1,000 connectors through the real Google adapter against
# the fake (emulator/), every Google call answering after 50 ms (DESIGN §7 wants under 10 s).
#
#   scripts/bench-sweep.sh                 one sweep (-benchtime=1x)
#   scripts/bench-sweep.sh -benchtime=3x   extra flags go to go test
#
# Prints s/sweep and google-calls/op; it asserts nothing about time.
set -euo pipefail
cd "$(dirname "$0")/.."
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(-benchtime=1x)
go test -run='^$' -bench=BenchmarkSweepThousandAgainstFake "${flags[@]}" ./shared/connector/
