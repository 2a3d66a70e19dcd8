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

SDK=${CLOUDSDK_ROOT:-/usr/lib/google-cloud-sdk}
FIRESTORE_JAR="$SDK/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
LOG=$(mktemp "${TMPDIR:-/tmp}/gcpconn-bench-firestore.XXXXXX")
pid=

die() { printf 'scripts/bench-store.sh: %s\n' "$*" >&2; exit 1; }

cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v java >/dev/null 2>&1 || die "java not found: the Firestore emulator needs a JRE (Debian package openjdk-17-jre-headless, part of the machine image)"
command -v curl >/dev/null 2>&1 || die "curl not found (Debian package curl)"
[ -f "$FIRESTORE_JAR" ] || die "Firestore emulator not found at $FIRESTORE_JAR: install the Debian package google-cloud-cli-firestore-emulator (part of the machine image), or set CLOUDSDK_ROOT"

port=
for _ in $(seq 1 100); do
	p=$((20000 + RANDOM % 30000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || die "no free port found on 127.0.0.1"

# Start the JVM directly (in its own process group) so that its PID is ours to stop.
setsid java -Duser.language=en -cp "$FIRESTORE_JAR" \
	com.google.cloud.datastore.emulator.firestore.CloudFirestore start \
	--host=127.0.0.1 --port="$port" >"$LOG" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
	if curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then break; fi
	kill -0 "$pid" 2>/dev/null || { cat "$LOG" >&2; die "the Firestore emulator exited before it was ready"; }
	sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/" || { cat "$LOG" >&2; die "the Firestore emulator did not answer within 60 s"; }

export FIRESTORE_EMULATOR_HOST="127.0.0.1:$port"
export GCE_METADATA_HOST=${GCE_METADATA_HOST:-127.0.0.1:1}
printf '== Firestore emulator at %s\n' "$FIRESTORE_EMULATOR_HOST" >&2
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(-benchtime=100x)
go test -run='^$' -bench=. "${flags[@]}" ./shared/store/
