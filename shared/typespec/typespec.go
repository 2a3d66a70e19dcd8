// Package typespec is the shape of the type spec: what a connector type offers (its
// resource types, its auth methods and the JSON Schema of each method's configuration), as
// GET /list?types=true answers it. It is one definition for the core, which fills it
// (connector.Spec), and for the HTTP contract (functions/wire), which sends it; it depends on
// nothing.
package typespec

// TypeSpec describes a connector type: its resource types and its auth methods with the
// JSON Schema of each method's configuration. connector.Spec() builds the gcp type's; the
// rules connector.NewConnector enforces are the ones it states.
type TypeSpec struct {
	ConnectorType string             `json:"connector_type"` // always connector.TypeGCP
	Name          string             `json:"name"`           // human name
	Description   string             `json:"description"`    // what the type is for
	ResourceTypes []ResourceTypeSpec `json:"resource_types"` // in the order of resourceid.Types
	AuthMethods   []AuthMethodSpec   `json:"auth_methods"`   // in the order of configschema.Methods
}

// ResourceTypeSpec describes one resource type.
type ResourceTypeSpec struct {
	ResourceType string `json:"resource_type"` // the type's id, e.g. gcs-bucket
	Name         string `json:"name"`          // human name, e.g. "GCS bucket"
	Description  string `json:"description"`   // what a credential for the type gives
	// SupportsInstances is true when the type has many resources, each named by a resource
	// id (buckets, clusters, registries); false when a connector reaches exactly one resource
	// of the type (gcp-generic: the configured project).
	SupportsInstances bool `json:"supports_instances"`
	// IDFormats lists the accepted spellings of a resource id, canonical form first; empty
	// for types whose id is implied.
	IDFormats   []string `json:"id_formats,omitempty"`
	AuthMethods []string `json:"auth_methods"` // every auth method serves every type
}

// AuthMethodSpec describes one auth method.
type AuthMethodSpec struct {
	AuthMethod  string `json:"auth_method"` // the method's id, e.g. service-account
	Name        string `json:"name"`        // human name, e.g. "GCP service account"
	Description string `json:"description"` // how the method mints tokens, and its caveats
	// ConfigSchema is the JSON Schema (draft 2020-12) of the method's configuration object.
	// Secret fields carry "format": "password" and "writeOnly": true; they are stored in the
	// secret store and never returned. Unknown properties are refused
	// ("additionalProperties": false).
	ConfigSchema map[string]any `json:"config_schema"`
	// MinExpirationSeconds, DefaultExpirationSeconds and MaxExpirationSeconds bound the
	// lifetime of minted tokens, in seconds. Nil means the method has no such setting: the
	// lifetime of an oauth2-token is that of the stored token (see RequiresExpiresAt). When
	// min equals max the lifetime is fixed by Google and cannot be chosen.
	MinExpirationSeconds     *int `json:"min_expiration_seconds,omitempty"`
	DefaultExpirationSeconds *int `json:"default_expiration_seconds,omitempty"`
	MaxExpirationSeconds     *int `json:"max_expiration_seconds,omitempty"`
	// RequiresExpiresAt is true when a connector must say when its credentials expire
	// (expires_at): oauth2-token.
	RequiresExpiresAt bool `json:"requires_expires_at,omitempty"`
	// Implicit is "always" when the method uses the service's own ambient credentials,
	// "keyless" or "ambient-source" when some configurations of it do, and "" otherwise.
	// Such configurations are refused unless the deployment enables implicit auth methods
	// (GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true).
	Implicit string `json:"implicit,omitempty"`
}
