#!/usr/bin/env bash
# scripts/test.sh: the one test command of gcpconn (CI runs it through .ci/run).
#
#   scripts/test.sh            gofmt check, go vet, staticcheck, go test -race -shuffle=on ./...
#                              with the emulators
#   scripts/test.sh PKG...     the same checks, tests limited to the given packages
#   scripts/test.sh --stress [PKG...]
#                              the same, with every test run three times in a shuffled order
#                              (-count=3 -shuffle=on): order dependence, state left behind and
#                              rare interleavings show up. CI runs this mode (.ci/run).
#
# A failing shuffled run prints its seed (-test.shuffle N); rerun the package with
# go test -shuffle=N to get the same order.
# It starts the official Firestore emulator and the Pub/Sub emulator (both from the machine
# image's google-cloud-cli packages) on free 127.0.0.1 ports, exports FIRESTORE_EMULATOR_HOST
# and PUBSUB_EMULATOR_HOST for the tests, and stops them by PID on every exit path.
# Environment: GCPCONN_TEST_NO_EMULATORS=1 skips the emulators (their tests then skip, loudly).
set -euo pipefail
cd "$(dirname "$0")/.."

SCRIPT=scripts/test.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
PUBSUB_BIN="$SDK/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/gcpconn-test.XXXXXX")

cleanup() {
	[ -z "${stage_name:-}" ] || say "stopped during $stage_name, ${SECONDS}s in"
	stop_pids "${pids[@]}"
	rm -rf "$LOGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_emulators() {
	need_firestore
	[ -x "$PUBSUB_BIN" ] || die "Pub/Sub emulator not found at $PUBSUB_BIN: install the Debian package google-cloud-cli-pubsub-emulator (part of the machine image), or set CLOUDSDK_ROOT"

	local pport pubsub_pid
	pport=$(free_port)
	spawn "$LOGDIR/pubsub.log" "$PUBSUB_BIN" --host=127.0.0.1 --port="$pport"
	pubsub_pid=$SPAWNED
	start_firestore "$LOGDIR/firestore.log" # meanwhile the Pub/Sub emulator starts too
	wait_until pubsub "$pubsub_pid" "$LOGDIR/pubsub.log" 60 curl -fsS -o /dev/null "http://127.0.0.1:$pport/"
	export PUBSUB_EMULATOR_HOST="127.0.0.1:$pport"
	say "Firestore emulator at $FIRESTORE_EMULATOR_HOST, Pub/Sub emulator at $PUBSUB_EMULATOR_HOST"
}

count=1
pkgs=()
for a in "$@"; do
	case $a in
	--stress) count=3 ;;
	-*) die "unknown option $a (scripts/test.sh [--stress] [PKG...])" ;;
	*) pkgs+=("$a") ;;
	esac
done
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

# Tests must never probe the real metadata server; tests that need one point this at a fake.
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}

# stage NAME: says NAME and starts timing it; the previous stage's time goes into the summary
# that the last line prints, so a slow run shows where its time went.
times=() stage_name='' stage_start=$SECONDS
stage() {
	[ -z "$stage_name" ] || times+=("$stage_name $((SECONDS - stage_start))s")
	stage_name=$1 stage_start=$SECONDS
	[ -z "$1" ] || say "$1"
}

stage "gofmt"
unformatted=$(git ls-files -z -co --exclude-standard '*.go' | xargs -0 gofmt -l 2>&1 || true)
[ -z "$unformatted" ] || die "gofmt would change these files (run gofmt -w): $unformatted"

# vet and staticcheck look at the packages in the tests' build configuration (-race): the
# packages vet compiles are then the ones go test links, instead of a second full build
# (cold, on 2 cores, this saves about two and a half minutes).
stage "go vet"
go vet -race ./...

stage "staticcheck"
GOBIN="$LOGDIR/bin" go install "$STATICCHECK"
GOFLAGS="${GOFLAGS:+$GOFLAGS }-race" "$LOGDIR/bin/staticcheck" ./...

if [ "${GCPCONN_TEST_NO_EMULATORS:-}" = 1 ]; then
	say "emulators skipped (GCPCONN_TEST_NO_EMULATORS=1): their tests will skip"
else
	stage "emulators"
	start_emulators
fi

stage "go test -race -shuffle=on -count=$count ${pkgs[*]}"
# -vet=off: go vet ./... above ran every vet check; go test would repeat a subset per package.
go test -race -shuffle=on -vet=off -count="$count" -timeout 45m "${pkgs[@]}"
if [ "${pkgs[*]}" = ./... ]; then
	# The race detector drops sync.Pool items at random, so the allocation bounds that depend
	# on pools skip under -race (testbuild.Race): they run here, without it. Such a test has
	# Alloc in its name.
	mapfile -t alloc_pkgs < <(git grep -l 'testbuild.Race' -- '*_test.go' | xargs -n1 dirname | sort -u | sed 's|^|./|')
	stage "allocation bounds without -race (${alloc_pkgs[*]})"
	go test -vet=off -count=1 -run 'Alloc' "${alloc_pkgs[@]}"
fi
stage ""
summary=$(printf '%s, ' "${times[@]}")
say "all checks passed in ${SECONDS}s (${summary%, })"
