package httpapi

import (
	"time"

	"github.com/gcpconn/gcpconn/functions/kubeconfig"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// The wire types of the HTTP API (DESIGN §4): snake_case JSON, separate from the domain
// types so that the core can change without changing the contract. functions/openapi.yaml
// documents each of them; openapi_test.go keeps the two in step.

// registerBody is the body of POST /register, and the spec of POST /verify.
type registerBody struct {
	Name              string            `json:"name"`
	Type              string            `json:"type"`
	AuthMethod        string            `json:"auth_method"`
	ResourceType      string            `json:"resource_type"`
	ResourceTypes     []string          `json:"resource_types"`
	ResourceID        string            `json:"resource_id"`
	Configuration     map[string]any    `json:"configuration"`
	Labels            map[string]string `json:"labels"`
	Description       string            `json:"description"`
	ExpiresAt         *time.Time        `json:"expires_at"`
	ExpirationSeconds *int              `json:"expiration_seconds"`
	Users             []string          `json:"users"`
	Verify            *bool             `json:"verify"`
	SubjectToken      string            `json:"subject_token"`
	// RotationPeriod opts a connector holding a service-account key into key rotation:
	// "30d" or a Go duration ("720h"), 1d to 365d; "" or absent for none.
	RotationPeriod string `json:"rotation_period"`
}

// request builds the core's request; a malformed rotation_period is refused naming it.
func (b registerBody) request() (connector.RegisterRequest, error) {
	period, err := connector.ParseRotationPeriod(b.RotationPeriod)
	if err != nil {
		return connector.RegisterRequest{}, err
	}
	return connector.RegisterRequest{
		Name:              b.Name,
		Type:              b.Type,
		AuthMethod:        connector.AuthMethod(b.AuthMethod),
		ResourceType:      connector.ResourceType(b.ResourceType),
		ResourceTypes:     resourceTypes(b.ResourceTypes),
		ResourceID:        b.ResourceID,
		Configuration:     b.Configuration,
		Labels:            b.Labels,
		Description:       b.Description,
		ExpiresAt:         b.ExpiresAt,
		ExpirationSeconds: b.ExpirationSeconds,
		Users:             b.Users,
		Verify:            b.Verify,
		SubjectToken:      b.SubjectToken,
		RotationPeriod:    period,
	}, nil
}

// updateBody is the body of PUT /register?connector=REF. An absent field keeps the stored
// value; labels {} and users [] clear them.
type updateBody struct {
	Name              *string           `json:"name"`
	Description       *string           `json:"description"`
	Labels            map[string]string `json:"labels"`
	Users             []string          `json:"users"`
	AuthMethod        *string           `json:"auth_method"`
	ResourceType      *string           `json:"resource_type"`
	ResourceTypes     []string          `json:"resource_types"`
	ResourceID        *string           `json:"resource_id"`
	Configuration     map[string]any    `json:"configuration"`
	ExpiresAt         *time.Time        `json:"expires_at"`
	ExpirationSeconds *int              `json:"expiration_seconds"`
	Verify            *bool             `json:"verify"`
	SubjectToken      string            `json:"subject_token"`
	// RotationPeriod, when present, replaces the rotation period; "" turns rotation off.
	RotationPeriod *string `json:"rotation_period"`
}

// request builds the core's request; a malformed rotation_period is refused naming it.
func (b updateBody) request() (connector.UpdateRequest, error) {
	u := connector.UpdateRequest{
		Name:              b.Name,
		Description:       b.Description,
		Labels:            b.Labels,
		Users:             b.Users,
		ResourceTypes:     resourceTypes(b.ResourceTypes),
		ResourceID:        b.ResourceID,
		Configuration:     b.Configuration,
		ExpiresAt:         b.ExpiresAt,
		ExpirationSeconds: b.ExpirationSeconds,
		Verify:            b.Verify,
		SubjectToken:      b.SubjectToken,
	}
	if b.ResourceTypes != nil && u.ResourceTypes == nil {
		u.ResourceTypes = []connector.ResourceType{}
	}
	if b.AuthMethod != nil {
		m := connector.AuthMethod(*b.AuthMethod)
		u.AuthMethod = &m
	}
	if b.ResourceType != nil {
		rt := connector.ResourceType(*b.ResourceType)
		u.ResourceType = &rt
	}
	if b.RotationPeriod != nil {
		d, err := connector.ParseRotationPeriod(*b.RotationPeriod)
		if err != nil {
			return connector.UpdateRequest{}, err
		}
		u.RotationPeriod = &d
	}
	return u, nil
}

func resourceTypes(ss []string) []connector.ResourceType {
	if ss == nil {
		return nil
	}
	out := make([]connector.ResourceType, len(ss))
	for i, s := range ss {
		out[i] = connector.ResourceType(s)
	}
	return out
}

// registerResponse answers POST /register (201) and PUT /register (200, no resources).
type registerResponse struct {
	Connector connectorJSON  `json:"connector"`
	Resources *resourcesJSON `json:"resources,omitempty"`
}

// connectorJSON describes a connector; it never holds a secret value.
type connectorJSON struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Type              string            `json:"type"`
	AuthMethod        string            `json:"auth_method"`
	ResourceTypes     []string          `json:"resource_types"`
	ResourceID        string            `json:"resource_id"`
	SupportsInstances bool              `json:"supports_instances"`
	Configuration     map[string]any    `json:"configuration"`
	Secrets           []string          `json:"secrets"`
	Secret            *secretJSON       `json:"secret,omitempty"`
	Labels            map[string]string `json:"labels"`
	Description       string            `json:"description"`
	Owner             string            `json:"owner"`
	Users             []string          `json:"users"`
	ExpiresAt         *time.Time        `json:"expires_at,omitempty"`
	ExpirationSeconds int               `json:"expiration_seconds,omitempty"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	Status            statusJSON        `json:"status"`
	// Rotation is present when the connector rotates its key (or did: a retired key waits).
	Rotation *rotationJSON `json:"rotation,omitempty"`
}

// rotationJSON is a connector's key rotation: the pinned key's id (never its material), when
// it was created or stored, the period and the next rotation.
type rotationJSON struct {
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

// toRotationJSON describes r; nil for a connector that never opted in to rotation (nothing
// scheduled, rotated, in flight or waiting for sweep).
func toRotationJSON(r connector.Rotation) *rotationJSON {
	if r.Period == 0 && r.Generation == 0 && r.Pending == nil && len(r.Retired) == 0 && r.LastError == "" {
		return nil
	}
	out := &rotationJSON{KeyID: r.KeyID, Generation: r.Generation, InProgress: r.Pending != nil,
		RetiredKeys: len(r.Retired), LastError: r.LastError}
	if r.Pending != nil {
		out.State = r.Pending.State()
	}
	if r.Period != 0 {
		out.Period = connector.FormatRotationPeriod(r.Period)
	}
	if !r.KeyCreatedAt.IsZero() {
		t := r.KeyCreatedAt.UTC()
		out.KeyCreatedAt = &t
	}
	if next := r.NextRotation(); !next.IsZero() {
		t := next.UTC()
		out.NextRotationAt = &t
	}
	return out
}

// rotateBody is the body of POST /rotate.
type rotateBody struct {
	Connector string `json:"connector"`
}

// rotateResponse answers POST /rotate: the pinned key's id (never its material), whether this
// call pinned a new key (false: another rotation in flight will), and the connector.
type rotateResponse struct {
	Rotated   bool          `json:"rotated"`
	KeyID     string        `json:"key_id"`
	Connector connectorJSON `json:"connector"`
}

// secretJSON says where a connector's secret lives: the secret store's name for it and the
// pinned version. It never holds a value.
type secretJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// statusJSON is a connector's last check.
type statusJSON struct {
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

// toConnectorJSON describes c; secretName is where its secret lives (Service.SecretName), ""
// when it has none.
func toConnectorJSON(c *connector.Connector, secretName string) connectorJSON {
	out := connectorJSON{
		ID:                c.ID,
		Name:              c.Name,
		Type:              c.Type,
		AuthMethod:        string(c.AuthMethod),
		ResourceTypes:     make([]string, len(c.ResourceTypes)),
		ResourceID:        c.ResourceID,
		SupportsInstances: c.SupportsInstances,
		Configuration:     c.Config.Fields(),
		Secrets:           append([]string{}, c.SecretFields...),
		Labels:            c.Labels,
		Description:       c.Description,
		Owner:             c.Owner,
		Users:             append([]string{}, c.Users...),
		ExpirationSeconds: c.ExpirationSeconds,
		CreatedAt:         c.CreatedAt.UTC(),
		UpdatedAt:         c.UpdatedAt.UTC(),
		Status: statusJSON{State: string(c.Status.State), Error: c.Status.Error, RotationDue: c.Status.RotationDue,
			FailingResourceTypes: failingTypes(c.Status), Inconclusive: c.Status.Inconclusive},
		Rotation: toRotationJSON(c.Rotation),
	}
	for i, rt := range c.ResourceTypes {
		out.ResourceTypes[i] = string(rt)
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if secretName != "" {
		out.Secret = &secretJSON{Name: secretName, Version: c.SecretVersion}
	}
	if !c.ExpiresAt.IsZero() {
		t := c.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	if !c.Status.CheckedAt.IsZero() {
		t := c.Status.CheckedAt.UTC()
		out.Status.CheckedAt = &t
	}
	if !c.Status.InconclusiveAt.IsZero() {
		t := c.Status.InconclusiveAt.UTC()
		out.Status.InconclusiveAt = &t
	}
	return out
}

// verifyBody is the body of POST /verify: a stored connector (by name or id) or a spec.
type verifyBody struct {
	Connector     string        `json:"connector"`
	Spec          *registerBody `json:"spec"`
	ResourceType  string        `json:"resource_type"`
	ResourceID    string        `json:"resource_id"`
	ListResources *bool         `json:"list_resources"`
	SubjectToken  string        `json:"subject_token"`
}

func (b verifyBody) request() (connector.VerifyRequest, error) {
	r := connector.VerifyRequest{
		Ref:           b.Connector,
		ResourceType:  connector.ResourceType(b.ResourceType),
		ResourceID:    b.ResourceID,
		ListResources: b.ListResources,
		SubjectToken:  b.SubjectToken,
	}
	if b.Spec != nil {
		spec, err := b.Spec.request()
		if err != nil {
			return connector.VerifyRequest{}, err
		}
		r.Spec = &spec
	}
	return r, nil
}

// resourcesJSON is the outcome of a verification.
type resourcesJSON struct {
	Resources []resourceResultJSON `json:"resources"`
	Error     string               `json:"error,omitempty"`
}

type resourceResultJSON struct {
	ResourceType string   `json:"resource_type"`
	ResourceIDs  []string `json:"resource_ids"`
	Error        string   `json:"error,omitempty"`
	Warning      string   `json:"warning,omitempty"`
}

func toResourcesJSON(r *connector.Resources) *resourcesJSON {
	if r == nil {
		return nil
	}
	out := &resourcesJSON{Resources: make([]resourceResultJSON, len(r.Results)), Error: r.Error}
	for i, res := range r.Results {
		out.Resources[i] = resourceResultJSON{ResourceType: string(res.ResourceType), ResourceIDs: res.ResourceIDs, Error: res.Error, Warning: res.Warning}
		if out.Resources[i].ResourceIDs == nil {
			out.Resources[i].ResourceIDs = []string{}
		}
	}
	return out
}

// listResponse answers GET /list with filters.
type listResponse struct {
	Connectors    []connectorJSON `json:"connectors"`
	NextPageToken string          `json:"next_page_token,omitempty"`
}

// describeResponse answers GET /list?connector=REF.
type describeResponse struct {
	Connector connectorJSON `json:"connector"`
}

// typesResponse answers GET /list?types=true. Each element is connector.Spec(), whose JSON
// form is part of the contract (snake_case tags in shared/connector/spec.go).
type typesResponse struct {
	ConnectorTypes []connector.TypeSpec `json:"connector_types"`
}

// mintBody is the body of POST /mint-token.
type mintBody struct {
	Connector       string         `json:"connector"`
	ResourceType    string         `json:"resource_type"`
	ResourceID      string         `json:"resource_id"`
	LifetimeSeconds int            `json:"lifetime_seconds"`
	Scopes          []string       `json:"scopes"`
	Downscope       *downscopeJSON `json:"downscope"`
	SubjectToken    string         `json:"subject_token"`
}

// downscopeJSON tunes the access boundary of gcs-bucket tokens.
type downscopeJSON struct {
	Disabled bool   `json:"disabled"`
	Prefix   string `json:"prefix"`
	ReadOnly bool   `json:"read_only"`
}

func (b mintBody) request() connector.MintRequest {
	r := connector.MintRequest{
		Ref:             b.Connector,
		ResourceType:    connector.ResourceType(b.ResourceType),
		ResourceID:      b.ResourceID,
		LifetimeSeconds: b.LifetimeSeconds,
		Scopes:          b.Scopes,
		SubjectToken:    b.SubjectToken,
	}
	if b.Downscope != nil {
		r.Downscope = &connector.Downscope{Disabled: b.Downscope.Disabled, Prefix: b.Downscope.Prefix, ReadOnly: b.Downscope.ReadOnly}
	}
	return r
}

// credentialJSON answers POST /mint-token.
type credentialJSON struct {
	AccessToken     string          `json:"access_token"`
	TokenType       string          `json:"token_type"`
	ExpiresAt       time.Time       `json:"expires_at"`
	ExpiresIn       int64           `json:"expires_in"`
	ProjectID       string          `json:"project_id"`
	ResourceType    string          `json:"resource_type"`
	ResourceID      string          `json:"resource_id"`
	Lifetime        lifetimeJSON    `json:"lifetime"`
	Downscoped      bool            `json:"downscoped"`
	Docker          *dockerJSON     `json:"docker,omitempty"`
	Kubernetes      *kubernetesJSON `json:"kubernetes,omitempty"`
	CredentialsJSON string          `json:"credentials_json,omitempty"`
	Warning         string          `json:"warning,omitempty"`
}

// lifetimeJSON is in seconds.
type lifetimeJSON struct {
	Requested int64  `json:"requested"`
	Applied   int64  `json:"applied"`
	Reason    string `json:"reason,omitempty"`
}

type dockerJSON struct {
	Registry string `json:"registry"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type kubernetesJSON struct {
	Cluster              string `json:"cluster"`
	Server               string `json:"server"`
	CertificateAuthority string `json:"certificate_authority,omitempty"`
	Kubeconfig           string `json:"kubeconfig"`
}

// toCredentialJSON answers a minted credential; for a GKE cluster it renders the kubeconfig.
func toCredentialJSON(c *connector.Credential, now time.Time) (credentialJSON, error) {
	out := credentialJSON{
		AccessToken:     c.AccessToken,
		TokenType:       c.TokenType,
		ExpiresAt:       c.ExpiresAt.UTC(),
		ExpiresIn:       int64(c.ExpiresAt.Sub(now).Seconds()),
		ProjectID:       c.ProjectID,
		ResourceType:    string(c.ResourceType),
		ResourceID:      c.ResourceID,
		Lifetime:        lifetimeJSON{Requested: int64(c.Lifetime.Requested.Seconds()), Applied: int64(c.Lifetime.Applied.Seconds()), Reason: c.Lifetime.Reason},
		Downscoped:      c.Downscoped,
		CredentialsJSON: c.CredentialsJSON,
		Warning:         c.Warning,
	}
	if out.TokenType == "" {
		out.TokenType = "Bearer"
	}
	if out.ExpiresIn < 0 {
		out.ExpiresIn = 0
	}
	if d := c.Docker; d != nil {
		out.Docker = &dockerJSON{Registry: d.Registry, Username: d.Username, Password: d.Password}
	}
	if k := c.Kubernetes; k != nil {
		kc, err := kubeconfig.Render(c.ProjectID, k)
		if err != nil {
			return credentialJSON{}, err
		}
		out.Kubernetes = &kubernetesJSON{Cluster: k.Cluster, Server: k.Server, CertificateAuthority: k.CertificateAuthority, Kubeconfig: kc}
	}
	return out, nil
}

// sweepBody is the optional body of POST /sweep.
type sweepBody struct {
	Concurrency    int  `json:"concurrency"`
	TimeoutSeconds int  `json:"timeout_seconds"`
	KeepOrphans    bool `json:"keep_orphans"`
	// ShardSize is how many connectors one shard carries (0: upkeep.DefaultShardSize).
	ShardSize int `json:"shard_size"`
}

// sweepResponse answers POST and GET /sweep: a run (Run and the fields after it set) with its
// shards' reports summed, or the report of a sweep made in the request.
type sweepResponse struct {
	Run        string      `json:"run,omitempty"`
	State      string      `json:"state,omitempty"` // planning, running or done
	StartedAt  *time.Time  `json:"started_at,omitempty"`
	Connectors int         `json:"connectors,omitempty"` // connector ids planned
	Shards     *shardsJSON `json:"shards,omitempty"`
	PlanError  string      `json:"plan_error,omitempty"`
	// Unchecked lists (at most 100 of UncheckedCount) connectors that could not be checked, and why.
	Unchecked      []upkeep.Unchecked `json:"unchecked,omitempty"`
	UncheckedCount int                `json:"unchecked_count,omitempty"`
	FailedShards   []failedShardJSON  `json:"failed_shards,omitempty"`
	Checked        int                `json:"checked"`
	OK             int                `json:"ok"`
	Failed         int                `json:"failed"`
	Skipped        int                `json:"skipped"`
	Inconclusive   int                `json:"inconclusive"`
	OrphansRemoved int                `json:"orphans_removed"`
	// VersionsRemoved counts unpinned secret versions destroyed.
	VersionsRemoved int `json:"versions_removed"`
	// KeysRotated counts overdue keys sweep rotated, KeysDeleted the replaced or orphaned
	// keys it deleted; OldKeys lists keys older than GCPCONN_MAX_KEY_AGE.
	KeysRotated int      `json:"keys_rotated,omitempty"`
	KeysDeleted int      `json:"keys_deleted,omitempty"`
	OldKeys     []string `json:"old_keys,omitempty"`
	DurationMS  int64    `json:"duration_ms"`
	Errors      []string `json:"errors,omitempty"`
}

func toSweepResponse(r upkeep.SweepReport) sweepResponse {
	return sweepResponse{Checked: r.Checked, OK: r.OK, Failed: r.Failed, Skipped: r.Skipped, Inconclusive: r.Inconclusive,
		OrphansRemoved: r.OrphansRemoved, VersionsRemoved: r.VersionsRemoved,
		KeysRotated: r.KeysRotated, KeysDeleted: r.KeysDeleted, OldKeys: r.OldKeys, DurationMS: r.Duration.Milliseconds(), Errors: r.Errors}
}

// shardsJSON counts a run's shards.
type shardsJSON struct {
	Planned int `json:"planned"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Running int `json:"running"`
}

// failedShardJSON is a shard that failed MaxShardAttempts times.
type failedShardJSON struct {
	Index    int    `json:"index"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
}

func toSweepRunResponse(v upkeep.SweepRunView) sweepResponse {
	r := toSweepResponse(v.Report)
	started := v.Run.StartedAt.UTC()
	r.Run, r.State, r.StartedAt, r.Connectors, r.PlanError = v.Run.ID, v.State, &started, v.Run.Connectors, v.Run.PlanError
	r.Shards = &shardsJSON{Planned: v.Run.Shards, Done: v.ShardsDone, Failed: v.ShardsFailed, Running: v.ShardsRunning}
	r.Unchecked, r.UncheckedCount = v.Unchecked, v.UncheckedCount
	for _, f := range v.FailedShards {
		r.FailedShards = append(r.FailedShards, failedShardJSON{Index: f.Index, Attempts: f.Attempts, Error: f.Error})
	}
	return r
}

// shardResponse answers the sweep worker's delivery.
type shardResponse struct {
	Run       string `json:"run"`
	Index     int    `json:"index"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	Checked   int    `json:"checked"`
	Unchecked int    `json:"unchecked"`
}

// errorBody is every error answer: {"error": {"code", "message", "field"}}.
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// pubsubPush is a Pub/Sub push request body, and the data of a
// google.cloud.pubsub.topic.v1.messagePublished CloudEvent. Google may add members
// (deliveryAttempt, orderingKey, ...): they are decoded, bounded like the rest, and kept in
// Other instead of refused.
type pubsubPush struct {
	Message      pubsubMessage  `json:"message"`
	Subscription string         `json:"subscription"`
	Other        map[string]any `json:",embed"`
}

// pubsubMessage is the message of a push.
type pubsubMessage struct {
	Data        []byte            `json:"data"`
	Attributes  map[string]string `json:"attributes"`
	MessageID   string            `json:"messageId"`
	MessageID2  string            `json:"message_id"`
	PublishTime string            `json:"publishTime"` // RFC 3339; may be absent
	Other       map[string]any    `json:",embed"`
}

// structuredEvent is a structured-mode CloudEvent (application/cloudevents+json) carrying a
// push in data (JSON) or data_base64; its other attributes are kept in Other.
type structuredEvent struct {
	ID         string         `json:"id"`
	Data       *pubsubPush    `json:"data"`
	DataBase64 []byte         `json:"data_base64"`
	Other      map[string]any `json:",embed"`
}

// secretJSONData is what refresh reads of a Secret or SecretVersion (a message's data).
type secretJSONData struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Other  map[string]any    `json:",embed"`
}

// failingTypes lists st's failing resource types, nil when there are none.
func failingTypes(st connector.Status) []string {
	var out []string
	for _, rt := range st.Failing() {
		out = append(out, string(rt))
	}
	return out
}
