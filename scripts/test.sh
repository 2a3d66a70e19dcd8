#!/usr/bin/env bash
# scripts/test.sh: the one test command of gcpconn (CI runs it through .ci/run).
#
#   scripts/test.sh            gofmt check, go vet, staticcheck, go test -race ./... with emulators
#   scripts/test.sh PKG...     the same checks, tests limited to the given packages
#
# It starts the official Firestore emulator and the Pub/Sub emulator (both from the machine
# image's google-cloud-cli packages) on free 127.0.0.1 ports, exports FIRESTORE_EMULATOR_HOST
# and PUBSUB_EMULATOR_HOST for the tests, and stops them by PID on every exit path.
# Environment: GCPCONN_TEST_NO_EMULATORS=1 skips the emulators (their tests then skip, loudly).
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
SDK=${CLOUDSDK_ROOT:-/usr/lib/google-cloud-sdk}
FIRESTORE_JAR="$SDK/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
PUBSUB_BIN="$SDK/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/gcpconn-test.XXXXXX")
pids=()

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		# Each emulator runs in its own process group (setsid): stop the group, then the leader.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pid" 2>/dev/null || true
	done
	rm -rf "$LOGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	die "no free port found on 127.0.0.1"
}

# wait_http URL NAME PID: wait up to 60 s for URL to answer, or fail naming NAME.
wait_http() {
	local url=$1 name=$2 pid=$3
	for _ in $(seq 1 600); do
		if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || { cat "$LOGDIR/$name.log" >&2; die "$name exited before it was ready"; }
		sleep 0.1
	done
	cat "$LOGDIR/$name.log" >&2
	die "$name did not answer at $url within 60 s"
}

start_emulators() {
	command -v java >/dev/null 2>&1 || die "java not found: the Firestore and Pub/Sub emulators need a JRE (Debian package openjdk-17-jre-headless, part of the machine image)"
	command -v curl >/dev/null 2>&1 || die "curl not found (Debian package curl)"
	[ -f "$FIRESTORE_JAR" ] || die "Firestore emulator not found at $FIRESTORE_JAR: install the Debian package google-cloud-cli-firestore-emulator (part of the machine image), or set CLOUDSDK_ROOT"
	[ -x "$PUBSUB_BIN" ] || die "Pub/Sub emulator not found at $PUBSUB_BIN: install the Debian package google-cloud-cli-pubsub-emulator (part of the machine image), or set CLOUDSDK_ROOT"

	local fport pport
	fport=$(free_port)
	# Start the JVM directly so that its PID is ours to stop (the gcloud wrapper leaves it running).
	setsid java -Duser.language=en -cp "$FIRESTORE_JAR" \
		com.google.cloud.datastore.emulator.firestore.CloudFirestore start \
		--host=127.0.0.1 --port="$fport" >"$LOGDIR/firestore.log" 2>&1 &
	pids+=($!)
	pport=$(free_port)
	setsid "$PUBSUB_BIN" --host=127.0.0.1 --port="$pport" >"$LOGDIR/pubsub.log" 2>&1 &
	pids+=($!)
	wait_http "http://127.0.0.1:$fport/" firestore "${pids[0]}"
	wait_http "http://127.0.0.1:$pport/" pubsub "${pids[1]}"
	export FIRESTORE_EMULATOR_HOST="127.0.0.1:$fport"
	export PUBSUB_EMULATOR_HOST="127.0.0.1:$pport"
	say "Firestore emulator at $FIRESTORE_EMULATOR_HOST, Pub/Sub emulator at $PUBSUB_EMULATOR_HOST"
}

pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

# Tests must never probe the real metadata server; tests that need one point this at a fake.
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}

say "gofmt"
unformatted=$(gofmt -l $(git ls-files -co --exclude-standard '*.go') 2>&1 || true)
[ -z "$unformatted" ] || die "gofmt would change these files (run gofmt -w): $unformatted"

say "go vet"
go vet ./...

say "staticcheck"
go run "$STATICCHECK" ./...

if [ "${GCPCONN_TEST_NO_EMULATORS:-}" = 1 ]; then
	say "emulators skipped (GCPCONN_TEST_NO_EMULATORS=1): their tests will skip"
else
	start_emulators
fi

say "go test -race ${pkgs[*]}"
go test -race -timeout 20m "${pkgs[@]}"
say "all checks passed"
