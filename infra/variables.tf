variable "project_id" {
  description = "GCP project that runs gcpconn: its functions, Firestore database, connector secrets and the Secret Manager notification topic."
  type        = string
}

variable "region" {
  description = "Region of the functions, the scheduler job and the Eventarc trigger. The base URL is https://REGION-PROJECT.cloudfunctions.net."
  type        = string
  default     = "europe-west1"
}

variable "go_runtime" {
  description = "Cloud Functions runtime id. The module is Go 1.26, so go126; change it only together with the go directive in go.mod. Unset (null), it is settings.go_runtime in functions.json."
  type        = string
  default     = null
}

variable "firestore_database" {
  description = "Firestore database id that holds connector metadata (GCPCONN_FIRESTORE_DATABASE). Unset (null), it is settings.firestore_database in functions.json."
  type        = string
  default     = null
}

variable "create_firestore_database" {
  description = "Create the Firestore database. Set to false when the project already has it (for example an existing (default) database); the indexes are created either way."
  type        = bool
  default     = true
}

variable "firestore_location" {
  description = "Firestore location id (a region such as europe-west1, or a multi-region such as eur3). Empty means the function region."
  type        = string
  default     = ""
}

variable "audience" {
  description = "Audience that callers mint Google ID tokens for (GCPCONN_AUDIENCE). Empty means the base URL https://REGION-PROJECT.cloudfunctions.net, which is added to every function's Cloud Run service as a custom audience."
  type        = string
  default     = ""
}

variable "set_custom_audience" {
  description = "Add the audience to each function's Cloud Run service as a custom audience (runs gcloud run services update after each function change, so gcloud must be on the machine running terraform). Without it Cloud Run only accepts tokens minted for each function's own URL."
  type        = bool
  default     = true
}

variable "admins" {
  description = "Emails of gcpconn administrators (GCPCONN_ADMINS). Admins see, update and delete every connector."
  type        = list(string)
  default     = []
}

variable "invokers" {
  description = "IAM principals (user:, group:, serviceAccount:, domain:) given roles/run.invoker on register, verify, list and mint-token. Nobody else can reach them; allUsers and allAuthenticatedUsers are refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.invokers : !contains(["allUsers", "allAuthenticatedUsers"], m)])
    error_message = "gcpconn never allows unauthenticated or any-Google-account invocation; name the principals."
  }
}

variable "enable_implicit_auth_methods" {
  description = "Allow connectors that use the service's own identity (implicit, keyless impersonation, ambient external-account). Off by default: such connectors act with the runtime service account's roles (GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS). Unset (null), it is settings.enable_implicit_auth_methods in functions.json."
  type        = bool
  default     = null
}

variable "max_key_age" {
  description = "Sweep reports connectors whose service-account key is older than this (GCPCONN_MAX_KEY_AGE): days such as 90d or a Go duration such as 2160h, 1d to 3650d; \"\" reports none. Unset (null), it is settings.max_key_age in functions.json."
  type        = string
  default     = null
  validation {
    condition     = var.max_key_age == null || can(regex("^$|^[0-9]+d$|^([0-9]+(h|m|s))+$", var.max_key_age))
    error_message = "max_key_age is an age such as 90d or 2160h (1d to 3650d), or \"\"."
  }
}

variable "rotation_identity" {
  description = "Who creates, lists and deletes service-account keys when gcpconn rotates a connector's key (GCPCONN_ROTATION_IDENTITY): connector (the connector's own key; its account needs roles/iam.serviceAccountKeyAdmin on itself) or service (the runtime service account; it needs roles/iam.serviceAccountKeyAdmin on each rotating connector's account). Unset (null), it is settings.rotation_identity in functions.json."
  type        = string
  default     = null
  validation {
    condition     = var.rotation_identity == null || can(regex("^(connector|service)$", var.rotation_identity))
    error_message = "rotation_identity is connector or service."
  }
}

variable "revocation_window" {
  description = "The revocation window (GCPCONN_REVOCATION_WINDOW): how long an instance serves a connector it read before reading Firestore again. Removing a user, deleting or disabling a connector takes effect everywhere within it. A Go duration from 0s to 5m; 0s reads Firestore on every request. Unset (null), it is settings.revocation_window in functions.json."
  type        = string
  default     = null
  validation {
    condition     = var.revocation_window == null || can(regex("^([0-9]+(ms|s|m))+$|^0$", var.revocation_window))
    error_message = "revocation_window is a duration such as 30s or 1m (at most 5m)."
  }
}

variable "impersonation_targets" {
  description = "Emails of service accounts that keyless impersonation connectors may impersonate. The runtime service account gets roles/iam.serviceAccountTokenCreator on each of them and on nothing else."
  type        = list(string)
  default     = []
}

variable "implicit_project_roles" {
  description = "Roles granted to the runtime service account for implicit connectors, as {project, role} pairs (e.g. roles/storage.objectViewer on a data project). None by default: the runtime account reads no customer resource unless you say so here."
  type = list(object({
    project = string
    role    = string
  }))
  default = []
}

variable "secret_topic_name" {
  description = "Pub/Sub topic that Secret Manager notifies on every change to a connector secret (GCPCONN_SECRET_TOPIC); the refresh function is triggered from it. Unset (null), it is settings.secret_topic_name in functions.json."
  type        = string
  default     = null
}

variable "sweep_schedule" {
  description = "Cron schedule (unix-cron format) of the Cloud Scheduler job that calls the sweep function."
  type        = string
  default     = "*/30 * * * *"
}

variable "sweep_time_zone" {
  description = "Time zone of sweep_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "public_ingress" {
  description = "Ingress of the caller-facing functions (register, verify, list, mint-token): ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB. IAM still applies in every case. Unset (null), it is settings.public_ingress in functions.json."
  type        = string
  default     = null
}

variable "internal_ingress" {
  description = "Ingress of sweep and refresh, which only Cloud Scheduler and Eventarc call (both count as internal traffic in the same project). Unset (null), it is settings.internal_ingress in functions.json."
  type        = string
  default     = null
}

variable "memory" {
  description = "Memory of each function instance. Unset (null), it is settings.memory in functions.json."
  type        = string
  default     = null
}

variable "concurrency" {
  description = "Requests one instance serves at once (needs 1 CPU, which is set). Unset (null), it is settings.concurrency in functions.json."
  type        = number
  default     = null
}

variable "min_instances" {
  description = "Minimum instances per function name (missing names get 0). Set mint-token to 1 to avoid cold starts on the hot path."
  type        = map(number)
  default     = {}
}

variable "max_instances" {
  description = "Maximum instances of each function; bounds cost and the load gcpconn can put on Google's token endpoints. Unset (null), it is settings.max_instances in functions.json."
  type        = number
  default     = null
}

variable "request_timeout_seconds" {
  description = "Timeout of register, verify, list, mint-token and refresh. Unset (null), it is settings.request_timeout_seconds in functions.json."
  type        = number
  default     = null
}

variable "sweep_timeout_seconds" {
  description = "Timeout of sweep (which re-verifies every connector); also the scheduler's attempt deadline, so at most 1800. Unset (null), it is settings.sweep_timeout_seconds in functions.json."
  type        = number
  default     = null
}

variable "shard_timeout_seconds" {
  description = "Timeout of sweep-shard, the sweep worker (one shard of at most 500 connectors per request); also the sweep subscription's ack deadline, so at most 600. Unset (null), it is settings.shard_timeout_seconds in functions.json."
  type        = number
  default     = null
}

variable "shard_concurrency" {
  description = "Shards one sweep-shard instance works on at once; with max_instances and GCPCONN_SWEEP_CONCURRENCY it bounds a sweep run's checks in flight (1 x 10 x 32 = 320 by default). Unset (null), it is settings.shard_concurrency in functions.json."
  type        = number
  default     = null
}

variable "sweep_topic_name" {
  description = "Pub/Sub topic the sweep planner publishes shards to (GCPCONN_SWEEP_TOPIC); its push subscription delivers them to sweep-shard. Unset (null), it is settings.sweep_topic_name in functions.json."
  type        = string
  default     = null
}

variable "sweep_dead_letter_topic_name" {
  description = "Pub/Sub topic that receives sweep shards delivered 5 times without success (kept 7 days by its subscription). Unset (null), it is settings.sweep_dead_letter_topic_name in functions.json."
  type        = string
  default     = null
}

variable "build_service_account" {
  description = "Full resource name (projects/P/serviceAccounts/EMAIL) of the service account Cloud Build uses to build the functions. Empty means the project default."
  type        = string
  default     = ""
}

variable "ci_deployer" {
  description = "IAM principal of the CI/CD identity that runs cloudbuild.yaml (e.g. serviceAccount:PROJECT_NUMBER@cloudbuild.gserviceaccount.com). It gets roles/cloudfunctions.developer and roles/run.developer on the project and roles/iam.serviceAccountUser on the runtime service account only. Empty grants nothing."
  type        = string
  default     = ""
}

variable "grant_pubsub_token_creator" {
  description = "Give the Pub/Sub service agent roles/iam.serviceAccountTokenCreator on the Eventarc trigger account and on the scheduler account (which signs the sweep subscription's pushes). Only projects created before 8 April 2021 need it."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels put on every resource that takes labels."
  type        = map(string)
  default     = { app = "gcpconn" }
}

variable "trusted_issuers" {
  description = "Trusted issuers of federated callers (GCPCONN_TRUSTED_ISSUERS): a JSON array of {name, issuer, audiences, jwks_url?, subject_claim?, bound_claims?, max_token_age?} (see functions/README.md). Every issuer needs bound_claims unless allow_unbound is true. Their callers are NAME:SUBJECT principals. Empty means Google callers only. Federated callers carry no Google identity, so they reach only the functions listed in federated_functions (see infra/README.md). Unset (null), it is settings.trusted_issuers in functions.json."
  type        = string
  default     = null
  validation {
    condition     = var.trusted_issuers == null || var.trusted_issuers == "" || (can(tolist(jsondecode(var.trusted_issuers))) && !can(regex(";", var.trusted_issuers)))
    error_message = "trusted_issuers is a JSON array of issuer objects (see functions/README.md), without ';'."
  }
}

variable "federated_functions" {
  description = "Functions whose Cloud Run invoker IAM check is turned off so that federated callers (trusted_issuers) reach them: any of register, verify, list, mint-token, rotate (register only if federated callers may register). Refused unless trusted_issuers are set, each with bound_claims, and allowed_callers and rate_limit are set: with the check off the application is the only gate. Unset (null), it is settings.federated_functions in functions.json (none)."
  type        = list(string)
  default     = null
  validation {
    condition     = var.federated_functions == null || alltrue([for n in coalesce(var.federated_functions, []) : contains(["register", "verify", "list", "mint-token", "rotate"], n)])
    error_message = "federated_functions lists functions that callers use: register, verify, list, mint-token, rotate."
  }
}

variable "allowed_callers" {
  description = "Google callers allowed to call gcpconn (GCPCONN_ALLOWED_CALLERS): emails and domain:DOMAIN entries; admins always are. Required with federated_functions, where any Google account could otherwise present a valid token. Unset (null), it is settings.allowed_callers in functions.json (no allowlist)."
  type        = list(string)
  default     = null
}

variable "rate_limit" {
  description = "Requests per minute per principal on register and mint-token (GCPCONN_RATE_LIMIT); 0 disables. Unset (null), it is settings.rate_limit in functions.json (120)."
  type        = number
  default     = null
  validation {
    condition     = var.rate_limit == null || (coalesce(var.rate_limit, 0) >= 0 && coalesce(var.rate_limit, 0) <= 100000)
    error_message = "rate_limit is a number of requests per minute from 0 to 100000."
  }
}
