#!/usr/bin/env bash
# scripts/deploy.sh: put gcpconn into a GCP project with gcloud, or show what that would do.
#
#   scripts/deploy.sh [options] PROJECT REGION
#   scripts/deploy.sh --dry-run demo-project europe-west1     print every command, call nothing
#
# It enables the APIs, creates (if absent) the service accounts, custom roles, Firestore database
# and indexes and the Secret Manager notification topic, grants exactly the roles listed in
# infra/README.md, deploys the seven functions from the repository root (Cloud Functions 2nd gen,
# --entry-point per function, never unauthenticated), adds the service audience to each
# function's Cloud Run service, and creates or updates the Cloud Scheduler job that calls sweep.
# Every step is idempotent: running it again converges on the same state and deploys the current
# source as a new revision. infra/ holds the same deployment as Terraform.
#
# The functions and their settings (entry points, env, timeouts, memory, concurrency, ingress,
# instances, defaults) come from infra/functions.json, the one deploy manifest that Terraform
# reads too; infra/manifest/gcloudargs (Go) turns it into the gcloud arguments, so this script
# needs Go (the version go.mod names) besides gcloud.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: scripts/deploy.sh [options] PROJECT REGION

Deploys gcpconn to PROJECT in REGION with gcloud (idempotent).

options:
  --dry-run                    print every command (shell-quoted) instead of running it;
                               needs neither gcloud nor credentials (Go only)
  --functions-only             deploy the functions and their audiences only (what
                               cloudbuild.yaml runs; the rest must exist: infra/ or a full run)
  --admins=EMAILS              comma-separated admin emails (GCPCONN_ADMINS)
  --invoker=MEMBER             IAM principal allowed to call register/verify/list/mint-token,
                               e.g. group:platform@example.com (repeatable)
  --impersonation-target=EMAIL service account that keyless impersonation may impersonate:
                               the runtime account gets Token Creator on it (repeatable)
  --implicit-role=PROJECT:ROLE role for the runtime account, for implicit connectors (repeatable)
  --enable-implicit[=BOOL]     GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true (or BOOL; default false)
  --trusted-issuers=JSON       trusted issuers of federated callers (GCPCONN_TRUSTED_ISSUERS; a JSON
                               array, see functions/README.md; default none; no ';')
  --federated-functions=LIST   functions whose Cloud Run invoker IAM check is turned off so that
                               federated callers reach them (comma-separated: register, verify, list,
                               mint-token, rotate); refused unless --trusted-issuers all have bound
                               claims and --allowed-callers and --rate-limit are set; default none
  --allowed-callers=LIST       Google callers allowed (GCPCONN_ALLOWED_CALLERS: emails, domain:DOMAIN;
                               admins always are; default: every Google caller with invoker rights)
  --rate-limit=N               requests per minute per principal on register and mint-token
                               (GCPCONN_RATE_LIMIT; default 120, 0 disables)
  --revocation-window=DURATION how long an instance serves a connector it read before reading it
                               again (GCPCONN_REVOCATION_WINDOW; default 30s, 0 to 5m, 0 disables)
  --max-key-age=AGE            sweep reports service-account keys older than AGE (GCPCONN_MAX_KEY_AGE;
                               days such as 90d or a Go duration, 1d to 3650d; default none)
  --rotation-identity=ID       who creates, lists and deletes keys when rotating (GCPCONN_ROTATION_IDENTITY):
                               connector (default: the connector's own key) or service (the runtime
                               service account, which needs roles/iam.serviceAccountKeyAdmin on the accounts)
  --database=ID                Firestore database (default "(default)")
  --firestore-location=LOC     Firestore location when it is created (default REGION)
  --runtime=ID                 Cloud Functions runtime (default go126)
  --topic=NAME                 Secret Manager notification topic (default gcpconn-secret-events)
  --schedule=CRON              sweep schedule (default "*/30 * * * *")
  --min-instances=N            min instances of mint-token (default 0)
  --max-instances=N            max instances of every function (default 10)
  --public-ingress=VALUE       ingress of register/verify/list/mint-token (default all)
  --internal-ingress=VALUE     ingress of sweep and refresh (default internal-only)
Defaults marked so come from infra/functions.json; an empty value means the default.
  -h, --help                   this help

Rollback, upgrade and the Terraform path: infra/README.md.
EOF
}

die() { printf 'scripts/deploy.sh: %s\n' "$*" >&2; exit 1; }

dry_run=false
functions_only=false
admins=""
invokers=()
imp_targets=()
implicit_roles=()
implicit=""
revocation_window=""
max_key_age=""
rotation_identity=""
trusted_issuers=""
federated_functions=""
allowed_callers=""
rate_limit=""
database=""
fs_location=""
runtime=""
topic_name=""
schedule="*/30 * * * *"
min_instances=""
max_instances=""
public_ingress=""
internal_ingress=""
args=()

while [ $# -gt 0 ]; do
	case "$1" in
	--dry-run) dry_run=true ;;
	--functions-only) functions_only=true ;;
	--public-ingress=*) public_ingress=${1#*=} ;;
	--internal-ingress=*) internal_ingress=${1#*=} ;;
	-h | --help) usage; exit 0 ;;
	--admins=*) admins=${1#*=} ;;
	--invoker=*) invokers+=("${1#*=}") ;;
	--impersonation-target=*) imp_targets+=("${1#*=}") ;;
	--implicit-role=*) implicit_roles+=("${1#*=}") ;;
	--enable-implicit) implicit=true ;;
	--enable-implicit=*) implicit=${1#*=} ;;
	--revocation-window=*) revocation_window=${1#*=} ;;
	--max-key-age=*) max_key_age=${1#*=} ;;
	--rotation-identity=*) rotation_identity=${1#*=} ;;
	--trusted-issuers=*) trusted_issuers=${1#*=} ;;
	--federated-functions=*) federated_functions=${1#*=} ;;
	--allowed-callers=*) allowed_callers=${1#*=} ;;
	--rate-limit=*) rate_limit=${1#*=} ;;
	--database=*) database=${1#*=} ;;
	--firestore-location=*) fs_location=${1#*=} ;;
	--runtime=*) runtime=${1#*=} ;;
	--topic=*) topic_name=${1#*=} ;;
	--schedule=*) schedule=${1#*=} ;;
	--min-instances=*) min_instances=${1#*=} ;;
	--max-instances=*) max_instances=${1#*=} ;;
	--) shift; args+=("$@"); break ;;
	-*) usage >&2; die "unknown option $1" ;;
	*) args+=("$1") ;;
	esac
	shift
done
[ ${#args[@]} -eq 2 ] || { usage >&2; die "want PROJECT and REGION, got ${#args[@]} arguments"; }
project=${args[0]}
region=${args[1]}
[[ $project =~ ^[a-z][a-z0-9:.-]{4,61}[a-z0-9]$ ]] || die "invalid project id: $project"
[[ $region =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die "invalid region: $region"
for m in "${invokers[@]}"; do
	case "$m" in
	allUsers | allAuthenticatedUsers) die "refusing --invoker=$m: gcpconn is never callable without naming the caller" ;;
	user:* | group:* | serviceAccount:* | domain:* | principal:* | principalSet:*) ;;
	*) die "--invoker wants an IAM principal such as group:team@example.com, got $m" ;;
	esac
done
for r in "${implicit_roles[@]}"; do
	[[ $r == *:roles/* || $r == *:projects/*/roles/* ]] || die "--implicit-role wants PROJECT:ROLE, got $r"
done
[[ $trusted_issuers != *";"* ]] || die "--trusted-issuers must not contain ';' (it separates the environment variables)"
[[ $allowed_callers != *";"* ]] || die "--allowed-callers must not contain ';' (it separates the environment variables)"
[[ -z $revocation_window || $revocation_window =~ ^([0-9]+(ms|s|m)?)+$ ]] || die "--revocation-window wants a duration such as 30s, got $revocation_window"
[[ -z $max_key_age || $max_key_age =~ ^[0-9]+d$|^([0-9]+(h|m|s))+$ ]] || die "--max-key-age wants days such as 90d (or hours such as 2160h), got $max_key_age"
[[ $rotation_identity =~ ^(connector|service|)$ ]] || die "--rotation-identity wants connector or service, got $rotation_identity"
[[ $implicit =~ ^(true|false|)$ ]] || die "--enable-implicit wants true or false, got $implicit"
[ -n "$fs_location" ] || fs_location=$region

cd "$(dirname "$0")/.."

# The manifest reader, built once (go run would rebuild it for every call).
# GCLOUDARGS=/path/to/gcloudargs uses one built already (the infra tests build it once).
gcloudargs=${GCLOUDARGS:-}
if [ -z "$gcloudargs" ]; then
	go=${GO:-go} # the go command; GO=/path/to/go when it is not on PATH (cloudbuild.yaml)
	command -v "$go" >/dev/null 2>&1 || die "go not found: scripts/deploy.sh reads infra/functions.json with a Go program (install Go, https://go.dev/dl, or set GO)"
	tools=$(mktemp -d)
	trap 'rm -rf "$tools"' EXIT
	gcloudargs=$tools/gcloudargs
	"$go" build -o "$gcloudargs" ./infra/manifest/gcloudargs || die "cannot build infra/manifest/gcloudargs"
fi
# The deploy settings given on the command line, by their Terraform variable names.
given=(-set=go_runtime="$runtime" -set=firestore_database="$database" -set=secret_topic_name="$topic_name"
	-set=enable_implicit_auth_methods="$implicit" -set=revocation_window="$revocation_window"
	-set=max_key_age="$max_key_age" -set=rotation_identity="$rotation_identity"
	-set=trusted_issuers="$trusted_issuers" -set=max_instances="$max_instances"
	-set=federated_functions="$federated_functions" -set=allowed_callers="$allowed_callers" -set=rate_limit="$rate_limit"
	-set=public_ingress="$public_ingress" -set=internal_ingress="$internal_ingress")
manifest() { "$gcloudargs" "${given[@]}" "$@"; }
database=$(manifest setting firestore_database)
topic_name=$(manifest setting secret_topic_name)
sweep_timeout=$(manifest setting sweep_timeout_seconds)
shard_timeout=$(manifest setting shard_timeout_seconds)
sweep_topic_name=$(manifest setting sweep_topic_name)
sweep_dlq_name=$(manifest setting sweep_dead_letter_topic_name)

# quote ARG: ARG as a shell word (unchanged when it needs no quoting).
quote() {
	if [[ $1 =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
		printf '%s' "$1"
	else
		printf "'%s'" "${1//\'/\'\\\'\'}"
	fi
}

# show CMD...: print CMD as one shell-quoted line.
show() {
	local out="" a
	for a in "$@"; do out+="$(quote "$a") "; done
	printf '%s\n' "${out% }"
}

# run CMD...: run CMD, or print it in --dry-run mode.
run() {
	if $dry_run; then show "$@"; return 0; fi
	printf '+ %s\n' "$(show "$@")" >&2
	"$@"
}

# ensure DESCRIBE... :: CREATE...: run CREATE unless DESCRIBE succeeds (describe-or-create).
ensure() {
	local describe=() create=()
	while [ "$1" != "::" ]; do describe+=("$1"); shift; done
	shift
	create=("$@")
	if $dry_run; then
		printf '%s >/dev/null 2>&1 || %s\n' "$(show "${describe[@]}")" "$(show "${create[@]}")"
		return 0
	fi
	if "${describe[@]}" >/dev/null 2>&1; then
		printf '= exists: %s\n' "$(show "${describe[@]}")" >&2
		return 0
	fi
	run "${create[@]}"
}

# run_tolerating_exists CMD...: run CMD; "already exists" counts as success (for creates that
# have no cheap describe, such as Firestore composite indexes).
run_tolerating_exists() {
	if $dry_run; then show "$@"; return 0; fi
	printf '+ %s\n' "$(show "$@")" >&2
	local out
	if out=$("$@" 2>&1); then printf '%s\n' "$out" >&2; return 0; fi
	if grep -qiE 'already exists|ALREADY_EXISTS' <<<"$out"; then
		printf '= exists: %s\n' "$(show "$@")" >&2
		return 0
	fi
	printf '%s\n' "$out" >&2
	return 1
}

base_url="https://${region}-${project}.cloudfunctions.net"
audience=$base_url
runtime_sa="gcpconn-runtime@${project}.iam.gserviceaccount.com"
scheduler_sa="gcpconn-scheduler@${project}.iam.gserviceaccount.com"
events_sa="gcpconn-events@${project}.iam.gserviceaccount.com"
topic="projects/${project}/topics/${topic_name}"
sweep_topic="projects/${project}/topics/${sweep_topic_name}"
secret_prefix=$(manifest secret-prefix)
P=(--project="$project")

# The functions' configuration, checked before anything is changed with the code the functions
# run at start (gcloudargs check): a configuration they would refuse, or federated_functions
# without what makes it safe, stops the deploy here, also in --dry-run.
admins_all=$scheduler_sa
case ",$admins," in
*",$scheduler_sa,"*) admins_all=$admins ;; # already listed (cloudbuild.yaml's default)
",,") ;;
*) admins_all="$admins,$scheduler_sa" ;;
esac
deploy_args=(-project="$project" -region="$region" -runtime-sa="$runtime_sa" -events-sa="$events_sa"
	-min-instances=mint-token="$min_instances" -set=project_id="$project" -set=audience="$audience"
	-set=admins="$admins_all" -set=secret_topic="$topic" -set=sweep_topic="$sweep_topic")
manifest "${deploy_args[@]}" check || die "refusing to deploy: the configuration above is wrong"

# --- preflight -----------------------------------------------------------------------------
if $dry_run; then
	printf '# gcpconn deploy plan for project %s, region %s (dry run: nothing was called)\n' "$project" "$region"
	project_number=PROJECT_NUMBER
	printf '# PROJECT_NUMBER below is the output of: %s\n' \
		"$(show gcloud projects describe "$project" --format=value\(projectNumber\))"
else
	command -v gcloud >/dev/null 2>&1 || die "gcloud not found: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)"
	account=$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null | head -n1)
	[ -n "$account" ] || die "gcloud is not authenticated: run gcloud auth login (or use a service account)"
	printf 'deploying gcpconn to %s (%s) as %s\n' "$project" "$region" "$account" >&2
	if $functions_only; then
		project_number=UNUSED # only the setup's bindings need it
	else
		project_number=$(gcloud projects describe "$project" --format='value(projectNumber)') ||
			die "cannot read project $project (does it exist, and may $account see it?)"
	fi
fi

sm_agent="service-${project_number}@gcp-sa-secretmanager.iam.gserviceaccount.com"
pubsub_agent="service-${project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

# setup: everything but the functions (skipped by --functions-only).
setup() {
# --- APIs ----------------------------------------------------------------------------------
run gcloud services enable \
	artifactregistry.googleapis.com cloudbuild.googleapis.com cloudfunctions.googleapis.com \
	cloudresourcemanager.googleapis.com cloudscheduler.googleapis.com eventarc.googleapis.com \
	firestore.googleapis.com iam.googleapis.com iamcredentials.googleapis.com \
	logging.googleapis.com pubsub.googleapis.com run.googleapis.com \
	secretmanager.googleapis.com storage.googleapis.com sts.googleapis.com "${P[@]}"

# --- identities ------------------------------------------------------------------------------
ensure gcloud iam service-accounts describe "$runtime_sa" "${P[@]}" :: \
	gcloud iam service-accounts create gcpconn-runtime "${P[@]}" --display-name="gcpconn functions (runtime)"
ensure gcloud iam service-accounts describe "$scheduler_sa" "${P[@]}" :: \
	gcloud iam service-accounts create gcpconn-scheduler "${P[@]}" --display-name="gcpconn sweep scheduler"
ensure gcloud iam service-accounts describe "$events_sa" "${P[@]}" :: \
	gcloud iam service-accounts create gcpconn-events "${P[@]}" --display-name="gcpconn Eventarc trigger"

# --- roles (each one is explained in infra/README.md) ----------------------------------------
creator_perms="secretmanager.secrets.create,secretmanager.secrets.list"
manager_perms="secretmanager.secrets.get,secretmanager.secrets.update,secretmanager.secrets.delete,secretmanager.versions.add,secretmanager.versions.access,secretmanager.versions.get,secretmanager.versions.list,secretmanager.versions.enable,secretmanager.versions.disable,secretmanager.versions.destroy"
ensure gcloud iam roles describe gcpconnSecretCreator "${P[@]}" :: \
	gcloud iam roles create gcpconnSecretCreator "${P[@]}" --title="gcpconn secret creator" --permissions="$creator_perms" --stage=GA
run gcloud iam roles update gcpconnSecretCreator "${P[@]}" --permissions="$creator_perms" --quiet
ensure gcloud iam roles describe gcpconnSecretManager "${P[@]}" :: \
	gcloud iam roles create gcpconnSecretManager "${P[@]}" --title="gcpconn secret manager" --permissions="$manager_perms" --stage=GA
run gcloud iam roles update gcpconnSecretManager "${P[@]}" --permissions="$manager_perms" --quiet

bind() { # bind MEMBER ROLE CONDITION
	run gcloud projects add-iam-policy-binding "$project" --member="$1" --role="$2" --condition="$3" --quiet
}
rt="serviceAccount:$runtime_sa"
bind "$rt" roles/datastore.user \
	"expression=resource.name == \"projects/${project}/databases/${database}\",title=gcpconn-database-only"
bind "$rt" roles/logging.logWriter None
bind "$rt" "projects/${project}/roles/gcpconnSecretCreator" None
bind "$rt" "projects/${project}/roles/gcpconnSecretManager" \
	"expression=resource.name.startsWith(\"projects/${project_number}/secrets/${secret_prefix}\") || resource.name.startsWith(\"projects/${project}/secrets/${secret_prefix}\"),title=gcpconn-connector-secrets-only"
bind "serviceAccount:$events_sa" roles/eventarc.eventReceiver None
for t in "${imp_targets[@]}"; do
	run gcloud iam service-accounts add-iam-policy-binding "$t" --member="$rt" \
		--role=roles/iam.serviceAccountTokenCreator --quiet
done
for r in "${implicit_roles[@]}"; do
	run gcloud projects add-iam-policy-binding "${r%%:*}" --member="$rt" --role="${r#*:}" --condition=None --quiet
done

# --- Firestore -------------------------------------------------------------------------------
ensure gcloud firestore databases describe --database="$database" "${P[@]}" :: \
	gcloud firestore databases create --database="$database" --location="$fs_location" \
	--type=firestore-native --delete-protection --enable-pitr "${P[@]}"
# Composite indexes for Store.List (filters + order by name), from infra/firestore.indexes.json
# (Terraform reads the same file); gcloudargs prints each index's flags on a line.
index_flags=$(manifest indexes) || die "cannot read infra/firestore.indexes.json"
while read -r -a flags; do
	run_tolerating_exists gcloud firestore indexes composite create "${flags[@]}" \
		--database="$database" "${P[@]}" --async
done <<<"$index_flags"
# Sweep runs and their shard records expire 30 days after they are written (expire_at).
for group in sweep_runs shards; do
	run gcloud firestore fields ttls update expire_at --collection-group="$group" --enable-ttl \
		--database="$database" "${P[@]}" --async --quiet
done

# --- Secret Manager notifications --------------------------------------------------------------
ensure gcloud pubsub topics describe "$topic_name" "${P[@]}" :: \
	gcloud pubsub topics create "$topic_name" "${P[@]}" --message-retention-duration=1d
run gcloud beta services identity create --service=secretmanager.googleapis.com "${P[@]}"
run gcloud pubsub topics add-iam-policy-binding "$topic_name" "${P[@]}" \
	--member="serviceAccount:$sm_agent" --role=roles/pubsub.publisher --quiet

# --- sweep fan-out: the shard topic (its push subscription is made once the worker exists), the
# dead-letter topic and the subscription that keeps its messages a week ----------------------------
ensure gcloud pubsub topics describe "$sweep_topic_name" "${P[@]}" :: \
	gcloud pubsub topics create "$sweep_topic_name" "${P[@]}" --message-retention-duration=1d
run gcloud pubsub topics add-iam-policy-binding "$sweep_topic_name" "${P[@]}" \
	--member="$rt" --role=roles/pubsub.publisher --quiet
ensure gcloud pubsub topics describe "$sweep_dlq_name" "${P[@]}" :: \
	gcloud pubsub topics create "$sweep_dlq_name" "${P[@]}"
run gcloud pubsub topics add-iam-policy-binding "$sweep_dlq_name" "${P[@]}" \
	--member="serviceAccount:$pubsub_agent" --role=roles/pubsub.publisher --quiet
ensure gcloud pubsub subscriptions describe "$sweep_dlq_name" "${P[@]}" :: \
	gcloud pubsub subscriptions create "$sweep_dlq_name" "${P[@]}" --topic="$sweep_dlq_name" \
	--message-retention-duration=7d --expiration-period=never

}
$functions_only || setup

# --- functions -------------------------------------------------------------------------------
names=$(manifest names)
federated=" $(manifest federated | tr '\n' ' ') "
for name in $names; do
	deploy=()
	while IFS= read -r -d '' w; do deploy+=("$w"); done < <(manifest "${deploy_args[@]}" deploy "$name")
	[ ${#deploy[@]} -gt 0 ] || die "infra/functions.json gives no deploy command for $name"
	run "${deploy[@]}"
	# Accept ID tokens minted for the service audience (the base URL), not only the function URL;
	# and set Cloud Run's invoker IAM check: off for federated_functions, on for the others.
	invoker_check=--invoker-iam-check
	[[ $federated == *" $name "* ]] && invoker_check=--no-invoker-iam-check
	run gcloud run services update "$name" "${P[@]}" --region="$region" --add-custom-audiences="$audience" "$invoker_check" --quiet
done
$functions_only && exit 0

# --- who may call what -------------------------------------------------------------------------
invoke() { # invoke FUNCTION MEMBER
	run gcloud run services add-iam-policy-binding "$1" "${P[@]}" --region="$region" \
		--member="$2" --role=roles/run.invoker --quiet
}
for name in $(manifest called-by users); do
	for m in "${invokers[@]}"; do invoke "$name" "$m"; done
done
if [ ${#invokers[@]} -eq 0 ]; then
	printf '# warning: no --invoker given, so nobody can call register, verify, list or mint-token yet;\n# grant roles/run.invoker later (see infra/README.md) or run again with --invoker=MEMBER\n' >&2
fi
for name in $(manifest called-by scheduler); do invoke "$name" "serviceAccount:$scheduler_sa"; done
for name in $(manifest called-by eventarc); do invoke "$name" "serviceAccount:$events_sa"; done

# --- sweep shards: pushed to the worker as the scheduler account (an admin that may invoke it);
# after 5 failed deliveries (the service's connector.MaxShardAttempts) to the dead-letter topic --
sub=("$sweep_topic_name" "${P[@]}" --push-endpoint="$base_url/sweep-shard"
	--push-auth-service-account="$scheduler_sa" --push-auth-token-audience="$audience"
	--ack-deadline="$shard_timeout" --dead-letter-topic="$sweep_dlq_name" --max-delivery-attempts=5
	--min-retry-delay=10s --max-retry-delay=600s)
ensure gcloud pubsub subscriptions describe "$sweep_topic_name" "${P[@]}" :: \
	gcloud pubsub subscriptions create "${sub[@]}" --topic="$sweep_topic_name" --expiration-period=never
run gcloud pubsub subscriptions update "${sub[@]}"
run gcloud pubsub subscriptions add-iam-policy-binding "$sweep_topic_name" "${P[@]}" \
	--member="serviceAccount:$pubsub_agent" --role=roles/pubsub.subscriber --quiet

# --- sweep schedule ----------------------------------------------------------------------------
job=(http gcpconn-sweep "${P[@]}" --location="$region" --schedule="$schedule" --time-zone=Etc/UTC
	--uri="$base_url/sweep" --http-method=POST --message-body='{}'
	--oidc-service-account-email="$scheduler_sa" --oidc-token-audience="$audience"
	--attempt-deadline="${sweep_timeout}s" --max-retry-attempts=1)
# create takes --headers, update --update-headers.
create_job=(gcloud scheduler jobs create "${job[@]}" --headers=Content-Type=application/json)
update_job=(gcloud scheduler jobs update "${job[@]}" --update-headers=Content-Type=application/json)
if $dry_run; then
	printf 'if %s >/dev/null 2>&1; then %s; else %s; fi\n' \
		"$(show gcloud scheduler jobs describe gcpconn-sweep "${P[@]}" --location="$region")" \
		"$(show "${update_job[@]}")" "$(show "${create_job[@]}")"
elif gcloud scheduler jobs describe gcpconn-sweep "${P[@]}" --location="$region" >/dev/null 2>&1; then
	run "${update_job[@]}"
else
	run "${create_job[@]}"
fi

if $dry_run; then
	printf '# base URL: %s\n# audience: %s\n' "$base_url" "$audience"
else
	printf 'gcpconn is deployed.\nbase URL: %s\naudience: %s\n' "$base_url" "$audience"
fi
