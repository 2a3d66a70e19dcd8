# Identities and the roles they hold. Every grant is listed here with the reason it exists;
# nothing else is granted. "Runtime" is the identity the functions run as.

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "gcpconn-runtime"
  display_name = "gcpconn functions (runtime)"
  description  = "Identity of the gcpconn functions: reads/writes connector metadata in Firestore and connector secrets in Secret Manager."
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "gcpconn-scheduler"
  display_name = "gcpconn sweep scheduler"
  description  = "Identity in the OIDC token Cloud Scheduler sends to the sweep function. Can invoke sweep and nothing else."
}

resource "google_service_account" "events" {
  project      = var.project_id
  account_id   = "gcpconn-events"
  display_name = "gcpconn Eventarc trigger"
  description  = "Identity Eventarc uses to deliver Secret Manager notifications to the refresh function."
}

# Runtime: Firestore read/write (connector metadata), limited by an IAM condition to the gcpconn
# database so that other databases in the project stay out of reach.
resource "google_project_iam_member" "runtime_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.runtime.email}"

  condition {
    title       = "gcpconn-database-only"
    description = "Only the gcpconn Firestore database."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${local.settings.firestore_database}\""
  }
}

# Runtime: structured logs to Cloud Logging.
resource "google_project_iam_member" "runtime_logging" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

# Secret Manager. The service creates one secret per connector at run time
# (gcpconn-<connector-id>), so the grant cannot be made on each secret ahead of time: it is made
# on the project, with an IAM condition on the secret name prefix. Two custom roles keep it tight:
#
# - gcpconnSecretCreator (unconditional): secrets.create and secrets.list are checked on the
#   project itself, where a secret-name condition can never match. Listing shows names and
#   labels, never payloads; sweep uses it to find orphaned secrets.
# - gcpconnSecretManager (conditional on the prefix): everything the service does to its own
#   secrets and their versions. Unlike roles/secretmanager.admin it cannot change IAM policies,
#   so the runtime account cannot hand a secret to anyone else.
resource "google_project_iam_custom_role" "secret_creator" {
  project     = var.project_id
  role_id     = "gcpconnSecretCreator"
  title       = "gcpconn secret creator"
  description = "Create secrets and list secret metadata (checked at project level)."
  permissions = [
    "secretmanager.secrets.create",
    "secretmanager.secrets.list",
  ]
}

resource "google_project_iam_custom_role" "secret_manager" {
  project     = var.project_id
  role_id     = "gcpconnSecretManager"
  title       = "gcpconn secret manager"
  description = "Read, version and delete gcpconn connector secrets; no IAM changes."
  permissions = [
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.secrets.delete",
    "secretmanager.versions.add",
    "secretmanager.versions.access",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
    "secretmanager.versions.enable",
    "secretmanager.versions.disable",
    "secretmanager.versions.destroy",
  ]
}

resource "google_project_iam_member" "runtime_secret_creator" {
  project = var.project_id
  role    = google_project_iam_custom_role.secret_creator.id
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

resource "google_project_iam_member" "runtime_secret_manager" {
  project = var.project_id
  role    = google_project_iam_custom_role.secret_manager.id
  member  = "serviceAccount:${google_service_account.runtime.email}"

  # Secret Manager names secrets by project number in IAM conditions; the project-id form is
  # accepted too so the condition does not depend on which one a caller used.
  condition {
    title       = "gcpconn-connector-secrets-only"
    description = "Only secrets named ${local.secret_prefix}<connector-id> (and their versions)."
    expression  = "resource.name.startsWith(\"projects/${data.google_project.this.number}/secrets/${local.secret_prefix}\") || resource.name.startsWith(\"projects/${var.project_id}/secrets/${local.secret_prefix}\")"
  }
}

# Runtime: keyless impersonation. Token Creator on exactly the listed service accounts, never on
# the project (which would let the service impersonate every account in it).
resource "google_service_account_iam_member" "runtime_impersonates" {
  for_each = toset(var.impersonation_targets)

  service_account_id = "projects/-/serviceAccounts/${each.value}"
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.runtime.email}"
}

# Runtime: what implicit connectors may read. Nothing unless listed.
resource "google_project_iam_member" "runtime_implicit" {
  for_each = { for g in var.implicit_project_roles : "${g.project}/${g.role}" => g }

  project = each.value.project
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

# Eventarc: the trigger account receives events (project-level role, required by Eventarc) and
# invokes refresh (granted on that service only, in functions.tf).
resource "google_project_iam_member" "events_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.events.email}"
}

# Pub/Sub's service agent signs the push token for the trigger account; only projects created
# before 8 April 2021 need this grant.
resource "google_project_service_identity" "pubsub" {
  count    = var.grant_pubsub_token_creator ? 1 : 0
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"
}

resource "google_service_account_iam_member" "pubsub_signs_for_events" {
  count = var.grant_pubsub_token_creator ? 1 : 0

  service_account_id = google_service_account.events.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_project_service_identity.pubsub[0].email}"
}

resource "google_service_account_iam_member" "pubsub_signs_for_scheduler" {
  count = var.grant_pubsub_token_creator ? 1 : 0

  service_account_id = google_service_account.scheduler.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_project_service_identity.pubsub[0].email}"
}

# Who publishes to which topic (events.tf): Secret Manager's service agent its notifications
# to the secret topic; for the sweep fan-out, the planner (runtime account) shards to the
# sweep topic, and Pub/Sub's service agent a shard that keeps failing to the dead-letter
# topic (which also needs it to acknowledge on the sweep subscription, below).
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = {
    secretmanager_publishes  = { topic = "secret_events", member = "serviceAccount:${google_project_service_identity.secretmanager.email}" }
    runtime_publishes_shards = { topic = "sweep", member = "serviceAccount:${google_service_account.runtime.email}" }
    pubsub_dead_letters      = { topic = "sweep_dead_letter", member = local.pubsub_agent }
  }

  project = var.project_id
  topic   = google_pubsub_topic.topic[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = each.value.member
}

# The publishers were a resource each: existing states move without recreating the grants.
moved {
  from = google_pubsub_topic_iam_member.secretmanager_publishes
  to   = google_pubsub_topic_iam_member.publisher["secretmanager_publishes"]
}

moved {
  from = google_pubsub_topic_iam_member.runtime_publishes_shards
  to   = google_pubsub_topic_iam_member.publisher["runtime_publishes_shards"]
}

moved {
  from = google_pubsub_topic_iam_member.pubsub_dead_letters
  to   = google_pubsub_topic_iam_member.publisher["pubsub_dead_letters"]
}

resource "google_pubsub_subscription_iam_member" "pubsub_forwards_dead_letters" {
  project      = var.project_id
  subscription = google_pubsub_subscription.sweep.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# CI/CD (cloudbuild.yaml): deploy functions, set custom audiences, and act as the runtime account
# while deploying; nothing more.
resource "google_project_iam_member" "ci_functions" {
  for_each = toset(var.ci_deployer != "" ? ["roles/cloudfunctions.developer", "roles/run.developer"] : [])

  project = var.project_id
  role    = each.value
  member  = var.ci_deployer
}

resource "google_service_account_iam_member" "ci_acts_as_runtime" {
  count = var.ci_deployer != "" ? 1 : 0

  service_account_id = google_service_account.runtime.name
  role               = "roles/iam.serviceAccountUser"
  member             = var.ci_deployer
}
