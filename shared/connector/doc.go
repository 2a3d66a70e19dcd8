// Package connector is the domain core of gcpconn: what a GCP service connector is, which rules
// it obeys, and the use cases that act on it. It imports no Google SDK, no YAML and no transport;
// adapters in shared/store and shared/gcp implement the ports it declares, and functions/
// exposes it over HTTP (rendering formats such as the kubeconfig there). Parsers of untrusted
// input live in their own packages: resource ids in shared/resourceid, credential JSON in
// shared/credjson.
//
// # Vocabulary
//
// A connector is a named, stored set of credentials for Google Cloud plus the resources they may
// be used for. Its connector type is always "gcp" (see [TypeGCP]).
//
// An auth method ([AuthMethod]) says how the stored credentials become tokens:
// [configschema.Implicit] (the service's own ambient credentials), [configschema.UserAccount]
// (a user's refresh token), [configschema.ServiceAccount] (a key JSON),
// [configschema.ExternalAccount] (workload identity federation), [configschema.OAuth2Token] (a
// token that is handed out as is until it expires) and [configschema.Impersonation] (IAM
// Credentials generateAccessToken on a target service account, from a key or keyless from the
// service's own identity). Package configschema holds each method's configuration schema.
//
// A resource type ([ResourceType]) names what a credential is for: [resourceid.GCPGeneric] (a
// project), [resourceid.GCSBucket], [resourceid.KubernetesCluster] (a GKE cluster) and
// [resourceid.DockerRegistry] (Artifact Registry or legacy GCR). Package resourcetype holds one
// record per type (its name, plural, scopes, list permission, the credential it hands out,
// whether its tokens are down-scoped), which the core reads instead of switching on types.
// A resource id names one instance of a resource type, in one of several accepted spellings that
// package resourceid ([resourceid.Parse]) reduces to a canonical form.
//
// A connector's shape follows from its resource type and id: a multi-type connector has no
// resource type and serves every type; a multi-instance connector has one type that supports
// instances and no id; a single-instance connector has a type and an id (or a type with no
// instances, such as gcp-generic).
//
// Configuration is split by the type spec ([Spec]): secret fields (key JSON, refresh tokens,
// access tokens) go to a [SecretStore] as [Secrets]; everything else is stored with the connector
// in a [Store]. Secret values never appear in errors, logs or descriptions.
//
// Minting turns a connector into a short-lived credential for one resource. Its lifetime is
// clamped to what the auth method allows, and every answer reports the requested and applied
// lifetime and why they differ ([Lifetime]).
//
// Down-scoping limits what a minted token can do to the one resource it was asked for. A
// gcs-bucket token carries a Credential Access Boundary ([Boundary]) naming its bucket, and
// optionally an object prefix and read-only access ([Downscope]); an unbounded token for a
// bucket is refused unless the connector also serves gcp-generic. Tokens for the other
// resource types are scoped by the OAuth scopes of their type; a kubernetes-cluster
// credential comes with the cluster's facts ([ClusterInfo]) and a docker-registry one with
// its registry host, which the edges turn into a kubeconfig or a docker login.
//
// A connector's status ([Status]) is what the last check found: verify, sweep and refresh
// record it, and a disabled status (its pinned secret version disabled or destroyed) stops
// minting. Status is not configuration: [Store.SetStatus] writes it without changing the
// connector's [Connector.Revision], which counts configuration changes and conditions
// updates, so a sweep running during a user's update never makes the update conflict.
//
// Key rotation replaces a service-account key every period; its state on the connector
// ([Connector].Rotation) is package rotation's ([rotation.State]), and its words (schedule,
// pending rotation, retired key, lost key, grace) are taught there. Each step is recorded
// on the connector before it happens (a write-ahead entry, [rotation.Pending]): a failed
// step releases the entry at once and records why (Rotation.LastError), a new key that does
// not work yet stays "verifying" until a later pass pins it, and what a failed or
// interrupted rotation created, the keys it replaced and the keys of deleted connectors
// ([KeyCleanup] records, kept by the [Store]) are deleted by sweep, each under its own
// account.
//
// Sweep, the rotation run and refresh (Secret Manager's events) are background work, in
// package upkeep (shared/upkeep) over this package's ports: the core keeps the rotation state
// on each connector and says which key a rotation replaces ([Service.RotationSource]), checks
// one connector ([Service.Check], [Service.VerifyVersion]), disables and re-enables it
// ([Service.Disable], [Service.Reenable]) and writes conditioned on what it read
// ([Service.UpdateConnector], [Service.UpdateStatus]); key rotation is available when a
// [Rotator] is set.
//
// Errors carry a [Kind] (see [ErrInvalid], [ErrNotFound], ...) that the HTTP edge maps to a
// status; [FieldErrorf] builds one that names the request field at fault and [FieldOf] reads
// it back.
//
// # Registration rules
//
// [NewConnector] and [Service.Update] enforce the type spec ([Spec]) and these rules:
//
//   - configuration holds exactly the fields of the auth method's schema (package
//     configschema holds each method's): an unknown field is an error naming it and listing
//     the accepted ones; a missing required field is an error; a JSON null or an empty
//     string counts as absent. Secret fields ("format": "password")
//     go to [Secrets], the rest to [Config].
//   - project_id is required for every method; service-account takes the key's project_id
//     when it is left out. It may differ from the key's project: a service account may be
//     granted access to other projects.
//   - *_json fields may be a JSON object or a string holding one; they are validated (see
//     Credential JSON below) and stored as compact JSON strings.
//   - generate_temporary_tokens defaults to true. It may be false only for user-account,
//     service-account and external-account (mint-token then hands out the stored credential
//     JSON); implicit and impersonation accept only true (they never hand out what they mint
//     from); oauth2-token has no such field (its token is handed out as is anyway).
//   - Implicit configurations (auth method implicit, impersonation without
//     service_account_json, and external-account configs with an ambient credential_source)
//     are refused with [ErrFailedPrecondition] unless [Policy].AllowImplicit, which the
//     deployment sets with GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true. Minting, verification
//     and sweep check the same (the policy check of implicit configurations), so disabling implicit methods stops
//     existing connectors too.
//   - Shape: resource_type (or resource_types with one element) makes a single-type
//     connector; several resource_types, or none, a multi-type one, which takes no
//     resource_id. A single type with instances and a resource_id is single-instance; without
//     one, multi-instance. gcp-generic has no instances: its resource id is always the
//     project. resource_id is stored canonical and must lie in the connector's project
//     ([resourceid.Canonical]). A bare cluster name stays bare until verification resolves
//     it: register and update (when they verify) then store the one location/name it
//     resolved to. At runtime verify and mint apply the shape: a single-instance connector
//     serves its own resource by default and refuses any other.
//   - expires_at is required for oauth2-token and refused for other methods. When it is set
//     it must be at least [MinTokenRemaining] (5 min) and at most 12 h
//     ahead; minting refuses a token with less than [MinTokenRemaining] left.
//   - expiration_seconds, the default lifetime of minted tokens in seconds (0 = the method's
//     default), must lie within the method's min/max_expiration_seconds; it is refused for
//     oauth2-token, and for methods whose lifetime Google fixes it may only be that lifetime.
//   - names: 1 to 63 lowercase letters, digits and hyphens, starting with a letter and
//     ending with a letter or digit (safe in URLs, labels and shell commands), and not 32
//     hexadecimal characters, the form of connector ids. labels: at most 64,
//     Kubernetes-style: a key is an optional DNS-subdomain prefix and "/" followed by a
//     name of 1 to 63 characters ([A-Za-z0-9], with "-", "_" and "." inside); a value is
//     empty or such a name. users:
//     email addresses, stored lowercase without duplicates, at most 100. description:
//     at most 1024 bytes of UTF-8 without control characters other than
//     newline and tab.
//
// # Lifetimes
//
// Lifetimes are in seconds on the wire and [time.Duration] in [Lifetime]. service-account and
// impersonation tokens last 10 min to [configschema.MaxLifetimeSeconds] (1 h);
// implicit, user-account and external-account tokens always last 1 h, because Google's
// token, refresh and STS endpoints issue them so; an oauth2-token lasts until its expires_at.
// A request outside the range is clamped, never refused, and [Credential].Lifetime says why.
//
// # Credential JSON
//
// Credential JSON is untrusted input, decoded only into the typed structs of package credjson
// (shared/credjson), whose documentation lists what is accepted and refused. [Secrets] loads
// them for the adapters that mint ([Secrets.ServiceAccountKey], ...); a refusal names the
// field configuration.FIELD.
package connector
