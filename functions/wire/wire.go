// Package wire is gcpconn's HTTP contract in Go: the JSON bodies the functions read and answer,
// defined once for the server (functions/httpapi) and the client (functions/client, the CLI).
// Each type is named after the schema of functions/openapi.yaml that documents it, and
// functions/httpapi/openapi_test.go keeps the two in step.
//
// # Vocabulary
//
//   - A request body ([RegisterRequest], [UpdateRequest], [VerifyRequest], [MintRequest],
//     [RotateRequest], [SweepRequest]) is decoded strictly by the server: an unknown field, a
//     duplicate key or a value of the wrong JSON type is a 400 naming the field. Absent
//     fields take their default; in an [UpdateRequest] an absent (null) field keeps the stored
//     value.
//   - A [Connector] describes a stored connector. It never holds a secret value: Secrets names
//     the secret fields that are set, and Secret says where their values live
//     ([SecretLocation]).
//   - [Resources] is what a verification reached, per resource type ([ResourceResult]).
//   - A [Credential] is a minted token for one resource, with the [Lifetime] asked for and
//     applied, and the extras of a registry ([DockerCredential]) or a GKE cluster
//     ([KubernetesCredential]).
//   - [TypeSpec] describes the connector type: its resource types and auth methods, each auth
//     method's configuration schema and token lifetimes (GET /list?types=true).
//   - A [SweepReport] is a sweep run: its shards and the counts of its connectors.
//   - Every error answer is an [Error]: a stable code (not_found, invalid_argument, ...), a
//     message safe to show, and the field at fault when there is one.
//
// The JSON is snake_case, and the types are separate from the core's (shared/connector) so
// that the core can change without changing the contract. Times are RFC 3339 in UTC;
// durations are whole seconds (fields ending in _seconds) or, for rotation periods, "30d"
// or a Go duration.
package wire

import (
	"time"

	"github.com/gcpconn/gcpconn/shared/typespec"
)

// RegisterRequest is the body of POST /register, and the spec of POST /verify.
type RegisterRequest struct {
	Name              string            `json:"name"`
	Type              string            `json:"type,omitempty"`
	AuthMethod        string            `json:"auth_method"`
	ResourceType      string            `json:"resource_type,omitempty"`
	ResourceTypes     []string          `json:"resource_types,omitempty"`
	ResourceID        string            `json:"resource_id,omitempty"`
	Configuration     map[string]any    `json:"configuration,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Description       string            `json:"description,omitempty"`
	ExpiresAt         *time.Time        `json:"expires_at,omitempty"`
	ExpirationSeconds *int              `json:"expiration_seconds,omitempty"`
	Users             []string          `json:"users,omitempty"`
	Verify            *bool             `json:"verify,omitempty"`
	// SubjectToken verifies an external-account connector that authenticates with callers'
	// subject tokens; it is used and never stored.
	SubjectToken string `json:"subject_token,omitempty"`
	// RotationPeriod opts a connector holding a service-account key into key rotation:
	// "30d" or a Go duration ("720h"), 1d to 365d; "" or absent for none.
	RotationPeriod string `json:"rotation_period,omitempty"`
}

// UpdateRequest is the body of PUT /register?connector=REF. An absent field keeps the stored
// value; labels {} and users [] clear them; a configuration replaces config and secrets
// together.
type UpdateRequest struct {
	Name              *string           `json:"name,omitempty"`
	Description       *string           `json:"description,omitempty"`
	Labels            map[string]string `json:"labels"` // null keeps; {} clears
	Users             []string          `json:"users"`  // null keeps; [] clears
	AuthMethod        *string           `json:"auth_method,omitempty"`
	ResourceType      *string           `json:"resource_type,omitempty"`
	ResourceTypes     []string          `json:"resource_types"` // null keeps
	ResourceID        *string           `json:"resource_id,omitempty"`
	Configuration     map[string]any    `json:"configuration,omitempty"`
	ExpiresAt         *time.Time        `json:"expires_at,omitempty"`
	ExpirationSeconds *int              `json:"expiration_seconds,omitempty"`
	Verify            *bool             `json:"verify,omitempty"`
	SubjectToken      string            `json:"subject_token,omitempty"` // see RegisterRequest
	// RotationPeriod, when present, replaces the rotation period; "" turns rotation off.
	RotationPeriod *string `json:"rotation_period,omitempty"`
}

// RegisterResponse answers POST /register (201) and PUT /register (200, no resources).
type RegisterResponse struct {
	Connector Connector  `json:"connector"`
	Resources *Resources `json:"resources,omitempty"`
}

// Connector describes a stored connector. It never holds a secret value: Secrets names the
// secret fields that are set.
type Connector struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Type              string            `json:"type"`
	AuthMethod        string            `json:"auth_method"`
	ResourceTypes     []string          `json:"resource_types"`
	ResourceID        string            `json:"resource_id"`
	SupportsInstances bool              `json:"supports_instances"`
	Configuration     map[string]any    `json:"configuration"`
	Secrets           []string          `json:"secrets"`
	Secret            *SecretLocation   `json:"secret,omitempty"`
	Labels            map[string]string `json:"labels"`
	Description       string            `json:"description"`
	Owner             string            `json:"owner"`
	Users             []string          `json:"users"`
	ExpiresAt         *time.Time        `json:"expires_at,omitempty"`
	ExpirationSeconds int               `json:"expiration_seconds,omitempty"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	Status            Status            `json:"status"`
	// Rotation is present when the connector rotates its key (or did: a retired key waits).
	Rotation *Rotation `json:"rotation,omitempty"`
}

// Rotation is a connector's key rotation: the pinned key's id (never its material), when it
// was created or stored, the period and the next rotation.
type Rotation struct {
	Period         string     `json:"period,omitempty"`
	KeyID          string     `json:"key_id,omitempty"`
	KeyCreatedAt   *time.Time `json:"key_created_at,omitempty"`
	NextRotationAt *time.Time `json:"next_rotation_at,omitempty"`
	Generation     int64      `json:"generation,omitempty"`
	InProgress     bool       `json:"in_progress,omitempty"`
	State          string     `json:"state,omitempty"` // creating or verifying, while in progress
	RetiredKeys    int        `json:"retired_keys,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
}

// RotateRequest is the body of POST /rotate.
type RotateRequest struct {
	Connector string `json:"connector"`
}

// RotateResponse answers POST /rotate: the pinned key's id (never its material), whether this
// call pinned a new key (false: another rotation in flight will), and the connector.
type RotateResponse struct {
	Rotated   bool      `json:"rotated"`
	KeyID     string    `json:"key_id"`
	Connector Connector `json:"connector"`
}

// SecretLocation says where a connector's secret values live: the secret store's name for
// the secret (a Secret Manager resource name) and the version the connector pins. It never
// holds a value.
type SecretLocation struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Status is a connector's last check.
type Status struct {
	State       string     `json:"state"` // "", ok, partial, error, disabled
	CheckedAt   *time.Time `json:"checked_at,omitempty"`
	Error       string     `json:"error,omitempty"`
	RotationDue bool       `json:"rotation_due,omitempty"`
	// FailingResourceTypes are the resource types the last check could not reach.
	FailingResourceTypes []string `json:"failing_resource_types,omitempty"`
	// Inconclusive says why the last check could not be made (state is still the last
	// verdict); absent when the last check was conclusive.
	Inconclusive   string     `json:"inconclusive,omitempty"`
	InconclusiveAt *time.Time `json:"inconclusive_at,omitempty"`
}

// VerifyRequest is the body of POST /verify: a stored connector (by name or id) or a spec.
type VerifyRequest struct {
	Connector     string           `json:"connector,omitempty"`
	Spec          *RegisterRequest `json:"spec,omitempty"`
	ResourceType  string           `json:"resource_type,omitempty"`
	ResourceID    string           `json:"resource_id,omitempty"`
	ListResources *bool            `json:"list_resources,omitempty"`
	SubjectToken  string           `json:"subject_token,omitempty"`
}

// Resources is the outcome of a verification: per resource type the ids reached, or why
// not; Error is set when the connector could not authenticate at all.
type Resources struct {
	Resources []ResourceResult `json:"resources"`
	Error     string           `json:"error,omitempty"`
}

// HasErrors reports whether the verification failed globally or for any resource type.
func (r *Resources) HasErrors() bool {
	if r == nil {
		return false
	}
	if r.Error != "" {
		return true
	}
	for _, res := range r.Resources {
		if res.Error != "" {
			return true
		}
	}
	return false
}

// ResourceResult lists what a connector reaches of one resource type.
type ResourceResult struct {
	ResourceType string   `json:"resource_type"`
	ResourceIDs  []string `json:"resource_ids"`
	Error        string   `json:"error,omitempty"`
	Warning      string   `json:"warning,omitempty"`
}

// ListResponse answers GET /list with filters.
type ListResponse struct {
	Connectors    []Connector `json:"connectors"`
	NextPageToken string      `json:"next_page_token,omitempty"`
}

// DescribeResponse answers GET /list?connector=REF.
type DescribeResponse struct {
	Connector Connector `json:"connector"`
}

// TypesResponse answers GET /list?types=true.
type TypesResponse struct {
	ConnectorTypes []TypeSpec `json:"connector_types"`
}

// TypeSpec describes a connector type: its resource types and auth methods (each auth
// method's configuration schema and token lifetimes), ResourceTypeSpec one resource type and
// AuthMethodSpec one auth method. They are package typespec's types, which the core fills
// (connector.Spec): one definition for the server, the client and the core.
type (
	TypeSpec         = typespec.TypeSpec
	ResourceTypeSpec = typespec.ResourceTypeSpec
	AuthMethodSpec   = typespec.AuthMethodSpec
)

// MintRequest is the body of POST /mint-token.
type MintRequest struct {
	Connector       string     `json:"connector"`
	ResourceType    string     `json:"resource_type,omitempty"`
	ResourceID      string     `json:"resource_id,omitempty"`
	LifetimeSeconds int        `json:"lifetime_seconds,omitempty"`
	Scopes          []string   `json:"scopes,omitempty"`
	Downscope       *Downscope `json:"downscope,omitempty"`
	SubjectToken    string     `json:"subject_token,omitempty"`
}

// Downscope tunes the access boundary of gcs-bucket tokens.
type Downscope struct {
	Disabled bool   `json:"disabled,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Credential answers POST /mint-token: a minted credential for one resource.
type Credential struct {
	AccessToken     string                `json:"access_token"`
	TokenType       string                `json:"token_type"`
	ExpiresAt       time.Time             `json:"expires_at"`
	ExpiresIn       int64                 `json:"expires_in"`
	ProjectID       string                `json:"project_id"`
	ResourceType    string                `json:"resource_type"`
	ResourceID      string                `json:"resource_id"`
	Lifetime        Lifetime              `json:"lifetime"`
	Downscoped      bool                  `json:"downscoped"`
	Docker          *DockerCredential     `json:"docker,omitempty"`
	Kubernetes      *KubernetesCredential `json:"kubernetes,omitempty"`
	CredentialsJSON string                `json:"credentials_json,omitempty"`
	Warning         string                `json:"warning,omitempty"`
}

// Lifetime reports, in seconds, what was asked for, what was applied, and why they differ.
type Lifetime struct {
	Requested int64  `json:"requested"`
	Applied   int64  `json:"applied"`
	Reason    string `json:"reason,omitempty"`
}

// DockerCredential is what docker needs for a registry host.
type DockerCredential struct {
	Registry string `json:"registry"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// KubernetesCredential is what kubectl needs for a GKE cluster.
type KubernetesCredential struct {
	Cluster              string `json:"cluster"`
	Server               string `json:"server"`
	CertificateAuthority string `json:"certificate_authority,omitempty"`
	Kubeconfig           string `json:"kubeconfig"`
}

// SweepRequest is the optional body of POST /sweep; zero fields are the deployment's
// defaults.
type SweepRequest struct {
	Concurrency    int `json:"concurrency,omitempty"`
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
	// ShardSize is how many connectors one shard carries (0: the default, 100).
	ShardSize   int  `json:"shard_size,omitempty"`
	KeepOrphans bool `json:"keep_orphans,omitempty"`
}

// SweepReport answers POST and GET /sweep: a run (Run and the fields after it set) with its
// shards' reports summed, or the report of a sweep made in the request.
type SweepReport struct {
	Run        string     `json:"run,omitempty"`
	State      string     `json:"state,omitempty"` // planning, running or done
	StartedAt  *time.Time `json:"started_at,omitempty"`
	Connectors int        `json:"connectors,omitempty"` // connector ids planned
	Shards     *Shards    `json:"shards,omitempty"`
	PlanError  string     `json:"plan_error,omitempty"`
	// Unchecked lists (at most 100 of UncheckedCount) connectors that could not be checked, and why.
	Unchecked      []Unchecked   `json:"unchecked,omitempty"`
	UncheckedCount int           `json:"unchecked_count,omitempty"`
	FailedShards   []FailedShard `json:"failed_shards,omitempty"`
	Checked        int           `json:"checked"`
	OK             int           `json:"ok"`
	Failed         int           `json:"failed"`
	Skipped        int           `json:"skipped"`
	Inconclusive   int           `json:"inconclusive"`
	OrphansRemoved int           `json:"orphans_removed"`
	// VersionsRemoved counts unpinned secret versions destroyed.
	VersionsRemoved int `json:"versions_removed"`
	// KeysRotated counts overdue keys sweep rotated, KeysDeleted the replaced or orphaned
	// keys it deleted; OldKeys lists keys older than GCPCONN_MAX_KEY_AGE.
	KeysRotated int `json:"keys_rotated,omitempty"`
	KeysDeleted int `json:"keys_deleted,omitempty"`
	// RotationsDeferred counts overdue rotations left to the next run by the per-shard cap.
	RotationsDeferred int      `json:"rotations_deferred,omitempty"`
	OldKeys           []string `json:"old_keys,omitempty"`
	DurationMS        int64    `json:"duration_ms"`
	Errors            []string `json:"errors,omitempty"`
}

// Shards counts a run's shards.
type Shards struct {
	Planned int `json:"planned"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Running int `json:"running"`
}

// Unchecked is a connector a sweep could not check, and why.
type Unchecked struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
}

// FailedShard is a shard that failed its last allowed attempt.
type FailedShard struct {
	Index    int    `json:"index"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
}

// Error is every error answer: {"error": {"code", "message", "field"}}.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error of an [Error] answer.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}
