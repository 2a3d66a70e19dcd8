#!/bin/sh
# bench-mint-cache.sh: how the token cache holds up, against the fake Google (emulator/).
# Prints, per resource (gcp-generic; gcs-bucket = JWT grant + STS down-scoping):
#   BenchmarkMintCached            ns/op, B/op, allocs/op of a warm mint (core + adapter), upstream calls during it
#   BenchmarkMint10000             upstream token calls for 10,000 mints of one resource (target 1; bucket 2)
#   BenchmarkMintColdConcurrent100 upstream token calls for 100 concurrent cold mints (target 1; bucket 2)
# and the core alone with a stand-in Google (shared/connector BenchmarkMintCore*).
# Usage: scripts/bench-mint-cache.sh [extra go test flags, e.g. -benchtime 3s]
set -eu
cd "$(dirname "$0")/.."
export GCE_METADATA_HOST=127.0.0.1:1
go test -run '^$' -bench 'BenchmarkMint' -benchmem "$@" ./shared/gcp/ ./shared/connector/
