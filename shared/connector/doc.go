// Package connector is the domain core of gcpconn: what a GCP service connector is, which rules
// it obeys, and the use cases that act on it. It imports no Google SDK; adapters in shared/store
// and shared/gcp implement the ports it declares, and functions/ exposes it over HTTP.
//
// # Vocabulary
//
// A connector is a named, stored set of credentials for Google Cloud plus the resources they may
// be used for. Its connector type is always "gcp" (see [TypeGCP]).
//
// An auth method says how the stored credentials become tokens: [Implicit] (the service's own
// ambient credentials), [UserAccount] (a user's refresh token), [ServiceAccount] (a key JSON),
// [ExternalAccount] (workload identity federation), [OAuth2Token] (a token that is handed out as
// is until it expires) and [Impersonation] (IAM Credentials generateAccessToken on a target
// service account, from a key or keyless from the service's own identity).
//
// A resource type names what a credential is for: [GCPGeneric] (a project), [GCSBucket],
// [KubernetesCluster] (a GKE cluster) and [DockerRegistry] (Artifact Registry or legacy GCR).
// A resource id names one instance of a resource type, in one of several accepted spellings that
// [ParseResourceID] reduces to a canonical form.
//
// A connector's shape follows from its resource type and id: a multi-type connector has no
// resource type and serves every type; a multi-instance connector has one type that supports
// instances and no id; a single-instance connector has a type and an id (or a type with no
// instances, such as [GCPGeneric]).
//
// Configuration is split by the type spec ([Spec]): secret fields (key JSON, refresh tokens,
// access tokens) go to a [SecretStore] as [Secrets]; everything else is stored with the connector
// in a [Store]. Secret values never appear in errors, logs or descriptions.
//
// Minting turns a connector into a short-lived credential for one resource. Its lifetime is
// clamped to what the auth method allows, and every answer reports the requested and applied
// lifetime and why they differ ([Lifetime]).
//
// Errors carry a [Kind] (see [ErrInvalid], [ErrNotFound], ...) that the HTTP edge maps to a
// status; [FieldError] names the request field at fault.
package connector
