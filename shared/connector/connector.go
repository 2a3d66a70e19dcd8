package connector

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// TypeGCP is the only connector type gcpconn serves.
const TypeGCP = "gcp"

// AuthMethod says how a connector's stored credentials become Google access tokens. It is
// package configschema's AuthMethod, which holds each method's configuration schema
// (configschema.Methods lists them).
type AuthMethod = configschema.AuthMethod

// ResourceType names a kind of Google Cloud resource a connector gives access to. It is
// package resourceid's Type, which parses the ids of each type; package resourcetype holds
// the record of each type (resourceid.Types lists them).
type ResourceType = resourceid.Type

// joinTypes lists resource types for a message: "gcp-generic, gcs-bucket".
func joinTypes(ts []ResourceType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = string(t)
	}
	return strings.Join(parts, ", ")
}

// Connector is a stored connector: metadata only. Secret values live in a SecretStore under
// SecretVersion and are never part of a Connector.
type Connector struct {
	ID          string            // opaque, assigned on create; never changes
	Name        string            // unique per deployment; see validateName
	Type        string            // always TypeGCP
	AuthMethod  AuthMethod        //
	Description string            // free text; may be empty
	Labels      map[string]string // user labels; nil means none

	// ResourceTypes the connector serves: one for single-type connectors, every type for a
	// multi-type connector.
	ResourceTypes []ResourceType
	// ResourceID is the canonical id of the one resource a single-instance connector serves;
	// "" for multi-type and multi-instance connectors.
	ResourceID string
	// SupportsInstances is true when the connector has one resource type with instances and no
	// ResourceID (a multi-instance connector).
	SupportsInstances bool

	// Config holds the non-secret configuration fields, validated against the auth method's
	// schema.
	Config Config
	// SecretFields names the configuration fields whose values are in the secret store;
	// empty for methods without secrets.
	SecretFields []string
	// SecretVersion is the secret-store version pinned for this connector; "" when the auth
	// method has no secret fields. Reads always name this version, never "latest".
	SecretVersion string

	Owner string   // principal (email) that registered the connector
	Users []string // principals that may verify and mint; the owner is implied

	// ExpiresAt is when the configured credentials themselves expire (an oauth2-token's
	// expiry); zero means they do not expire.
	ExpiresAt time.Time
	// ExpirationSeconds is the default lifetime of credentials minted from this connector;
	// zero means the auth method's default.
	ExpirationSeconds int

	CreatedAt time.Time // set by the store
	UpdatedAt time.Time // set by the store on every write
	Status    Status
	// CleanupAfter, when set, is from when the connector's secret may hold versions other than
	// the pinned one that sweep should destroy: set (to the time of the write) before an
	// update or a key rotation adds a version, and when refresh pins a new one; sweep lists
	// the secret's versions only for connectors that have it set and are past it, and clears
	// it once nothing but the pinned version (and those a rotation holds) is left. Zero:
	// nothing to clean.
	CleanupAfter time.Time
	// Rotation is the key-rotation state of a connector that holds a service-account key
	// (package rotation); the zero value means rotation is off.
	Rotation rotation.State
	// Revision increases with every stored write. Update succeeds only when the caller's
	// Revision equals the stored one (optimistic concurrency); stores set it.
	Revision int64
}

// Clone returns a deep copy of c (nil for nil): the copy shares no map, slice or pointer
// with c, so a cache or a store can hand it out without aliasing what it keeps.
func (c *Connector) Clone() *Connector {
	if c == nil {
		return nil
	}
	d := *c
	d.Labels = maps.Clone(c.Labels)
	d.ResourceTypes = slices.Clone(c.ResourceTypes)
	d.SecretFields = slices.Clone(c.SecretFields)
	d.Users = slices.Clone(c.Users)
	d.Config = c.Config.clone()
	d.Rotation = c.Rotation.Clone()
	return &d
}

// Fingerprint summarizes the parts of a connector, other than its id and secrets, that change
// which token Google issues: the auth method, every configuration field and the credentials'
// expiry. Token caches key on it (with the id and the secret version), so that an update seen
// by an instance that did not make it never serves a token minted under the old configuration.
func (c *Connector) Fingerprint() string {
	b := make([]byte, 0, 128)
	for _, s := range [...]string{string(c.AuthMethod), c.Config.ProjectID, c.Config.ServiceAccountEmail, c.Config.TargetPrincipal} {
		b = append(b, s...)
		b = append(b, 0)
	}
	for _, d := range c.Config.Delegates {
		b = append(b, d...)
		b = append(b, ',')
	}
	b = append(b, 0)
	b = strconv.AppendBool(b, c.Config.temporaryTokens())
	b = append(b, 0)
	if !c.ExpiresAt.IsZero() {
		b = strconv.AppendInt(b, c.ExpiresAt.UnixNano(), 10)
	}
	return string(b)
}

// Config is the non-secret part of a connector's configuration. Field names on the wire are
// the seed's: project_id, service_account_email, target_principal, delegates,
// generate_temporary_tokens.
type Config struct {
	ProjectID string // project the resources live in; required for every method
	// ServiceAccountEmail is, for oauth2-token, the account the token belongs to ("" = a user).
	ServiceAccountEmail string
	TargetPrincipal     string   // impersonation: the service account to impersonate
	Delegates           []string // impersonation: delegation chain, in order
	// GenerateTemporaryTokens is false when callers get the stored credentials themselves
	// instead of short-lived tokens; nil means the default, true.
	GenerateTemporaryTokens *bool
}

func (c Config) clone() Config {
	d := c
	d.Delegates = slices.Clone(c.Delegates)
	if c.GenerateTemporaryTokens != nil {
		b := *c.GenerateTemporaryTokens
		d.GenerateTemporaryTokens = &b
	}
	return d
}

// temporaryTokens reports whether the connector hands out short-lived tokens (the default).
func (c Config) temporaryTokens() bool {
	return c.GenerateTemporaryTokens == nil || *c.GenerateTemporaryTokens
}

// Equal reports whether c and d are the same configuration.
func (c Config) Equal(d Config) bool {
	return c.ProjectID == d.ProjectID && c.ServiceAccountEmail == d.ServiceAccountEmail &&
		c.TargetPrincipal == d.TargetPrincipal && slices.Equal(c.Delegates, d.Delegates) &&
		c.temporaryTokens() == d.temporaryTokens() &&
		(c.GenerateTemporaryTokens == nil) == (d.GenerateTemporaryTokens == nil)
}

// Fields returns the configuration as configuration fields keyed by name, as a describe
// shows it and as it is registered: project_id, service_account_email, target_principal and
// delegates when set, and generate_temporary_tokens always (its default, true, when unset).
// It never holds a secret value: those are in Secrets.
func (c Config) Fields() map[string]any {
	m := map[string]any{configschema.FieldGenerateTemporaryTokens: c.temporaryTokens()}
	for k, v := range map[string]string{
		configschema.FieldProjectID:           c.ProjectID,
		configschema.FieldServiceAccountEmail: c.ServiceAccountEmail,
		configschema.FieldTargetPrincipal:     c.TargetPrincipal,
	} {
		if v != "" {
			m[k] = v
		}
	}
	if len(c.Delegates) > 0 {
		m[configschema.FieldDelegates] = slices.Clone(c.Delegates)
	}
	return m
}

// Secrets holds a connector's secret field values. Its String, Format and LogValue methods
// never reveal them, so a Secrets value is safe to pass to fmt and slog by mistake.
type Secrets struct {
	ServiceAccountJSON  string // service-account, impersonation (optional: keyless)
	UserAccountJSON     string // user-account
	ExternalAccountJSON string // external-account
	Token               string // oauth2-token
}

// secretField is a secret field name with its place in Secrets: get reads it, set returns a
// copy with it written. They take values, not pointers, because a pointer passed to a func
// value escapes: a Secrets read back from a store (every mint on the memory store) would then
// cost an allocation.
type secretField struct {
	name string
	get  func(Secrets) string
	set  func(Secrets, string) Secrets
}

// secretFields lists every secret field: the one list that Fields and SecretsFromFields read.
var secretFields = []secretField{
	{configschema.FieldServiceAccountJSON, func(s Secrets) string { return s.ServiceAccountJSON }, func(s Secrets, v string) Secrets { s.ServiceAccountJSON = v; return s }},
	{configschema.FieldUserAccountJSON, func(s Secrets) string { return s.UserAccountJSON }, func(s Secrets, v string) Secrets { s.UserAccountJSON = v; return s }},
	{configschema.FieldExternalAccountJSON, func(s Secrets) string { return s.ExternalAccountJSON }, func(s Secrets, v string) Secrets { s.ExternalAccountJSON = v; return s }},
	{configschema.FieldToken, func(s Secrets) string { return s.Token }, func(s Secrets, v string) Secrets { s.Token = v; return s }},
}

// Fields returns the non-empty secret values keyed by field name, for storage adapters.
func (s Secrets) Fields() map[string]string {
	m := map[string]string{}
	for _, f := range secretFields {
		if v := f.get(s); v != "" {
			m[f.name] = v
		}
	}
	return m
}

// SecretsFromFields is the inverse of Secrets.Fields. Unknown field names are an error.
func SecretsFromFields(m map[string]string) (Secrets, error) {
	var s Secrets
next:
	for k, v := range m {
		for _, f := range secretFields {
			if f.name == k {
				s = f.set(s, v)
				continue next
			}
		}
		return Secrets{}, Errorf(ErrInternal, "connector: unknown secret field %q", k)
	}
	return s, nil
}

// IsZero reports whether no secret value is set.
func (s Secrets) IsZero() bool { return s == Secrets{} }

func (s Secrets) String() string       { return "[HIDDEN]" }
func (s Secrets) LogValue() slog.Value { return slog.StringValue("[HIDDEN]") }

// Format makes every fmt verb print [HIDDEN].
func (s Secrets) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[HIDDEN]")) }

// State is a connector's health as last checked by verify, sweep or refresh.
type State string

// Connector states. The zero value means never checked.
const (
	StateUnknown State = ""      // never checked
	StateOK      State = "ok"    // the last check reached something of every resource type
	StateError   State = "error" // the last check failed, or reached nothing of any type; minting may still be attempted
	// StatePartial means the last check reached something of some resource types and failed
	// for the others (Status.FailingTypes).
	StatePartial State = "partial"
	// StateDisabled means the pinned secret version was disabled or destroyed: minting is
	// refused until the connector is updated.
	StateDisabled State = "disabled"
)

// Status records the outcome of the last check of a connector.
type Status struct {
	State     State
	CheckedAt time.Time // zero means never checked
	Error     string    // caller-safe reason when State is not ok
	// FailingTypes names, comma-separated in the type spec's order, the resource types the
	// last check could not reach (partial, and error when the credentials authenticated but
	// reached nothing); "" otherwise. A string keeps Status comparable; Failing splits it.
	FailingTypes string
	// RotationDue is set when the secret store announced that the secret should be rotated.
	RotationDue bool
	// Inconclusive says why the last check could not be made (Google or a store unavailable,
	// throttling, or too slow), at InconclusiveAt; State, CheckedAt and Error are still those
	// of the last check that could. An outage never changes a verdict. "" when the last check
	// was conclusive.
	Inconclusive   string
	InconclusiveAt time.Time
	// TokensVersion and TokensUntil record, for a key gcpconn created, that tokens minted
	// from the key of secret version TokensVersion expire by TokensUntil at the latest:
	// every mint from such a key extends it first (see leaseTokens), so that rotation knows
	// when a retired key may be deleted early. Status writes keep them (Keeping).
	TokensVersion string
	TokensUntil   time.Time
}

// Keeping returns st with the token bookkeeping of cur (TokensVersion, TokensUntil), for a
// status write that replaces cur's verdict.
func (st Status) Keeping(cur Status) Status {
	st.TokensVersion, st.TokensUntil = cur.TokensVersion, cur.TokensUntil
	return st
}

// Equal reports whether st and o are the same status (times compared with time.Time.Equal).
func (st Status) Equal(o Status) bool {
	return st.State == o.State && st.CheckedAt.Equal(o.CheckedAt) && st.Error == o.Error &&
		st.FailingTypes == o.FailingTypes && st.RotationDue == o.RotationDue &&
		st.Inconclusive == o.Inconclusive && st.InconclusiveAt.Equal(o.InconclusiveAt) &&
		st.TokensVersion == o.TokensVersion && st.TokensUntil.Equal(o.TokensUntil)
}

// statusOf is the status that a verification's outcome res, checked at now, records: error
// when the credentials did not authenticate (res.Error) or no resource type was reached, partial
// when some types failed, ok when every type reached something. Error joins the failing
// types' reasons; FailingTypes names them.
func statusOf(res *Resources, now time.Time) Status {
	st := Status{State: StateOK, CheckedAt: now}
	if res == nil {
		return st
	}
	if res.Error != "" {
		return Status{State: StateError, CheckedAt: now, Error: res.Error}
	}
	var reasons, failing []string
	for _, r := range res.Results {
		if r.Error != "" {
			failing = append(failing, string(r.ResourceType))
			reasons = append(reasons, r.Error)
		}
	}
	st.FailingTypes = strings.Join(failing, ",")
	switch {
	case len(failing) == 0:
		return st
	case len(failing) == len(res.Results):
		st.State = StateError
	default:
		st.State = StatePartial
	}
	st.Error = strings.Join(reasons, "; ")
	return st
}

// Failing returns the resource types in FailingTypes.
func (st Status) Failing() []ResourceType {
	if st.FailingTypes == "" {
		return nil
	}
	var out []ResourceType
	for t := range strings.SplitSeq(st.FailingTypes, ",") {
		out = append(out, ResourceType(t))
	}
	return out
}
