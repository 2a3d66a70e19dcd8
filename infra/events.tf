# What calls gcpconn besides its users: Secret Manager notifications (via Pub/Sub and Eventarc)
# drive refresh, Cloud Scheduler drives sweep (the planner), and the sweep topic's push
# subscription drives sweep-shard (the worker).

locals {
  # The topics, by role (name, and how long a message is kept without a subscription):
  # - secret_events: the service creates each connector secret with this topic in its
  #   `topics`, so Secret Manager publishes every change to it (GCPCONN_SECRET_TOPIC);
  # - sweep: the sweep planner publishes each shard of a run (a bounded list of connector ids)
  #   here (GCPCONN_SWEEP_TOPIC); the push subscription delivers each to sweep-shard, at least
  #   once;
  # - sweep_dead_letter: shards delivered max_delivery_attempts times without success end
  #   here, and in the run record (the worker records the shard failed at its last attempt).
  topics = {
    secret_events     = { name = local.settings.secret_topic_name, retention = "86400s" }
    sweep             = { name = local.settings.sweep_topic_name, retention = "86400s" }
    sweep_dead_letter = { name = local.settings.sweep_dead_letter_topic_name, retention = null }
  }
}

resource "google_pubsub_topic" "topic" {
  for_each = local.topics

  project                    = var.project_id
  name                       = each.value.name
  labels                     = var.labels
  message_retention_duration = each.value.retention

  depends_on = [google_project_service.apis]
}

# The topics were a resource each: existing states move without recreating them.
moved {
  from = google_pubsub_topic.secret_events
  to   = google_pubsub_topic.topic["secret_events"]
}

moved {
  from = google_pubsub_topic.sweep
  to   = google_pubsub_topic.topic["sweep"]
}

moved {
  from = google_pubsub_topic.sweep_dead_letter
  to   = google_pubsub_topic.topic["sweep_dead_letter"]
}

# Secret Manager publishes as its service agent, which must exist before it can be granted a
# role (it is created on first use otherwise).
resource "google_project_service_identity" "secretmanager" {
  provider = google-beta

  project = var.project_id
  service = "secretmanager.googleapis.com"
}

# Sweep re-verifies every connector. The scheduler calls the function's cloudfunctions.net URL
# with an OIDC token for the service audience, as the scheduler account.
resource "google_cloud_scheduler_job" "sweep" {
  project          = var.project_id
  region           = var.region
  name             = "gcpconn-sweep"
  description      = "Re-verify every gcpconn connector and record its status."
  schedule         = var.sweep_schedule
  time_zone        = var.sweep_time_zone
  attempt_deadline = "${local.settings.sweep_timeout_seconds}s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = "${local.base_url}/sweep"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.audience
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.invoker]
}

# Keeps the dead letters for a week, for an operator to read (a topic alone keeps nothing).
resource "google_pubsub_subscription" "sweep_dead_letter" {
  project                    = var.project_id
  name                       = local.settings.sweep_dead_letter_topic_name
  topic                      = google_pubsub_topic.topic["sweep_dead_letter"].id
  labels                     = var.labels
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# Pushes every shard to the worker with an OIDC token of the scheduler account (an admin, and
# an invoker of sweep-shard) for the service audience. The ack deadline is the worker's
# timeout: a shard not answered by then is delivered again, backing off, and after
# max_delivery_attempts (the service's connector.MaxShardAttempts) goes to the dead-letter topic.
resource "google_pubsub_subscription" "sweep" {
  project              = var.project_id
  name                 = local.settings.sweep_topic_name
  topic                = google_pubsub_topic.topic["sweep"].id
  labels               = var.labels
  ack_deadline_seconds = local.settings.shard_timeout_seconds

  push_config {
    push_endpoint = "${local.base_url}/sweep-shard"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.audience
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic["sweep_dead_letter"].id
    max_delivery_attempts = 5
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service_iam_member.invoker]
}
