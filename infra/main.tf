# gcpconn on Cloud Functions (2nd gen): the functions built from the module root, one runtime
# service account, Firestore for metadata, Secret Manager for secret values, Cloud Scheduler for
# sweep and a Pub/Sub topic + Eventarc trigger for refresh. See README.md.

locals {
  base_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"
  audience = var.audience != "" ? var.audience : local.base_url

  # The deploy manifest (functions.json): the functions, their entry points, env, timeouts,
  # memory, concurrency, ingress and callers, and the defaults of the deploy settings. The same
  # file drives scripts/deploy.sh (and through it cloudbuild.yaml); see README.md.
  manifest = jsondecode(file("${path.module}/functions.json"))

  # The deploy settings: a variable that is set (not null) overrides the manifest's default.
  given = {
    go_runtime                   = var.go_runtime
    firestore_database           = var.firestore_database
    secret_topic_name            = var.secret_topic_name
    enable_implicit_auth_methods = var.enable_implicit_auth_methods == null ? null : tostring(var.enable_implicit_auth_methods)
    revocation_window            = var.revocation_window
    max_key_age                  = var.max_key_age
    rotation_identity            = var.rotation_identity
    trusted_issuers              = var.trusted_issuers
    federated_functions          = var.federated_functions == null ? null : join(",", var.federated_functions)
    allowed_callers              = var.allowed_callers == null ? null : join(",", var.allowed_callers)
    rate_limit                   = var.rate_limit == null ? null : tostring(var.rate_limit)
    public_ingress               = var.public_ingress
    internal_ingress             = var.internal_ingress
    memory                       = var.memory
    concurrency                  = var.concurrency
    max_instances                = var.max_instances
    request_timeout_seconds      = var.request_timeout_seconds
    sweep_timeout_seconds        = var.sweep_timeout_seconds
    shard_timeout_seconds        = var.shard_timeout_seconds
    shard_concurrency            = var.shard_concurrency
    sweep_topic_name             = var.sweep_topic_name
    sweep_dead_letter_topic_name = var.sweep_dead_letter_topic_name
    notification_channels        = var.notification_channels == null ? null : join(",", var.notification_channels)
    upstream_error_ratio         = var.upstream_error_ratio
    sweep_absence_seconds        = var.sweep_absence_seconds
    trace_sample                 = var.trace_sample
  }
  settings = merge(local.manifest.settings, { for k, v in local.given : k => v if v != null })

  # The service names every connector secret <prefix><connector-id> (shared/store); IAM on
  # secrets is scoped to this prefix.
  secret_prefix = local.manifest.secret_prefix

  # The manifest's functions with their settings: the key is the deployed name (and the URL
  # path), entry_point the name registered in entrypoints.go; ingress, timeout and concurrency
  # (default: the "concurrency" setting) name the setting that holds them.
  manifest_functions = {
    for name, f in local.manifest.functions : name => merge(f, {
      ingress     = local.settings[f.ingress]
      timeout     = local.settings[f.timeout]
      concurrency = local.settings[try(f.concurrency, "concurrency")]
    })
  }
  # Functions with an HTTP trigger and with a CloudEvent trigger (Eventarc on the secret topic).
  http_functions = { for name, f in local.manifest_functions : name => f if f.trigger == "http" }
  event_functions = {
    for name, f in local.manifest_functions : name => merge(f, { event_type = local.manifest.event_type }) if f.trigger == "secret_topic"
  }

  # Who may call each kind of function: "users" are var.invokers; the others are the services
  # that drive sweep and refresh.
  service_callers = {
    scheduler = "serviceAccount:${google_service_account.scheduler.email}"
    eventarc  = "serviceAccount:${google_service_account.events.email}"
  }

  # The values the manifest's env entries name ("setting"), besides the settings themselves.
  # The scheduler's account is an admin so that sweep accepts its calls; it can invoke nothing
  # but sweep.
  env_inputs = merge({ for k, v in local.settings : k => tostring(v) }, {
    project_id   = var.project_id
    audience     = local.audience
    admins       = join(",", concat(var.admins, [google_service_account.scheduler.email]))
    secret_topic = google_pubsub_topic.topic["secret_events"].id
    sweep_topic  = google_pubsub_topic.topic["sweep"].id
  })

  # The service's configuration, identical for every function; each function adds its own
  # timeout (timeout_env), which the service makes the deadline of its requests.
  env         = { for k, e in local.manifest.env : k => try(e.value, local.env_inputs[e.setting]) }
  timeout_env = local.manifest.timeout_env

  # The functions whose Cloud Run invoker IAM check is off so that federated callers reach
  # them (federated_functions), and whether the configuration allows it: trusted issuers, each
  # with bound claims, an allowlist of Google callers and a rate limit (the same rules as
  # `gcloudargs check`, which deploy.sh and Cloud Build run).
  federated_functions = compact([for n in split(",", local.settings.federated_functions) : trimspace(n)])
  trusted_issuers     = local.settings.trusted_issuers == "" ? [] : jsondecode(local.settings.trusted_issuers)
  federated_ok = length(local.trusted_issuers) > 0 && alltrue([
    for is in local.trusted_issuers : length(keys(try(is.bound_claims, {}))) > 0 && !try(is.allow_unbound, false)
  ]) && local.settings.allowed_callers != "" && local.settings.rate_limit != "" && local.settings.rate_limit != "0"

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
    "cloudtrace.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "sts.googleapis.com",
    "telemetry.googleapis.com",
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
  name                              = local.settings.firestore_database
  location_id                       = var.firestore_location != "" ? var.firestore_location : var.region
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # terraform destroy leaves the connector metadata in place.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.apis]
}
