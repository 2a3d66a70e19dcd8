// Package client is a small Go client for gcpconn's HTTP API (DESIGN §4), for pipelines and
// for the gcpconn CLI.
//
// # Vocabulary
//
// A [Client] talks to one deployment: its base URL (every function lives at BASE/<function>,
// e.g. BASE/mint-token) and a [TokenSource] that yields the caller's Google-signed ID token,
// sent as "Authorization: Bearer". The wire types mirror the server's JSON: [Connector]
// (never holds a secret value), [Resources] (what a verification reached), [Credential] (a
// minted token, with docker and kubernetes extras), and [TypeSpec] (the connector type).
// Every non-2xx answer is an [*Error] carrying the server's stable code (not_found,
// invalid_argument, ...), which [CodeOf] extracts.
//
// The caller's identity comes from [CallerToken], which looks, in order, at an explicit
// token, the dev emulator, and the local Google credentials (see its documentation).
//
//	c := &client.Client{BaseURL: "https://europe-west1-p.cloudfunctions.net", Token: client.StaticToken(idToken)}
//	cred, err := c.Mint(ctx, client.MintRequest{Connector: "gcs-data", ResourceType: "gcs-bucket", ResourceID: "gs://data"})
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TokenSource yields the caller's ID token for each request.
type TokenSource func(ctx context.Context) (string, error)

// StaticToken is a TokenSource that always returns tok.
func StaticToken(tok string) TokenSource {
	return func(context.Context) (string, error) { return tok, nil }
}

// Client calls one gcpconn deployment. Its methods are safe for concurrent use.
type Client struct {
	BaseURL string       // e.g. http://127.0.0.1:8080, without a trailing slash
	Token   TokenSource  // the caller's ID token; required
	HTTP    *http.Client // nil means a client with a 60 s timeout
}

// maxResponseBytes caps what the client reads from one answer.
const maxResponseBytes = 16 << 20

// Error is a non-2xx answer of the API.
type Error struct {
	Status     int    // HTTP status
	Code       string // stable code: not_found, invalid_argument, ...
	Message    string
	Field      string        // the offending field, when the server named one
	RetryAfter time.Duration // from Retry-After on upstream_unavailable
}

func (e *Error) Error() string {
	if e.Field != "" && !strings.Contains(e.Message, e.Field) {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// IdentityError says that the caller's ID token could not be obtained: the request was not
// sent.
type IdentityError struct{ Err error }

func (e *IdentityError) Error() string { return "client: caller identity: " + e.Err.Error() }
func (e *IdentityError) Unwrap() error { return e.Err }

// CodeOf returns the server's code of err, or "" when err is not an *Error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
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
	// Rotation is set for connectors that opted in to key rotation.
	Rotation *Rotation `json:"rotation,omitempty"`
}

// Rotation is a connector's key rotation: the pinned key's id (never its material), when it
// was created, the period and the next rotation.
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

// RotateResult answers Rotate: whether this call pinned a new key (false: a rotation already
// in flight will), the pinned key's id and the connector.
type RotateResult struct {
	Rotated   bool      `json:"rotated"`
	KeyID     string    `json:"key_id"`
	Connector Connector `json:"connector"`
}

// SecretLocation says where a connector's secret values live: the secret store's name for
// the secret (a Secret Manager resource name) and the version the connector pins.
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
	// Inconclusive says why the last check could not be made (State is the verdict before).
	Inconclusive   string     `json:"inconclusive,omitempty"`
	InconclusiveAt *time.Time `json:"inconclusive_at,omitempty"`
}

// RegisterRequest is the body of POST /register (and the spec of a verification).
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
	// RotationPeriod opts in to key rotation ("30d", "720h").
	RotationPeriod string `json:"rotation_period,omitempty"`
}

// UpdateRequest is the body of PUT /register: nil fields keep the stored value; an empty
// Labels map or Users slice clears them; Configuration replaces config and secrets together.
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
	SubjectToken      string            `json:"subject_token,omitempty"`   // see RegisterRequest
	RotationPeriod    *string           `json:"rotation_period,omitempty"` // "" turns rotation off
}

// Resources is the outcome of a verification: per resource type the ids reached, or why
// not; Error is set when the connector could not authenticate at all.
type Resources struct {
	Resources []ResourceResult `json:"resources"`
	Error     string           `json:"error,omitempty"`
}

// ResourceResult lists what a connector reaches of one resource type.
type ResourceResult struct {
	ResourceType string   `json:"resource_type"`
	ResourceIDs  []string `json:"resource_ids"`
	Error        string   `json:"error,omitempty"`
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

// VerifyRequest is the body of POST /verify: a stored connector or a spec.
type VerifyRequest struct {
	Connector     string           `json:"connector,omitempty"`
	Spec          *RegisterRequest `json:"spec,omitempty"`
	ResourceType  string           `json:"resource_type,omitempty"`
	ResourceID    string           `json:"resource_id,omitempty"`
	ListResources *bool            `json:"list_resources,omitempty"`
	SubjectToken  string           `json:"subject_token,omitempty"`
}

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

// Credential is a minted credential for one resource.
type Credential struct {
	AccessToken     string      `json:"access_token"`
	TokenType       string      `json:"token_type"`
	ExpiresAt       time.Time   `json:"expires_at"`
	ExpiresIn       int64       `json:"expires_in"`
	ProjectID       string      `json:"project_id"`
	ResourceType    string      `json:"resource_type"`
	ResourceID      string      `json:"resource_id"`
	Lifetime        Lifetime    `json:"lifetime"`
	Downscoped      bool        `json:"downscoped"`
	Docker          *Docker     `json:"docker,omitempty"`
	Kubernetes      *Kubernetes `json:"kubernetes,omitempty"`
	CredentialsJSON string      `json:"credentials_json,omitempty"`
}

// Lifetime reports, in seconds, what was asked for, what was applied, and why they differ.
type Lifetime struct {
	Requested int64  `json:"requested"`
	Applied   int64  `json:"applied"`
	Reason    string `json:"reason,omitempty"`
}

// Docker is what docker needs for a registry host.
type Docker struct {
	Registry string `json:"registry"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// Kubernetes is what kubectl needs for a GKE cluster.
type Kubernetes struct {
	Cluster              string `json:"cluster"`
	Server               string `json:"server"`
	CertificateAuthority string `json:"certificate_authority,omitempty"`
	Kubeconfig           string `json:"kubeconfig"`
}

// TypeSpec describes a connector type: its resource types and auth methods.
type TypeSpec struct {
	ConnectorType string             `json:"connector_type"`
	Name          string             `json:"name"`
	Description   string             `json:"description"`
	ResourceTypes []ResourceTypeSpec `json:"resource_types"`
	AuthMethods   []AuthMethodSpec   `json:"auth_methods"`
}

// ResourceTypeSpec describes one resource type.
type ResourceTypeSpec struct {
	ResourceType      string   `json:"resource_type"`
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	SupportsInstances bool     `json:"supports_instances"`
	IDFormats         []string `json:"id_formats,omitempty"`
	AuthMethods       []string `json:"auth_methods"`
}

// AuthMethodSpec describes one auth method; ConfigSchema is a JSON Schema whose secret
// properties carry "format": "password".
type AuthMethodSpec struct {
	AuthMethod               string         `json:"auth_method"`
	Name                     string         `json:"name"`
	Description              string         `json:"description"`
	ConfigSchema             map[string]any `json:"config_schema"`
	MinExpirationSeconds     *int           `json:"min_expiration_seconds,omitempty"`
	DefaultExpirationSeconds *int           `json:"default_expiration_seconds,omitempty"`
	MaxExpirationSeconds     *int           `json:"max_expiration_seconds,omitempty"`
	RequiresExpiresAt        bool           `json:"requires_expires_at,omitempty"`
	// Implicit says why a method is gated by GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS: "always",
	// "keyless", "ambient-source"; "" when it never is.
	Implicit string `json:"implicit,omitempty"`
}

// Filter narrows List.
type Filter struct {
	Name         string
	AuthMethod   string
	ResourceType string
	Labels       []string // KEY=VALUE or KEY
	PageSize     int
	PageToken    string
}

// Types returns the connector types (GET /list?types=true).
func (c *Client) Types(ctx context.Context) ([]TypeSpec, error) {
	var out struct {
		ConnectorTypes []TypeSpec `json:"connector_types"`
	}
	err := c.do(ctx, http.MethodGet, "/list?types=true", nil, &out)
	return out.ConnectorTypes, err
}

// List returns one page of the connectors the caller may read, and the next page's token.
func (c *Client) List(ctx context.Context, f Filter) ([]Connector, string, error) {
	q := url.Values{}
	for k, v := range map[string]string{"name": f.Name, "auth_method": f.AuthMethod, "resource_type": f.ResourceType, "page_token": f.PageToken} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for _, l := range f.Labels {
		q.Add("label", l)
	}
	if f.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(f.PageSize))
	}
	var out struct {
		Connectors    []Connector `json:"connectors"`
		NextPageToken string      `json:"next_page_token"`
	}
	path := "/list"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Connectors, out.NextPageToken, err
}

// ListAll follows next_page_token until every connector matching f is listed.
func (c *Client) ListAll(ctx context.Context, f Filter) ([]Connector, error) {
	var all []Connector
	for {
		cs, next, err := c.List(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
		if next == "" {
			return all, nil
		}
		f.PageToken = next
	}
}

// Describe returns one connector by name or id.
func (c *Client) Describe(ctx context.Context, ref string) (*Connector, error) {
	var out struct {
		Connector Connector `json:"connector"`
	}
	if err := c.do(ctx, http.MethodGet, "/list?connector="+url.QueryEscape(ref), nil, &out); err != nil {
		return nil, err
	}
	return &out.Connector, nil
}

// Register creates a connector; Resources is set when the server verified it.
func (c *Client) Register(ctx context.Context, r RegisterRequest) (*Connector, *Resources, error) {
	var out struct {
		Connector Connector  `json:"connector"`
		Resources *Resources `json:"resources"`
	}
	if err := c.do(ctx, http.MethodPost, "/register", r, &out); err != nil {
		return nil, nil, err
	}
	return &out.Connector, out.Resources, nil
}

// Update changes a connector by name or id.
func (c *Client) Update(ctx context.Context, ref string, u UpdateRequest) (*Connector, error) {
	var out struct {
		Connector Connector `json:"connector"`
	}
	if err := c.do(ctx, http.MethodPut, "/register?connector="+url.QueryEscape(ref), u, &out); err != nil {
		return nil, err
	}
	return &out.Connector, nil
}

// Delete removes a connector and its secret.
func (c *Client) Delete(ctx context.Context, ref string) error {
	return c.do(ctx, http.MethodDelete, "/register?connector="+url.QueryEscape(ref), nil, nil)
}

// Rotate replaces a connector's service-account key now (owner or admin).
func (c *Client) Rotate(ctx context.Context, ref string) (*RotateResult, error) {
	var out RotateResult
	if err := c.do(ctx, http.MethodPost, "/rotate", map[string]string{"connector": ref}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Verify checks a stored connector or a spec and lists what it reaches.
func (c *Client) Verify(ctx context.Context, r VerifyRequest) (*Resources, error) {
	var out Resources
	if err := c.do(ctx, http.MethodPost, "/verify", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Mint issues a short-lived credential for one resource.
func (c *Client) Mint(ctx context.Context, r MintRequest) (*Credential, error) {
	var out Credential
	if err := c.do(ctx, http.MethodPost, "/mint-token", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends one request and decodes a 2xx JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if c.BaseURL == "" {
		return errors.New("client: no server URL (set --url or GCPCONN_URL)")
	}
	if c.Token == nil {
		return errors.New("client: no caller identity configured")
	}
	tok, err := c.Token(ctx)
	if err != nil {
		return &IdentityError{Err: err}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, strings.SplitN(path, "?", 2)[0], err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("client: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return errorFrom(resp, b)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("client: decode answer of %s: %w", strings.SplitN(path, "?", 2)[0], err)
	}
	return nil
}

// errorFrom builds the *Error of a non-2xx answer; bodies that are not the API's error shape
// (a proxy's HTML page) become a code derived from the status.
func errorFrom(resp *http.Response, b []byte) *Error {
	e := &Error{Status: resp.StatusCode}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Field = body.Error.Code, body.Error.Message, body.Error.Field
	} else {
		e.Code = codeOfStatus(resp.StatusCode)
		e.Message = fmt.Sprintf("the server answered %s", resp.Status)
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

func codeOfStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_argument"
	case http.StatusUnauthorized:
		return "unauthenticated"
	case http.StatusForbidden:
		return "permission_denied"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "already_exists"
	case http.StatusPreconditionFailed:
		return "failed_precondition"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusBadGateway:
		return "upstream_denied"
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return "upstream_unavailable"
	}
	return "internal"
}

// SweepOptions tune a sweep run (POST /sweep); zero fields are the deployment's defaults.
type SweepOptions struct {
	Concurrency    int  `json:"concurrency,omitempty"`
	TimeoutSeconds int  `json:"timeout_seconds,omitempty"`
	ShardSize      int  `json:"shard_size,omitempty"`
	KeepOrphans    bool `json:"keep_orphans,omitempty"`
}

// SweepRun is a sweep run as GET /sweep shows it: its shards and the summed report.
type SweepRun struct {
	Run        string     `json:"run"`
	State      string     `json:"state"` // planning, running or done
	StartedAt  *time.Time `json:"started_at,omitempty"`
	Connectors int        `json:"connectors"`
	Shards     *struct {
		Planned int `json:"planned"`
		Done    int `json:"done"`
		Failed  int `json:"failed"`
		Running int `json:"running"`
	} `json:"shards,omitempty"`
	PlanError       string `json:"plan_error,omitempty"`
	Checked         int    `json:"checked"`
	OK              int    `json:"ok"`
	Failed          int    `json:"failed"`
	Skipped         int    `json:"skipped"`
	Inconclusive    int    `json:"inconclusive"`
	OrphansRemoved  int    `json:"orphans_removed"`
	VersionsRemoved int    `json:"versions_removed"`
	KeysRotated     int    `json:"keys_rotated,omitempty"`
	KeysDeleted     int    `json:"keys_deleted,omitempty"`
	Unchecked       []struct {
		ID     string `json:"id"`
		Name   string `json:"name,omitempty"`
		Reason string `json:"reason"`
	} `json:"unchecked,omitempty"`
	UncheckedCount int `json:"unchecked_count,omitempty"`
	FailedShards   []struct {
		Index    int    `json:"index"`
		Attempts int    `json:"attempts"`
		Error    string `json:"error"`
	} `json:"failed_shards,omitempty"`
	OldKeys    []string `json:"old_keys,omitempty"`
	Errors     []string `json:"errors,omitempty"`
	DurationMS int64    `json:"duration_ms"`
}

// StartSweep starts a sweep run (admins) and returns it as it stands once its shards are
// published.
func (c *Client) StartSweep(ctx context.Context, o SweepOptions) (*SweepRun, error) {
	var out SweepRun
	if err := c.do(ctx, http.MethodPost, "/sweep", o, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SweepRun returns sweep run id, the latest for "" (admins).
func (c *Client) SweepRun(ctx context.Context, id string) (*SweepRun, error) {
	path := "/sweep"
	if id != "" {
		path += "?run=" + url.QueryEscape(id)
	}
	var out SweepRun
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
