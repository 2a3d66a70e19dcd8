# What an operator watches, from the service's own logs: log-based metrics over the structured
# lines the functions write (the mint audit entry and the "event" lines of
# functions/httpapi/oplog.go and shared/upkeep/oplog.go), alert policies over them, and one
# dashboard. Nothing is exported by hand: Cloud Logging counts the lines.
#
# The filters name log fields (jsonPayload.X). infra/infratest's TestLogContract parses them
# out of this file and checks that the code really writes each field with the type the filter
# expects, so a renamed field fails a test instead of silencing an alert.
#
# Notification channels are a deploy setting (settings.notification_channels in
# functions.json, or var.notification_channels): full resource names
# projects/P/notificationChannels/ID. With none, the alerts still open incidents in the
# console.

locals {
  # Every log line of the functions (Cloud Functions 2nd gen run as Cloud Run services named
  # after the functions).
  log_scope = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(${join(" OR ", [for name in sort(keys(local.manifest.functions)) : "\"${name}\""])})"

  notification_channels = compact(split(",", local.settings.notification_channels))

  # The log-based metrics: name => filter (after log_scope), labels (label => extractor) and
  # description. Counters (DELTA, INT64) of matching lines.
  log_metrics = {
    mints = {
      description = "Mints (one audit entry each) by outcome (granted, refused, cancelled), the connector's auth method (granted mints) and the error code (refused ones)."
      filter      = "jsonPayload.audit=\"mint\""
      labels = {
        outcome     = "EXTRACT(jsonPayload.outcome)"
        auth_method = "EXTRACT(jsonPayload.auth_method)"
        code        = "EXTRACT(jsonPayload.code)"
      }
    }
    upstream_errors = {
      description = "Requests answered with an upstream error, by Google API (iamcredentials, sts, storage, ...), error code and function."
      filter      = "jsonPayload.event=\"upstream_error\""
      labels = {
        api         = "EXTRACT(jsonPayload.api)"
        code        = "EXTRACT(jsonPayload.code)"
        entry_point = "EXTRACT(jsonPayload.entry_point)"
      }
    }
    sweep_runs = {
      description = "Sweep runs by outcome (ok, or failed when connectors could not be listed)."
      filter      = "jsonPayload.event=\"sweep_run\""
      labels = {
        outcome = "EXTRACT(jsonPayload.outcome)"
      }
    }
    sweep_results = {
      description = "Connectors checked by sweep, by result (ok, failed, inconclusive, skipped, not_checked) and auth method."
      filter      = "jsonPayload.event=\"sweep_result\""
      labels = {
        result      = "EXTRACT(jsonPayload.result)"
        auth_method = "EXTRACT(jsonPayload.auth_method)"
      }
    }
    newly_failing = {
      description = "Connectors whose sweep check failed after a check that did not."
      filter      = "jsonPayload.event=\"sweep_result\" AND jsonPayload.newly_failing=true"
      labels      = {}
    }
    rotations = {
      description = "Key rotations by outcome (rotated, failed, overdue)."
      filter      = "jsonPayload.event=\"rotation\""
      labels = {
        outcome = "EXTRACT(jsonPayload.outcome)"
      }
    }
    old_keys = {
      description = "Service-account keys sweep found older than GCPCONN_MAX_KEY_AGE (one per key per sweep)."
      filter      = "jsonPayload.event=\"old_key\""
      labels      = {}
    }
    auth_failures = {
      description = "Callers not authenticated, by the issuer their token claims (google, a trusted issuer's name, none, malformed, untrusted) and function."
      filter      = "jsonPayload.event=\"auth_failure\""
      labels = {
        issuer      = "EXTRACT(jsonPayload.issuer)"
        entry_point = "EXTRACT(jsonPayload.entry_point)"
      }
    }
  }

  # The Cloud Monitoring metric type of each log-based metric.
  metric_types = { for name, _ in local.log_metrics : name => "logging.googleapis.com/user/gcpconn/${name}" }

  # The same metrics in PromQL (Cloud Monitoring's spelling of logging.googleapis.com/user/X).
  promql_metrics = { for name, _ in local.log_metrics : name => "logging_googleapis_com:user_gcpconn_${name}" }
}

resource "google_logging_metric" "gcpconn" {
  for_each = local.log_metrics

  project     = var.project_id
  name        = "gcpconn/${each.key}"
  description = each.value.description
  filter      = "${local.log_scope} AND ${each.value.filter}"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "gcpconn ${replace(each.key, "_", " ")}"

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }

  label_extractors = each.value.labels

  depends_on = [google_project_service.apis]
}

# A sweep that failed (connectors could not be listed, or a shard failed for good), or no sweep for sweep_absence_seconds
# (the scheduler job, its service account or the function is broken).
resource "google_monitoring_alert_policy" "sweep" {
  project               = var.project_id
  display_name          = "gcpconn: sweep failed or did not run"
  combiner              = "OR"
  notification_channels = local.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "a sweep run failed"
    condition_threshold {
      filter          = "metric.type=\"${local.metric_types.sweep_runs}\" AND resource.type=\"cloud_run_revision\" AND metric.label.outcome=\"failed\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "no sweep run"
    condition_absent {
      filter   = "metric.type=\"${local.metric_types.sweep_runs}\" AND resource.type=\"cloud_run_revision\""
      duration = "${local.settings.sweep_absence_seconds}s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Sweep re-verifies every connector, runs overdue key rotations and removes orphan secrets. A failed run could not cover every connector (Firestore unavailable or denied, or a shard that failed every delivery: see GET /sweep and the dead-letter topic); no run means Cloud Scheduler did not call the sweep function or it failed before logging. See README \"Operating gcpconn\"."
  }

  depends_on = [google_logging_metric.gcpconn]
}

# The log-match alerts: each matching line opens an incident that names the connector (its
# labels are extracted from the line), notified at most once an hour per policy.
locals {
  log_alerts = {
    # A connector whose sweep check failed after a check that did not.
    connector_failing = {
      display_name = "gcpconn: connector newly failing"
      condition    = "a connector's check failed"
      filter       = "jsonPayload.event=\"sweep_result\" AND jsonPayload.newly_failing=true"
      labels = {
        connector = "EXTRACT(jsonPayload.connector)"
        state     = "EXTRACT(jsonPayload.state)"
      }
      content = "Connector $${log.extracted_label.connector} is now $${log.extracted_label.state}. `gcpconn status` lists the failing connectors and why; `gcpconn describe NAME` shows its status. See README \"Operating gcpconn\"."
    }
    # A key rotation that failed (the previous key stays pinned) or that sweep found overdue.
    rotation = {
      display_name = "gcpconn: key rotation failed or overdue"
      condition    = "a rotation failed or is overdue"
      filter       = "jsonPayload.event=\"rotation\" AND jsonPayload.outcome!=\"rotated\""
      labels = {
        connector = "EXTRACT(jsonPayload.connector)"
        outcome   = "EXTRACT(jsonPayload.outcome)"
      }
      content = "The key rotation of connector $${log.extracted_label.connector} is $${log.extracted_label.outcome}. The previous key stays pinned and works; `gcpconn describe NAME` says why the rotation failed. See README \"Operating gcpconn\"."
    }
  }
}

resource "google_monitoring_alert_policy" "log_match" {
  for_each = local.log_alerts

  project               = var.project_id
  display_name          = each.value.display_name
  combiner              = "OR"
  notification_channels = local.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = each.value.condition
    condition_matched_log {
      filter           = "${local.log_scope} AND ${each.value.filter}"
      label_extractors = each.value.labels
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "3600s"
    }
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = each.value.content
  }

  depends_on = [google_project_service.apis]
}

# Upstream errors (Google refused or failed; not "does not exist") over all requests of the
# functions, above settings.upstream_error_ratio for 10 minutes.
resource "google_monitoring_alert_policy" "upstream_errors" {
  project               = var.project_id
  display_name          = "gcpconn: upstream error ratio"
  combiner              = "OR"
  notification_channels = local.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "upstream errors above ${local.settings.upstream_error_ratio} of requests"
    condition_prometheus_query_language {
      query               = "sum(rate(${local.promql_metrics.upstream_errors}{monitored_resource=\"cloud_run_revision\",code!=\"upstream_not_found\"}[10m])) / sum(rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\",service_name=~\"${join("|", sort(keys(local.manifest.functions)))}\"}[10m])) > ${local.settings.upstream_error_ratio}"
      duration            = "600s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "More than ${local.settings.upstream_error_ratio * 100}% of requests end with an upstream error: Google refuses or fails the calls gcpconn makes. The upstream errors chart of the gcpconn dashboard shows which API. See README \"Operating gcpconn\"."
  }

  depends_on = [google_logging_metric.gcpconn]
}

# The fleet on one page: one chart per log-based metric, split by its labels.
resource "google_monitoring_dashboard" "gcpconn" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "gcpconn"
    mosaicLayout = {
      columns = 12
      tiles = [for i, c in local.dashboard_charts : {
        xPos   = (i % 2) * 6
        yPos   = floor(i / 2) * 4
        width  = 6
        height = 4
        widget = {
          title = c.title
          xyChart = {
            chartOptions = { mode = "COLOR" }
            dataSets = [{
              plotType = "STACKED_BAR"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = "metric.type=\"${local.metric_types[c.metric]}\" AND resource.type=\"cloud_run_revision\""
                  aggregation = {
                    alignmentPeriod    = "300s"
                    perSeriesAligner   = "ALIGN_SUM"
                    crossSeriesReducer = "REDUCE_SUM"
                    groupByFields      = [for l in c.group_by : "metric.label.${l}"]
                  }
                }
              }
            }]
          }
        }
      }]
    }
  })

  depends_on = [google_logging_metric.gcpconn]
}

locals {
  dashboard_charts = [
    { title = "Mints by outcome", metric = "mints", group_by = ["outcome"] },
    { title = "Granted mints by auth method", metric = "mints", group_by = ["auth_method"] },
    { title = "Upstream errors by Google API", metric = "upstream_errors", group_by = ["api", "code"] },
    { title = "Authentication failures by issuer", metric = "auth_failures", group_by = ["issuer"] },
    { title = "Sweep results", metric = "sweep_results", group_by = ["result"] },
    { title = "Sweep runs", metric = "sweep_runs", group_by = ["outcome"] },
    { title = "Connectors newly failing", metric = "newly_failing", group_by = [] },
    { title = "Key rotations by outcome", metric = "rotations", group_by = ["outcome"] },
    { title = "Keys past GCPCONN_MAX_KEY_AGE", metric = "old_keys", group_by = [] },
  ]
}

# Traces: the functions export their spans to Cloud Trace over OTLP (telemetry.googleapis.com;
# GCPCONN_TRACE_SAMPLE, functions/internal/tracing).
resource "google_project_iam_member" "runtime_trace" {
  project = var.project_id
  role    = "roles/cloudtrace.agent"
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

# The two log-match alert policies were resources of their own before they became one
# resource over local.log_alerts: these blocks move existing deployments' policies in the
# state instead of replacing them.
moved {
  from = google_monitoring_alert_policy.connector_failing
  to   = google_monitoring_alert_policy.log_match["connector_failing"]
}

moved {
  from = google_monitoring_alert_policy.rotation
  to   = google_monitoring_alert_policy.log_match["rotation"]
}
