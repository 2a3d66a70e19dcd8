# gcpconn on Cloud Functions (2nd gen): six functions built from the module root, one runtime
# service account, Firestore for metadata, Secret Manager for secret values, Cloud Scheduler for
# sweep and a Pub/Sub topic + Eventarc trigger for refresh. See README.md.

locals {
  base_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"
  audience = var.audience != "" ? var.audience : local.base_url

  # The service names every connector secret gcpconn-<connector-id> (shared/store); IAM on secrets
  # is scoped to this prefix.
  secret_prefix = "gcpconn-"

  # Functions with an HTTP trigger. The key is the deployed name (and the URL path), entry_point
  # the name registered in entrypoints.go.
  http_functions = {
    register = {
      caller      = "users"
      entry_point = "Register"
      ingress     = var.public_ingress
      timeout     = var.request_timeout_seconds
    }
    verify = {
      caller      = "users"
      entry_point = "Verify"
      ingress     = var.public_ingress
      timeout     = var.request_timeout_seconds
    }
    list = {
      caller      = "users"
      entry_point = "List"
      ingress     = var.public_ingress
      timeout     = var.request_timeout_seconds
    }
    "mint-token" = {
      caller      = "users"
      entry_point = "MintToken"
      ingress     = var.public_ingress
      timeout     = var.request_timeout_seconds
    }
    sweep = {
      caller      = "scheduler"
      entry_point = "Sweep"
      ingress     = var.internal_ingress
      timeout     = var.sweep_timeout_seconds
    }
  }

  # Functions with a CloudEvent trigger.
  event_functions = {
    refresh = {
      caller      = "eventarc"
      entry_point = "Refresh"
      ingress     = var.internal_ingress
      timeout     = var.request_timeout_seconds
      event_type  = "google.cloud.pubsub.topic.v1.messagePublished"
    }
  }

  # Who may call each kind of function: "users" are var.invokers; the others are the services
  # that drive sweep and refresh.
  service_callers = {
    scheduler = "serviceAccount:${google_service_account.scheduler.email}"
    eventarc  = "serviceAccount:${google_service_account.events.email}"
  }

  # The service's configuration, identical for every function. The scheduler's account is an
  # admin so that sweep accepts its calls; it can invoke nothing but sweep.
  env = {
    GCPCONN_PROJECT                      = var.project_id
    GCPCONN_STORE                        = "google"
    GCPCONN_FIRESTORE_DATABASE           = var.firestore_database
    GCPCONN_AUDIENCE                     = local.audience
    GCPCONN_ADMINS                       = join(",", concat(var.admins, [google_service_account.scheduler.email]))
    GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS = var.enable_implicit_auth_methods ? "true" : "false"
    GCPCONN_SECRET_TOPIC                 = google_pubsub_topic.secret_events.id
    GCPCONN_REVOCATION_WINDOW            = var.revocation_window
    GCPCONN_TRUSTED_ISSUERS              = var.trusted_issuers
  }

  # Mirrors .gcloudignore (infra/infratest checks that both upload the same Go packages).
  source_excludes = [
    ".git", # a file in worktrees, a directory in clones
    ".git/**",
    ".ci/**",
    "infra/**",
    "scripts/**",
    "**/*.md",
    ".gcloudignore",
    ".gitignore",
  ]

  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "sts.googleapis.com",
  ]
}

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "apis" {
  for_each = toset(local.apis)

  project = var.project_id
  service = each.value

  # Other workloads in the project may use these APIs too.
  disable_on_destroy = false
}

resource "google_firestore_database" "gcpconn" {
  count = var.create_firestore_database ? 1 : 0

  project                           = var.project_id
  name                              = var.firestore_database
  location_id                       = var.firestore_location != "" ? var.firestore_location : var.region
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # terraform destroy leaves the connector metadata in place.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.apis]
}
