# What calls gcpconn besides its users: Secret Manager notifications (via Pub/Sub and Eventarc)
# drive refresh, and Cloud Scheduler drives sweep.

# The service creates each connector secret with this topic in its `topics`, so Secret Manager
# publishes every change to it (GCPCONN_SECRET_TOPIC).
resource "google_pubsub_topic" "secret_events" {
  project                    = var.project_id
  name                       = local.settings.secret_topic_name
  labels                     = var.labels
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis]
}

# Secret Manager publishes as its service agent, which must exist before it can be granted a
# role (it is created on first use otherwise).
resource "google_project_service_identity" "secretmanager" {
  provider = google-beta

  project = var.project_id
  service = "secretmanager.googleapis.com"
}

resource "google_pubsub_topic_iam_member" "secretmanager_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.secret_events.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_project_service_identity.secretmanager.email}"
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
