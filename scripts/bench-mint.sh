#!/usr/bin/env bash
# scripts/bench-mint.sh: warm mint-token throughput and latency over loopback HTTP, against a
# bare Go handler returning the same bytes in the same run.
#
#   scripts/bench-mint.sh [--store memory|google] [-c CONNECTIONS] [-t THREADS] [-d DURATION]
#                         [-warmup DURATION] [-load wrk|go]
#
# Builds functions/cmd/serve and functions/internal/benchmint and runs the latter: the fake
# Google (demo world), the real functions as their own process (functions/cmd/serve, with
# caller authentication, logging JSON to a file as Cloud Run takes stdout), one
# service-account connector, and a bare handler in another process answering the bytes of a
# real answer. wrk (Debian package wrk) drives each in turn: a warm-up, the measured run
# (default 2 threads, 32 connections, 5 s) and a latency run at one connection (below
# saturation). -load go uses the old in-process servers and Go clients instead (flatters the
# ratio on a small machine: the load generator takes the server's CPU).
# --store google (what production runs) starts the official Firestore emulator on a free
# 127.0.0.1 port for the run and stops it after; the default is the memory store. Prints
# req/s, p50, p90, p99, the ratio, and per 1,000 mints: Firestore reads (counted by a gRPC
# proxy in front of the emulator), Secret Manager reads and upstream token calls (counted by
# the fake). GCPCONN_REVOCATION_WINDOW applies as in production (default 30s). Numbers depend
# on the machine and on what else runs on it; run it on a quiet one.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT=scripts/bench-mint.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
store=memory
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
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
load=wrk
for a in "${args[@]}"; do case "$a" in -load=go | go) load=go ;; esac; done
if [ "$load" = wrk ] && ! command -v wrk >/dev/null 2>&1; then
	die "wrk not found: install the Debian package wrk (apt-get install wrk), or pass -load go"
fi
go build -o "$bin/benchmint" ./functions/internal/benchmint
go build -o "$bin/serve" ./functions/cmd/serve
if [ "$store" = google ]; then
	need_firestore
	say "starting the Firestore emulator"
	start_firestore "$bin/firestore.log"
fi
"$bin/benchmint" -store "$store" -serve "$bin/serve" "${args[@]}"
