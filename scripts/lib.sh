# shellcheck shell=bash
# scripts/lib.sh: helpers shared by the scripts that start local processes (sourced, not run).
#
#   SCRIPT=scripts/NAME.sh; . "$(dirname "$0")/lib.sh"
#
#   say MSG...                         progress line on stderr
#   die MSG...                         "$SCRIPT: MSG" on stderr, exit 1
#   free_port                          prints a free TCP port on 127.0.0.1 (100 tries at most)
#   wait_until NAME PID LOG SECS CMD...
#                                      runs CMD every 0.1 s until it succeeds; dies (showing LOG)
#                                      when process PID exits first or SECS pass
#   spawn LOG CMD...                   starts CMD in the background in its own process group
#                                      (output to LOG), appends its PID to pids and sets SPAWNED
#   start_firestore LOG                spawns the official Firestore emulator (the JVM itself) on
#                                      a free 127.0.0.1 port, waits for it and exports
#                                      FIRESTORE_EMULATOR_HOST
#   stop_pids PID...                   stops each process group (TERM, up to 5 s, then KILL)
#
# A script traps EXIT with `stop_pids "${pids[@]}"`: spawn records a PID before anything can
# fail, and since setsid makes that PID its own process group, stopping it stops the process
# and whatever it started, and nothing else.

SDK=${CLOUDSDK_ROOT:-/usr/lib/google-cloud-sdk}
FIRESTORE_JAR="$SDK/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"

pids=()

say() { printf '== %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "${SCRIPT:-$0}" "$*" >&2; exit 1; }

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	die "no free port found on 127.0.0.1"
}

wait_until() {
	local name=$1 pid=$2 log=$3 secs=$4
	shift 4
	for _ in $(seq 1 $((secs * 10))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2 2>/dev/null || true; die "$name exited before it was ready"; }
		sleep 0.1
	done
	cat "$log" >&2 2>/dev/null || true
	die "$name was not ready within $secs s"
}

need_firestore() {
	command -v java >/dev/null 2>&1 || die "java not found: the Firestore and Pub/Sub emulators need a JRE (Debian package openjdk-17-jre-headless, part of the machine image)"
	command -v curl >/dev/null 2>&1 || die "curl not found (Debian package curl)"
	[ -f "$FIRESTORE_JAR" ] || die "Firestore emulator not found at $FIRESTORE_JAR: install the Debian package google-cloud-cli-firestore-emulator (part of the machine image), or set CLOUDSDK_ROOT"
}

spawn() {
	local log=$1
	shift
	setsid "$@" >"$log" 2>&1 &
	SPAWNED=$!
	pids+=("$SPAWNED")
}

start_firestore() {
	local log=$1 port
	port=$(free_port)
	# The JVM itself, not the gcloud wrapper (which would leave the JVM running when stopped).
	spawn "$log" java -Duser.language=en -cp "$FIRESTORE_JAR" \
		com.google.cloud.datastore.emulator.firestore.CloudFirestore start \
		--host=127.0.0.1 --port="$port"
	wait_until firestore "$SPAWNED" "$log" 60 curl -fsS -o /dev/null "http://127.0.0.1:$port/"
	export FIRESTORE_EMULATOR_HOST="127.0.0.1:$port"
}

stop_pids() {
	local pid
	for pid in "$@"; do
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "$@"; do
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	done
}
