#!/usr/bin/env bash
# scripts/bench-mint.sh: warm mint-token throughput and latency over loopback HTTP, against a
# bare Go handler returning the same bytes in the same run (DESIGN §7).
#
#   scripts/bench-mint.sh [-c CLIENTS] [-d DURATION] [-warmup DURATION]
#
# Builds and runs functions/internal/benchmint: the fake Google in-process (demo world), the
# real functions with the memory store and caller authentication, one service-account
# connector, then the same closed-loop load on both servers. Prints req/s, p50, p99, max and
# the ratio. Numbers depend on the machine and on what else runs on it; run it on a quiet one.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h | --help) sed -n '2,10p' "$0"; exit 0 ;; esac
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}
bin=$(mktemp -d "${TMPDIR:-/tmp}/bench-mint.XXXXXX")
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/benchmint" ./functions/internal/benchmint
"$bin/benchmint" "$@"
