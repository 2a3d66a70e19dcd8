package httpapi

import (
	"time"

	"github.com/gcpconn/gcpconn/functions/kubeconfig"
	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/rotation"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// The wire types of the HTTP API live in functions/wire, shared with functions/client; this
// file converts them to and from the core's types, and holds the bodies only the server reads
// (Pub/Sub pushes) or answers (the sweep worker's).

// registerRequest builds the core's request; a malformed rotation_period is refused naming it.
func registerRequest(b wire.RegisterRequest) (connector.RegisterRequest, error) {
	period, err := parsePeriod(b.RotationPeriod)
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

// updateRequest builds the core's request; a malformed rotation_period is refused naming it.
func updateRequest(b wire.UpdateRequest) (connector.UpdateRequest, error) {
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
		d, err := parsePeriod(*b.RotationPeriod)
		if err != nil {
			return connector.UpdateRequest{}, err
		}
		u.RotationPeriod = &d
	}
	return u, nil
}

// parsePeriod parses rotation_period (rotation.ParsePeriod); a refusal names the field.
func parsePeriod(s string) (time.Duration, error) {
	d, err := rotation.ParsePeriod(s)
	if err != nil {
		return 0, connector.FieldErrorf("rotation_period", "%s", err)
	}
	return d, nil
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

// toRotationJSON describes r; nil for a connector that never opted in to rotation (nothing
// scheduled, rotated, in flight or waiting for sweep).
func toRotationJSON(r rotation.State) *wire.Rotation {
	if r.Period == 0 && r.Generation == 0 && r.Pending == nil && len(r.Retired) == 0 && r.LastError == "" {
		return nil
	}
	out := &wire.Rotation{KeyID: r.KeyID, Generation: r.Generation, InProgress: r.Pending != nil,
		RetiredKeys: len(r.Retired), LastError: r.LastError}
	if r.Pending != nil {
		out.State = r.Pending.State()
	}
	if r.Period != 0 {
		out.Period = rotation.FormatPeriod(r.Period)
	}
	if !r.KeyCreatedAt.IsZero() {
		t := r.KeyCreatedAt.UTC()
		out.KeyCreatedAt = &t
	}
	if next := r.Due(); !next.IsZero() {
		t := next.UTC()
		out.NextRotationAt = &t
	}
	return out
}

// toConnectorJSON describes c; secretName is where its secret lives (Service.SecretName), ""
// when it has none.
func toConnectorJSON(c *connector.Connector, secretName string) wire.Connector {
	out := wire.Connector{
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
		Status: wire.Status{State: string(c.Status.State), Error: c.Status.Error, RotationDue: c.Status.RotationDue,
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
		out.Secret = &wire.SecretLocation{Name: secretName, Version: c.SecretVersion}
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

func verifyRequest(b wire.VerifyRequest) (connector.VerifyRequest, error) {
	r := connector.VerifyRequest{
		Ref:           b.Connector,
		ResourceType:  connector.ResourceType(b.ResourceType),
		ResourceID:    b.ResourceID,
		ListResources: b.ListResources,
		SubjectToken:  b.SubjectToken,
	}
	if b.Spec != nil {
		spec, err := registerRequest(*b.Spec)
		if err != nil {
			return connector.VerifyRequest{}, err
		}
		r.Spec = &spec
	}
	return r, nil
}

func toResourcesJSON(r *connector.Resources) *wire.Resources {
	if r == nil {
		return nil
	}
	out := &wire.Resources{Resources: make([]wire.ResourceResult, len(r.Results)), Error: r.Error}
	for i, res := range r.Results {
		out.Resources[i] = wire.ResourceResult{ResourceType: string(res.ResourceType), ResourceIDs: res.ResourceIDs, Error: res.Error, Warning: res.Warning}
		if out.Resources[i].ResourceIDs == nil {
			out.Resources[i].ResourceIDs = []string{}
		}
	}
	return out
}

func mintRequest(b wire.MintRequest) connector.MintRequest {
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

// toCredentialJSON answers a minted credential; for a GKE cluster it renders the kubeconfig.
func toCredentialJSON(c *connector.Credential, now time.Time) (wire.Credential, error) {
	out := wire.Credential{
		AccessToken:     c.AccessToken,
		TokenType:       c.TokenType,
		ExpiresAt:       c.ExpiresAt.UTC(),
		ExpiresIn:       int64(c.ExpiresAt.Sub(now).Seconds()),
		ProjectID:       c.ProjectID,
		ResourceType:    string(c.ResourceType),
		ResourceID:      c.ResourceID,
		Lifetime:        wire.Lifetime{Requested: int64(c.Lifetime.Requested.Seconds()), Applied: int64(c.Lifetime.Applied.Seconds()), Reason: c.Lifetime.Reason},
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
		out.Docker = &wire.DockerCredential{Registry: d.Registry, Username: d.Username, Password: d.Password}
	}
	if k := c.Kubernetes; k != nil {
		kc, err := kubeconfig.Render(c.ProjectID, k)
		if err != nil {
			return wire.Credential{}, err
		}
		out.Kubernetes = &wire.KubernetesCredential{Cluster: k.Cluster, Server: k.Server, CertificateAuthority: k.CertificateAuthority, Kubeconfig: kc}
	}
	return out, nil
}

func toSweepResponse(r upkeep.SweepReport) wire.SweepReport {
	return wire.SweepReport{Checked: r.Checked, OK: r.OK, Failed: r.Failed, Skipped: r.Skipped, Inconclusive: r.Inconclusive,
		OrphansRemoved: r.OrphansRemoved, VersionsRemoved: r.VersionsRemoved,
		KeysRotated: r.KeysRotated, KeysDeleted: r.KeysDeleted, RotationsDeferred: r.RotationsDeferred, OldKeys: r.OldKeys, DurationMS: r.Duration.Milliseconds(), Errors: r.Errors}
}

func toSweepRunResponse(v upkeep.SweepRunView) wire.SweepReport {
	r := toSweepResponse(v.Report)
	started := v.Run.StartedAt.UTC()
	r.Run, r.State, r.StartedAt, r.Connectors, r.PlanError = v.Run.ID, v.State, &started, v.Run.Connectors, v.Run.PlanError
	r.Shards = &wire.Shards{Planned: v.Run.Shards, Done: v.ShardsDone, Failed: v.ShardsFailed, Running: v.ShardsRunning}
	r.UncheckedCount = v.UncheckedCount
	for _, u := range v.Unchecked {
		r.Unchecked = append(r.Unchecked, wire.Unchecked(u))
	}
	for _, f := range v.FailedShards {
		r.FailedShards = append(r.FailedShards, wire.FailedShard{Index: f.Index, Attempts: f.Attempts, Error: f.Error})
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
