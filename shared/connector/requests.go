package connector

import (
	"time"
)

// RegisterRequest asks to create a connector. It mirrors the body of POST /register.
type RegisterRequest struct {
	Name       string
	Type       string // "" means TypeGCP
	AuthMethod AuthMethod
	// ResourceType makes a single-type connector; ResourceTypes is the list spelling of the
	// same (one element) or a multi-type connector (several, or none: every type).
	ResourceType  ResourceType
	ResourceTypes []ResourceType
	ResourceID    string // any accepted spelling; stored canonical
	// Configuration holds the auth method's fields as decoded from JSON (strings, bools,
	// numbers, arrays, and objects for *_json fields, which may also be strings).
	Configuration     map[string]any
	Labels            map[string]string
	Description       string
	ExpiresAt         *time.Time // when the configured credentials expire (oauth2-token)
	ExpirationSeconds *int       // default lifetime of minted credentials
	Users             []string
	Verify            *bool // nil means true: verify before storing
	// RotationPeriod, when not zero, has gcpconn replace the connector's service-account key
	// this often (1 to 365 days; see rotate.go).
	RotationPeriod time.Duration
	// SubjectToken is used, never stored, to verify an external-account connector whose
	// tokens come from a subject token that callers supply.
	SubjectToken string
}

// UpdateRequest replaces parts of a connector. A nil field keeps the stored value; a
// non-nil Configuration replaces configuration and secrets together and is validated like
// a registration.
type UpdateRequest struct {
	Name              *string
	Description       *string
	Labels            map[string]string // nil keeps; empty map clears
	Users             []string          // nil keeps; empty slice clears
	AuthMethod        *AuthMethod
	ResourceType      *ResourceType // "" makes it multi-type
	ResourceTypes     []ResourceType
	ResourceID        *string // "" clears
	Configuration     map[string]any
	ExpiresAt         *time.Time
	ExpirationSeconds *int
	Verify            *bool // nil means true when configuration changes
	// RotationPeriod, when not nil, replaces the rotation period; 0 turns rotation off.
	RotationPeriod *time.Duration
	// SubjectToken is used, never stored, to verify an external-account connector whose
	// tokens come from a subject token that callers supply.
	SubjectToken string
}

// VerifyRequest asks what a stored connector (Ref: name or id) or a not yet stored one
// (Spec) can reach.
type VerifyRequest struct {
	Ref           string
	Spec          *RegisterRequest
	ResourceType  ResourceType // narrow to one type; "" means every type the connector serves
	ResourceID    string       // check just this id
	ListResources *bool        // nil means true
	// SubjectToken is the caller-supplied subject token for external-account connectors.
	SubjectToken string
}

// Resources is the outcome of a verification: one entry per resource type checked, and a
// global Error when the connector could not authenticate at all.
type Resources struct {
	Results []ResourceResult
	Error   string // "" when authentication worked
}

// ResourceResult lists what a connector reaches of one resource type, or why not.
type ResourceResult struct {
	ResourceType ResourceType
	ResourceIDs  []string // canonical ids; nil when not listed or on error
	Error        string   // "" on success; Google's denial text is passed through
	// Warning says what could not be checked although the resource was reached (a bucket
	// whose project could not be read); "" when everything was checked.
	Warning string
}

// MintRequest asks for a short-lived credential for one resource.
type MintRequest struct {
	Ref             string // connector name or id
	ResourceType    ResourceType
	ResourceID      string
	LifetimeSeconds int      // 0 means the connector's or method's default
	Scopes          []string // nil means the resource type's default scopes
	Downscope       *Downscope
	// SubjectToken is the caller-supplied subject token for external-account connectors
	// whose config expects one (server-side connectors never read files or URLs).
	SubjectToken string
}

// Downscope tunes the Credential Access Boundary of gcs-bucket tokens, which are down-scoped
// to their bucket by default.
type Downscope struct {
	Disabled bool   // mint an unbounded token (only if the connector allows it)
	Prefix   string // limit to objects under this prefix
	ReadOnly bool   // objectViewer instead of objectAdmin
}

// Credential is a minted credential for one resource.
type Credential struct {
	AccessToken  string
	TokenType    string // "Bearer"
	ExpiresAt    time.Time
	ProjectID    string
	ResourceType ResourceType
	ResourceID   string
	Lifetime     Lifetime
	Docker       *DockerCredential
	Kubernetes   *KubernetesCredential
	// CredentialsJSON is the stored credential JSON itself, set only for connectors with
	// generate_temporary_tokens=false whose method allows it.
	CredentialsJSON string
	Downscoped      bool // a Credential Access Boundary limits the token
	// Warning says what could not be checked (a bucket whose project could not be read).
	Warning  string
	CacheHit bool // served from the token cache (for audit logs)
	// AuthMethod is the connector's auth method (for audit logs and metrics).
	AuthMethod AuthMethod
}

// Lifetime reports the lifetime a caller asked for, the one applied, and why they differ.
type Lifetime struct {
	Requested time.Duration // 0 when the caller asked for the default
	Applied   time.Duration
	Reason    string // "" when Applied is what was requested
}

// DockerCredential is what `docker login` needs for an Artifact Registry or GCR host.
type DockerCredential struct {
	Registry string // host, e.g. europe-west1-docker.pkg.dev
	Username string // always "oauth2accesstoken"
	Password string // the access token
}

// KubernetesCredential is what kubectl needs for a GKE cluster: the cluster facts, from which
// the edge renders a kubeconfig whose user runs gcpconn as an exec plugin (functions/kubeconfig).
type KubernetesCredential struct {
	ConnectorRef         string // the connector's id (its name when it has none), which survives renames
	Cluster              string // canonical id: location/name
	Server               string // https URL of the control plane
	CertificateAuthority string // PEM; "" when the endpoint uses a publicly trusted cert
}
