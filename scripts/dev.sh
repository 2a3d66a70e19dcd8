#!/usr/bin/env bash
# scripts/dev.sh: the whole gcpconn stack on this machine, on its embedded defaults.
#
#   scripts/dev.sh [--port N] [--memory] [--no-pubsub] [--world FILE] [--admins EMAILS]
#
# It builds and starts the fake Google Cloud (emulator/cmd/fakegcp, demo world unless --world),
# the official Firestore emulator when the machine has it (else, or with --memory, the memory
# store), the official Pub/Sub emulator when the machine has it (else, or with --no-pubsub,
# sweep shards run in the planning process) with the sweep topic and its push subscription to
# the worker (through emulator/cmd/pushauth, which adds the push identity's ID token as Pub/Sub
# does deployed), and every function (functions/cmd/serve) configured with the fake's environment;
# prints the base URL and how to get a caller ID token; and stops everything, by PID, on
# Ctrl-C. Binaries are built first and run directly, so each PID is the process itself.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	cat <<'USAGE'
usage: scripts/dev.sh [options]

Runs the local gcpconn stack until Ctrl-C:
  fake Google Cloud (emulator/cmd/fakegcp)    identity, OIDC issuer, storage, GKE, Artifact
                                              Registry, Secret Manager, Resource Manager
  Firestore emulator (if installed)           else the memory store
  Pub/Sub emulator (if installed)             the sweep topic, pushed to /sweep-shard
  gcpconn functions (functions/cmd/serve)     /register /verify /list /mint-token /rotate /sweep
                                              /sweep-shard /refresh

options:
  --port N          port of the functions (default 8080, on 127.0.0.1)
  --memory          use the memory store even when the Firestore emulator is installed
  --no-pubsub       run sweep shards in the planning process, without the Pub/Sub emulator
  --world FILE      world file for the fake (default: the built-in demo world)
  --admins EMAILS   comma-separated admin emails (default admin@example.com)
  -h, --help        this help

environment: CLOUDSDK_ROOT (default /usr/lib/google-cloud-sdk) locates the emulators.
USAGE
}

port=8080
memory=false
pubsub=true
world=""
admins="admin@example.com"
while [ $# -gt 0 ]; do
	case "$1" in
	--port) port=${2:?--port needs a value}; shift 2 ;;
	--port=*) port=${1#*=}; shift ;;
	--memory) memory=true; shift ;;
	--no-pubsub) pubsub=false; shift ;;
	--world) world=${2:?--world needs a file}; shift 2 ;;
	--world=*) world=${1#*=}; shift ;;
	--admins) admins=${2:?--admins needs a value}; shift 2 ;;
	--admins=*) admins=${1#*=}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) printf 'scripts/dev.sh: unknown argument %q (see --help)\n' "$1" >&2; exit 2 ;;
	esac
done

SCRIPT=scripts/dev.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gcpconn-dev.XXXXXX")

cleanup() {
	stop_pids "${pids[@]}"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v curl >/dev/null 2>&1 || die "curl not found (Debian package curl)"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is in use; pick another with --port"; fi

say "building fakegcp and serve"
go build -o "$WORK/fakegcp" ./emulator/cmd/fakegcp
go build -o "$WORK/serve" ./functions/cmd/serve
go build -o "$WORK/pushauth" ./emulator/cmd/pushauth

base="http://127.0.0.1:$port"
say "starting the fake Google Cloud"
# Secret Manager's notifications (key rotation schedules, version events) are pushed to
# /refresh as a push subscription would, authenticated as the first admin.
fake_args=(-keys-dir "$WORK/keys" -push-url "$base/refresh" -push-email "${admins%%,*}" -push-audience "$base")
[ -z "$world" ] || fake_args+=(-world "$world")
setsid "$WORK/fakegcp" "${fake_args[@]}" >"$WORK/fakegcp.out" 2>"$WORK/fakegcp.log" &
pids+=($!)
wait_until fakegcp "${pids[-1]}" "$WORK/fakegcp.log" 60 grep -q '^# fakegcp ready' "$WORK/fakegcp.out"
while IFS= read -r line; do
	case "$line" in
	[A-Z]*=*) export "${line?}" ;;
	esac
done <"$WORK/fakegcp.out"

store=memory
if [ "$memory" = false ] && [ -f "$FIRESTORE_JAR" ] && command -v java >/dev/null 2>&1; then
	say "starting the Firestore emulator"
	start_firestore "$WORK/firestore.log"
	store=google
elif [ "$memory" = false ]; then
	say "Firestore emulator not found at $FIRESTORE_JAR (Debian package google-cloud-cli-firestore-emulator): using the memory store"
fi

PUBSUB_BIN="$SDK/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
sweep="in process"
if $pubsub && [ -x "$PUBSUB_BIN" ] && command -v java >/dev/null 2>&1; then
	say "starting the Pub/Sub emulator"
	pport=$(free_port)
	spawn "$WORK/pubsub.log" "$PUBSUB_BIN" --host=127.0.0.1 --port="$pport"
	wait_until pubsub "$SPAWNED" "$WORK/pubsub.log" 60 curl -fsS -o /dev/null "http://127.0.0.1:$pport/"
	export PUBSUB_EMULATOR_HOST="127.0.0.1:$pport"
	export GCPCONN_SWEEP_TOPIC="projects/${GCPCONN_PROJECT:-zenml-core}/topics/gcpconn-sweep"
	sweep="Pub/Sub emulator at $PUBSUB_EMULATOR_HOST"
elif $pubsub; then
	say "Pub/Sub emulator not found at $PUBSUB_BIN (Debian package google-cloud-cli-pubsub-emulator): sweep shards run in process"
fi

export GCPCONN_STORE=$store
export GCPCONN_PROJECT=${GCPCONN_PROJECT:-zenml-core}
export GCPCONN_AUDIENCE=$base
export GCPCONN_ADMINS=$admins
export GCPCONN_SECRET_TOPIC=${GCPCONN_SECRET_TOPIC:-projects/zenml-core/topics/gcpconn-secrets}
# The fake's issuer "ci" (GitHub-Actions-shaped tokens) is the one trusted issuer: its callers
# are ci:SUBJECT, for jobs of repositories owned by acme.
[ -n "${FAKEGCP_ISSUER_CI:-}" ] || die "the fake printed no FAKEGCP_ISSUER_CI"
export GCPCONN_TRUSTED_ISSUERS='[{"name":"ci","issuer":"'"$FAKEGCP_ISSUER_CI"'","audiences":["'"$base"'"],"bound_claims":{"repository_owner":"acme"},"max_token_age":"15m"}]'
# Spans go to the local console exporter (JSON on the functions' standard error, in
# serve.log): requests sent with a sampled traceparent, and GCPCONN_TRACE_SAMPLE of the others.
export GCPCONN_TRACE_EXPORTER=${GCPCONN_TRACE_EXPORTER:-console}

say "starting the functions ($store store)"
spawn "$WORK/serve.log" "$WORK/serve" -addr "127.0.0.1:$port"
wait_until serve "$SPAWNED" "$WORK/serve.log" 30 curl -sS -o /dev/null "$base/list"

if [ -n "${GCPCONN_SWEEP_TOPIC:-}" ]; then
	# The sweep topic, its dead-letter topic and its push subscription, as infra/ makes them
	# (a shard's 5th failed delivery goes to the dead-letter topic; the emulator puts no OIDC
	# token on pushes: pushauth adds the first admin's ID token).
	spawn "$WORK/pushauth.log" "$WORK/pushauth" -listen 127.0.0.1:0 -target "$base/sweep-shard" \
		-token-url "$FAKEGCP_ADMIN_URL/admin/id-token" -email "${admins%%,*}" -audience "$base"
	wait_until pushauth "$SPAWNED" "$WORK/pushauth.log" 30 grep -q '^listening ' "$WORK/pushauth.log"
	relay=$(sed -n 's/^listening //p' "$WORK/pushauth.log")
	ps="http://$PUBSUB_EMULATOR_HOST/v1"
	sub=${GCPCONN_SWEEP_TOPIC/\/topics\//\/subscriptions\/}
	dead=$GCPCONN_SWEEP_TOPIC-dead-letter
	for topic in "$GCPCONN_SWEEP_TOPIC" "$dead"; do
		curl -fsS -o /dev/null -X PUT "$ps/$topic" || die "cannot create the topic $topic in the Pub/Sub emulator"
	done
	curl -fsS -o /dev/null -X PUT "$ps/$sub" -H 'Content-Type: application/json' \
		-d '{"topic":"'"$GCPCONN_SWEEP_TOPIC"'","ackDeadlineSeconds":300,"pushConfig":{"pushEndpoint":"'"$relay"'"},
		"deadLetterPolicy":{"deadLetterTopic":"'"$dead"'","maxDeliveryAttempts":5}}' ||
		die "cannot create the sweep push subscription in the Pub/Sub emulator"
fi

cat <<INFO

gcpconn is running at $base   (store: $store; sweep shards: $sweep; fake Google admin: $FAKEGCP_ADMIN_URL)

  functions:  $base/register  /verify  /list  /mint-token  /rotate  /sweep  /sweep-shard  /refresh

  a caller ID token (any email; admins: $admins):
    TOKEN=\$(curl -s -X POST $FAKEGCP_ADMIN_URL/admin/id-token \\
      -d '{"email":"you@example.com","audience":"$base"}' | sed 's/.*"id_token":"\\([^"]*\\)".*/\\1/')

  then, for example:
    curl -s -H "Authorization: Bearer \$TOKEN" '$base/list?types=true'
    curl -s -H "Authorization: Bearer \$TOKEN" -H "Content-Type: application/json" $base/register -d '{"name":"demo","auth_method":"service-account",
      "configuration":{"project_id":"zenml-core","service_account_json":'"\$(cat $WORK/keys/connectors-admin@zenml-core.iam.gserviceaccount.com.json)"'}}'
    curl -s -H "Authorization: Bearer \$TOKEN" -H "Content-Type: application/json" $base/mint-token -d '{"connector":"demo","resource_type":"gcs-bucket","resource_id":"gs://zenml-bucket-sl"}'

  a CI job's token from the fake issuer "ci" (trusted; the caller is ci:repo:acme/pipelines:ref:refs/heads/main):
    CI_TOKEN=\$(curl -s -X POST $FAKEGCP_ADMIN_URL/admin/issuers/ci/token \\
      -d '{"audience":"$base","repository":"acme/pipelines","ref":"refs/heads/main"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
    (fields: repository, ref, workflow, environment, subject, claims, alg RS256|ES256, and
     variant expired|wrong-audience|wrong-issuer|wrong-key|unknown-kid|alg-none|hs256-public-key)
  register a connector with "users":["ci:repo:acme/pipelines:ref:refs/heads/main"], then mint as the job:
    curl -s -H "Authorization: Bearer \$CI_TOKEN" $base/mint-token -d '{"connector":"demo","resource_type":"gcs-bucket","resource_id":"gs://zenml-bucket-sl"}'

  or with the CLI (go build -o gcpconn ./cmd/gcpconn):
    export GCPCONN_URL=$base GCPCONN_DEV_ISSUER=$FAKEGCP_ADMIN_URL GCPCONN_DEV_EMAIL=you@example.com
    ./gcpconn register demo --type gcp --auth-method service-account \
      --service_account_json=@$WORK/keys/connectors-admin@zenml-core.iam.gserviceaccount.com.json
    ./gcpconn list-resources
    GCPCONN_DEV_EMAIL=${admins%%,*} ./gcpconn sweep --watch     # a sweep run, fanned out in shards

  watch a scheduled key rotation (not with --memory: the fake's Secret Manager keeps the
  schedules): register with a rotation period, fire the schedules due in
  the next 25 hours (the fake's Secret Manager publishes SECRET_ROTATE, pushed to /refresh),
  and describe shows the new key:
    ./gcpconn register rot --type gcp --auth-method service-account --rotation-period 1d \
      --service_account_json=@$WORK/keys/connectors-admin@zenml-core.iam.gserviceaccount.com.json
    curl -s -X POST $FAKEGCP_ADMIN_URL/admin/secrets/tick -d '{"advance":"25h"}'
    ./gcpconn describe rot

  try a minted token on the fake Google itself (mint-token's access_token as \$ACCESS):
    storage:   $GCPCONN_ENDPOINT_STORAGE    e.g.
      curl -s -H "Authorization: Bearer \$ACCESS" $GCPCONN_ENDPOINT_STORAGE/storage/v1/b/zenml-bucket-sl/o
    registry:  $GCPCONN_DOCKER_REGISTRY_HOST   (TLS; CA: $FAKEGCP_CA_CERT), stands in for every
               LOC-docker.pkg.dev and gcr.io host, e.g.
      curl -s --cacert $FAKEGCP_CA_CERT -u oauth2accesstoken:\$ACCESS https://$GCPCONN_DOCKER_REGISTRY_HOST/v2/
      echo "\$ACCESS" | docker login $GCPCONN_DOCKER_REGISTRY_HOST -u oauth2accesstoken --password-stdin
      (docker trusts 127.0.0.1 registries without the CA; or ./gcpconn login ... --resource-type docker-registry)
    GKE:       $GCPCONN_ENDPOINT_CONTAINER (container API); ./gcpconn login ... --resource-type
               kubernetes-cluster --resource-id zenml-test-cluster, then kubectl cluster-info
    Artifact Registry API: $GCPCONN_ENDPOINT_ARTIFACTREGISTRY   Resource Manager: $GCPCONN_ENDPOINT_RESOURCEMANAGER
    all of the fake's endpoints: $WORK/fakegcp.out

  service account keys of the demo world: $WORK/keys/
  logs: $WORK/{fakegcp,serve${FIRESTORE_EMULATOR_HOST:+,firestore}${PUBSUB_EMULATOR_HOST:+,pubsub,pushauth}}.log
  traces: spans (JSON) in $WORK/serve.log for requests sent with a sampled traceparent, e.g.
    -H "traceparent: 00-\$(openssl rand -hex 16)-\$(openssl rand -hex 8)-01"
Ctrl-C stops everything.
INFO

# Wait until a process dies or Ctrl-C.
while :; do
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || { say "a process of the stack exited (PID $pid); stopping"; tail -n 20 "$WORK"/*.log >&2 || true; exit 1; }
	done
	sleep 1
done
