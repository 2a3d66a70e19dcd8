output "base_url" {
  description = "Base URL of the service; every function is at BASE/<function-name> (gcpconn --url)."
  value       = local.base_url
}

output "audience" {
  description = "Audience callers mint Google ID tokens for (gcloud auth print-identity-token --audiences=...)."
  value       = local.audience
}

output "function_urls" {
  description = "URL of each function."
  value       = { for name, _ in local.functions : name => "${local.base_url}/${name}" }
}

output "runtime_service_account" {
  description = "Email of the runtime service account (grant it reader roles for implicit connectors, or Token Creator on impersonation targets)."
  value       = google_service_account.runtime.email
}

output "secret_topic" {
  description = "Topic Secret Manager notifies (GCPCONN_SECRET_TOPIC)."
  value       = google_pubsub_topic.topic["secret_events"].id
}

output "sweep_topic" {
  description = "Topic of sweep shards (GCPCONN_SWEEP_TOPIC), pushed to sweep-shard."
  value       = google_pubsub_topic.topic["sweep"].id
}

output "sweep_dead_letter_subscription" {
  description = "Subscription that keeps the sweep shards that failed every delivery (gcloud pubsub subscriptions pull)."
  value       = google_pubsub_subscription.sweep_dead_letter.id
}
