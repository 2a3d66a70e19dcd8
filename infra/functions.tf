# The functions. Each is built from the module root (the upload is the repository minus
# .gcloudignore) with --entry-point set to the name entrypoints.go registers.

# The source upload: the whole module, minus what .gcloudignore drops. The object name carries
# the content hash, so a code change redeploys every function and nothing else does.
data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/.."
  output_path = "${path.module}/.terraform/gcpconn-source.zip"
  excludes    = local.source_excludes
}

resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${var.project_id}-gcpconn-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = var.labels

  # Old uploads are only needed to rebuild old revisions; keep a month of them.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_object" "source" {
  name   = "gcpconn-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

# Every function of the manifest: HTTP-triggered ones, and the CloudEvent one(s) with an
# Eventarc trigger on the secret topic (local.event_functions).
resource "google_cloudfunctions2_function" "function" {
  for_each = merge(local.http_functions, local.event_functions)

  project     = var.project_id
  location    = var.region
  name        = each.key
  description = "gcpconn ${each.key}"
  labels      = var.labels

  build_config {
    runtime         = local.settings.go_runtime
    entry_point     = each.value.entry_point
    service_account = var.build_service_account != "" ? var.build_service_account : null

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.runtime.email
    environment_variables            = merge(local.env, { (local.timeout_env) = tostring(each.value.timeout) })
    ingress_settings                 = each.value.ingress
    min_instance_count               = lookup(var.min_instances, each.key, local.settings.min_instances)
    max_instance_count               = local.settings.max_instances
    timeout_seconds                  = each.value.timeout
    available_memory                 = local.settings.memory
    available_cpu                    = tostring(local.settings.cpu)
    max_instance_request_concurrency = each.value.concurrency
    all_traffic_on_latest_revision   = true
  }

  # The Eventarc trigger of an event function: every Secret Manager notification on the topic
  # becomes a CloudEvent, delivered with an OIDC token of the events account. Failed
  # deliveries are retried.
  dynamic "event_trigger" {
    for_each = contains(keys(local.event_functions), each.key) ? [each.value] : []
    content {
      trigger_region        = var.region
      event_type            = event_trigger.value.event_type
      pubsub_topic          = google_pubsub_topic.topic["secret_events"].id
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.events.email
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.runtime_firestore,
    google_project_iam_member.runtime_secret_manager,
    google_project_iam_member.events_receiver,
    google_pubsub_topic_iam_member.publisher,
  ]
}

# The functions were two resources (http and event) before they were one: existing states
# move without redeploying.
moved {
  from = google_cloudfunctions2_function.http
  to   = google_cloudfunctions2_function.function
}

moved {
  from = google_cloudfunctions2_function.event["refresh"]
  to   = google_cloudfunctions2_function.function["refresh"]
}

locals {
  # Every deployed function (name => resource), for IAM and audiences.
  functions = google_cloudfunctions2_function.function

  # One entry per (function, principal) pair that may invoke it. Keys are known at plan time
  # (function name and caller kind or principal), values may be computed.
  invoker_grants = merge(
    {
      for pair in setproduct([for name, f in local.http_functions : name if f.caller == "users"], var.invokers) :
      "${pair[0]} ${pair[1]}" => { function = pair[0], member = pair[1] }
    },
    {
      for name, f in merge(local.http_functions, local.event_functions) :
      "${name} ${f.caller}" => { function = name, member = local.service_callers[f.caller] } if f.caller != "users"
    },
  )
}

# roles/run.invoker on each function's Cloud Run service, for exactly the principals in
# local.invoker_grants. No function is open to allUsers or allAuthenticatedUsers.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.invoker_grants

  project  = var.project_id
  location = var.region
  name     = local.functions[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# Cloud Run accepts ID tokens minted for a function's own URL; callers of gcpconn mint one token
# for the whole service (GCPCONN_AUDIENCE, the base URL), so each Cloud Run service is told to
# accept that audience too. The provider has no attribute for it on functions, hence gcloud;
# re-run whenever the function changes.
resource "terraform_data" "custom_audience" {
  for_each = var.set_custom_audience ? local.functions : {}

  triggers_replace = [each.value.update_time, local.audience]

  provisioner "local-exec" {
    command = "gcloud run services update ${each.key} --project=${var.project_id} --region=${var.region} --add-custom-audiences=${local.audience} --quiet"
  }
}

# Cloud Run's invoker IAM check admits only Google identities holding roles/run.invoker, so
# federated callers reach only the functions where it is off (federated_functions). The
# provider has no attribute for it on functions, hence gcloud; every function gets the
# check set explicitly (off for federated_functions, on for the others), so that a redeploy
# or a change of the setting converges. Refused unless the configuration may run that way.
resource "terraform_data" "invoker_iam_check" {
  for_each = var.set_custom_audience || length(local.federated_functions) > 0 ? local.functions : {}

  triggers_replace = [each.value.update_time, contains(local.federated_functions, each.key)]

  lifecycle {
    precondition {
      condition     = length(local.federated_functions) == 0 || local.federated_ok
      error_message = "federated_functions needs trusted_issuers, each with bound_claims (no allow_unbound), allowed_callers and a rate_limit above 0: with the invoker check off the application is the only gate."
    }
  }

  provisioner "local-exec" {
    command = "gcloud run services update ${each.key} --project=${var.project_id} --region=${var.region} ${contains(local.federated_functions, each.key) ? "--no-invoker-iam-check" : "--invoker-iam-check"} --quiet"
  }
}
