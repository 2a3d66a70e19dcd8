package connector

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gcpconn/gcpconn/shared/credjson"
	"github.com/gcpconn/gcpconn/shared/internal/input"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// Registration rules: see the package documentation, section Registration rules.

// Registration limits.
const (
	MaxLabels         = 64   // labels per connector
	MaxUsers          = 100  // users per connector
	MaxDescriptionLen = 1024 // bytes
	// MaxTokenExpiry is how far ahead an oauth2-token's expires_at may be: Google access
	// tokens live at most 12 hours.
	MaxTokenExpiry = 12 * time.Hour
)

// NewConnector validates a registration request against the type spec and the deployment's
// policy, and returns the connector to store (without ID, Owner, timestamps, Revision and
// SecretVersion) and its secret values. now is the registration time, for expires_at. Errors
// are *Error values naming the request field at fault ("configuration.project_id"): ErrInvalid
// for a malformed or rule-breaking request, ErrFailedPrecondition for an implicit
// configuration the policy does not allow.
func NewConnector(req RegisterRequest, pol Policy, now time.Time) (*Connector, Secrets, error) {
	return build(req, pol, now, true)
}

// ApplyUpdate applies u to c and validates the result like a registration. c is not
// modified; next is a copy that keeps c's identity (ID, Owner, timestamps, Revision,
// SecretVersion, Status). sec holds the secret values of next and secretsChanged reports
// whether they differ from old, the stored ones.
//
// A nil field of u keeps the stored value. A non-nil Configuration replaces the configuration:
// with the auth method unchanged, a secret field it leaves out keeps its stored value and a
// secret field set to null is removed (keyless impersonation); with a new auth method it must
// be complete. Changing the resource types of a connector that has a resource id needs a
// resource id too ("" to serve every resource of the new type). A new oauth2 token needs a new
// expires_at. Changing the auth method drops expires_at and expiration_seconds unless u sets
// them.
func ApplyUpdate(c *Connector, old Secrets, u UpdateRequest, pol Policy, now time.Time) (next *Connector, sec Secrets, secretsChanged bool, err error) {
	if c == nil {
		return nil, Secrets{}, false, Errorf(ErrInternal, "connector: ApplyUpdate of a nil connector")
	}
	req, err := updatedResources(c, u)
	if err != nil {
		return nil, Secrets{}, false, err
	}
	methodChanged, err := updatedConfiguration(&req, c, old, u)
	if err != nil {
		return nil, Secrets{}, false, err
	}
	checkExpiry := updatedExpiry(&req, c, u, methodChanged)
	req.RotationPeriod = *cmp.Or(u.RotationPeriod, &c.Rotation.Period)
	next, sec, err = build(req, pol, now, checkExpiry)
	if err != nil {
		return nil, Secrets{}, false, err
	}
	next.Rotation = updatedRotation(c.Rotation, next.Rotation, sec.ServiceAccountJSON != old.ServiceAccountJSON, retiring(c, old, now))
	if next.AuthMethod == OAuth2Token && sec.Token != old.Token && u.ExpiresAt == nil {
		return nil, Secrets{}, false, FieldErrorf("expires_at",
			"a new oauth2 token needs its expires_at: the stored expiry belongs to the old token")
	}
	next.ID, next.Owner, next.CreatedAt, next.UpdatedAt = c.ID, c.Owner, c.CreatedAt, c.UpdatedAt
	next.Revision, next.SecretVersion, next.Status = c.Revision, c.SecretVersion, c.Status
	return next, sec, sec != old, nil
}

// updatedResources starts the registration request that an update u of c amounts to: c's
// name, description, labels, users, type, auth method and resources, with u's changes to them.
func updatedResources(c *Connector, u UpdateRequest) (RegisterRequest, error) {
	req := RegisterRequest{
		Name:          *cmp.Or(u.Name, &c.Name),
		Type:          c.Type,
		AuthMethod:    c.AuthMethod,
		ResourceTypes: slices.Clone(c.ResourceTypes),
		ResourceID:    c.ResourceID,
		Labels:        c.Labels,
		Description:   c.Description,
		Users:         c.Users,
	}
	if len(c.ResourceTypes) == 1 && !supportsInstances(c.ResourceTypes[0]) {
		req.ResourceID = "" // the project, which the update may change
	}
	if u.Description != nil {
		req.Description = *u.Description
	}
	if u.Labels != nil {
		req.Labels = u.Labels
	}
	if u.Users != nil {
		req.Users = u.Users
	}
	if u.ResourceType != nil || u.ResourceTypes != nil {
		req.ResourceType, req.ResourceTypes = "", u.ResourceTypes
		if u.ResourceType != nil {
			req.ResourceType = *u.ResourceType
		}
		if u.ResourceID == nil && req.ResourceID != "" && !slices.Equal(wantedTypes(req.ResourceType, req.ResourceTypes), c.ResourceTypes) {
			return req, FieldErrorf("resource_id",
				"the resource types change from %s to %s: give resource_id too (\"\" to serve every resource of the new types)",
				joinTypes(c.ResourceTypes), joinTypes(wantedTypes(req.ResourceType, req.ResourceTypes)))
		}
	}
	if u.ResourceID != nil {
		req.ResourceID = *u.ResourceID
	}
	return req, nil
}

// updatedConfiguration sets the auth method and configuration of req, the registration an
// update u of c amounts to (old holds c's secrets), and reports whether the method changes.
func updatedConfiguration(req *RegisterRequest, c *Connector, old Secrets, u UpdateRequest) (methodChanged bool, err error) {
	methodChanged = u.AuthMethod != nil && *u.AuthMethod != c.AuthMethod
	if methodChanged {
		req.AuthMethod = *u.AuthMethod
		if u.Configuration == nil {
			return true, FieldErrorf("configuration",
				"changing auth_method from %s to %s needs the new method's configuration", c.AuthMethod, *u.AuthMethod)
		}
	}
	if u.Configuration == nil {
		req.Configuration = configMap(c, old)
		return methodChanged, nil
	}
	m := maps.Clone(u.Configuration)
	if r := rule(req.AuthMethod); r != nil && !methodChanged {
		stored := old.Fields()
		for _, f := range r.fields {
			if !f.secret() {
				continue
			}
			if v, ok := m[f.name]; !ok && stored[f.name] != "" {
				m[f.name] = stored[f.name]
			} else if ok && v == nil {
				delete(m, f.name)
			}
		}
	}
	req.Configuration = m
	return methodChanged, nil
}

// updatedExpiry sets expires_at and expiration_seconds of req, the registration an update u
// of c amounts to, and reports whether expires_at is to be checked (u sets it).
func updatedExpiry(req *RegisterRequest, c *Connector, u UpdateRequest, methodChanged bool) (checkExpiry bool) {
	switch {
	case u.ExpiresAt != nil:
		checkExpiry = true
		if !u.ExpiresAt.IsZero() {
			req.ExpiresAt = u.ExpiresAt
		}
	case !methodChanged && !c.ExpiresAt.IsZero():
		t := c.ExpiresAt
		req.ExpiresAt = &t
	}
	switch {
	case u.ExpirationSeconds != nil:
		req.ExpirationSeconds = u.ExpirationSeconds
	case !methodChanged && c.ExpirationSeconds != 0:
		n := c.ExpirationSeconds
		req.ExpirationSeconds = &n
	}
	return checkExpiry
}

// updatedRotation is the rotation state after an update: the stored one with the new period,
// and the new key's id when the update replaced the key (built holds both); a replaced key
// that gcpconn created is retired (old describes it), so that sweep deletes it after the grace.
func updatedRotation(stored, built Rotation, newKey bool, old RetiredKey) Rotation {
	r := stored.Clone()
	r.Period = built.Period
	if newKey || built.KeyID == "" && built.KeyCreatedAt.IsZero() {
		if stored.KeyManaged && stored.KeyID != "" && stored.KeyID != built.KeyID {
			r.Retired = append(r.Retired, old)
		}
		r.KeyID, r.KeyCreatedAt, r.KeyManaged, r.KeyTracked = built.KeyID, built.KeyCreatedAt, false, false
	}
	return r
}

// retiring is the retired record of c's pinned key (whose secrets are old) if an update
// replaces it at now: its secret version stays until sweep has deleted the key with it.
func retiring(c *Connector, old Secrets, now time.Time) RetiredKey {
	r := RetiredKey{KeyID: c.Rotation.KeyID, Version: c.SecretVersion, Managed: true, RetiredAt: now, DeleteAfter: now.Add(RotationGrace)}
	if key, err := old.ServiceAccountKey(); err == nil {
		r.Email = key.ClientEmail
	}
	return r
}

// configMap renders a stored configuration and its secrets as a configuration map, so that an
// update without a new configuration is validated like one.
func configMap(c *Connector, s Secrets) map[string]any {
	m := c.Config.Fields()
	if c.Config.GenerateTemporaryTokens == nil {
		delete(m, FieldGenerateTemporaryTokens) // unset stays unset: oauth2-token has no such field
	}
	for k, v := range s.Fields() {
		m[k] = v
	}
	return m
}

// build validates req and assembles the connector. checkExpiry enables the "at least
// MinTokenRemaining ahead" rule for expires_at (off for updates that keep the stored expiry).
func build(req RegisterRequest, pol Policy, now time.Time, checkExpiry bool) (*Connector, Secrets, error) {
	if err := ValidateName(req.Name); err != nil {
		return nil, Secrets{}, err
	}
	if req.Type != "" && req.Type != TypeGCP {
		return nil, Secrets{}, FieldErrorf("type", "unknown connector type %s; gcpconn serves only %q", input.Quote(req.Type), TypeGCP)
	}
	if req.AuthMethod == "" {
		return nil, Secrets{}, FieldErrorf("auth_method", "auth_method is required; one of: %s", methodList())
	}
	r := rule(req.AuthMethod)
	if r == nil {
		return nil, Secrets{}, FieldErrorf("auth_method", "unknown auth method %s; one of: %s", input.Quote(string(req.AuthMethod)), methodList())
	}
	cfg, sec, parsed, err := parseConfiguration(r, req.Configuration)
	if err != nil {
		return nil, Secrets{}, err
	}
	if err := checkPolicy(pol, r.method, sec, parsed.external); err != nil {
		return nil, Secrets{}, err
	}
	types, id, instances, err := connectorShape(req.ResourceType, req.ResourceTypes, req.ResourceID, cfg.ProjectID)
	if err != nil {
		return nil, Secrets{}, err
	}
	expires, err := checkExpiresAt(r.method, req.ExpiresAt, now, checkExpiry)
	if err != nil {
		return nil, Secrets{}, err
	}
	expSeconds, err := checkExpirationSeconds(r, req.ExpirationSeconds)
	if err != nil {
		return nil, Secrets{}, err
	}
	labels, err := checkLabels(req.Labels)
	if err != nil {
		return nil, Secrets{}, err
	}
	users, err := checkUsers(req.Users, pol.Issuers)
	if err != nil {
		return nil, Secrets{}, err
	}
	if err := checkDescription(req.Description); err != nil {
		return nil, Secrets{}, err
	}
	rot, err := newRotation(r.method, req.RotationPeriod, parsed.key, now)
	if err != nil {
		return nil, Secrets{}, err
	}
	secretFields := slices.Sorted(maps.Keys(sec.Fields()))
	return &Connector{
		Name:              req.Name,
		Type:              TypeGCP,
		AuthMethod:        r.method,
		Description:       req.Description,
		Labels:            labels,
		ResourceTypes:     types,
		ResourceID:        id,
		SupportsInstances: instances,
		Config:            cfg,
		SecretFields:      secretFields,
		Users:             users,
		ExpiresAt:         expires,
		ExpirationSeconds: expSeconds,
		Rotation:          rot,
	}, sec, nil
}

// newRotation is the rotation state of a connector with method m and key (nil without one)
// stored at now, rotating every period (0: never). A period is refused, naming
// rotation_period, for connectors that hold no service-account key.
func newRotation(m AuthMethod, period time.Duration, key *credjson.ServiceAccountKey, now time.Time) (Rotation, error) {
	if err := CheckRotationPeriod(period); err != nil {
		return Rotation{}, err
	}
	if period != 0 {
		if why := CanRotate(m, key != nil); why != "" {
			return Rotation{}, FieldErrorf("rotation_period", "rotation_period cannot be set: %s", why)
		}
	}
	if key == nil {
		return Rotation{}, nil
	}
	return Rotation{Period: period, KeyID: key.PrivateKeyID, KeyCreatedAt: now}, nil
}

// parsedCreds holds the credential JSON parsed during configuration checks.
type parsedCreds struct {
	key      *credjson.ServiceAccountKey
	external *credjson.ExternalAccountConfig
}

func cfgField(name string) string { return "configuration." + name }

// parseConfiguration checks a configuration map against r and splits it into Config and
// Secrets.
func parseConfiguration(r *methodRule, raw map[string]any) (Config, Secrets, parsedCreds, error) {
	var p parsedConfig
	keys := slices.Sorted(maps.Keys(raw))
	for _, k := range keys {
		if _, ok := r.field(k); !ok {
			return p.cfg, p.sec, p.creds, unknownFieldError(r, k)
		}
	}
	// A JSON null or an empty string counts as absent.
	present := func(name string) bool { v, ok := raw[name]; return ok && v != nil && v != "" }
	for _, f := range r.fields {
		if !present(f.name) {
			continue
		}
		if err := p.set(r, f, raw[f.name]); err != nil {
			return p.cfg, p.sec, p.creds, err
		}
	}
	err := p.complete(r, present)
	return p.cfg, p.sec, p.creds, err
}

// parsedConfig is a configuration as parseConfiguration reads it, field by field.
type parsedConfig struct {
	cfg   Config
	sec   Secrets
	creds parsedCreds
}

// set checks the value v of configuration field f of method r and stores it.
func (p *parsedConfig) set(r *methodRule, f configField, v any) error {
	field := cfgField(f.name)
	switch f.kind {
	case kindProject:
		s, ok := v.(string)
		if !ok {
			return FieldErrorf(field, "%s must be a string (the project id)", f.name)
		}
		if why := resourceid.ProjectIDProblem(s); why != "" {
			return FieldErrorf(field, "invalid %s %s: %s", f.name, input.Quote(s), why)
		}
		p.cfg.ProjectID = s
	case kindCredJSON:
		return p.setCredJSON(f.name, v)
	case kindToken:
		s, err := checkToken(v)
		if err != nil {
			return err
		}
		p.sec.Token = s
	case kindSAEmail:
		return p.setSAEmail(f.name, v)
	case kindSAEmails:
		list, err := saEmailList(f.name, v)
		if err != nil {
			return err
		}
		p.cfg.Delegates = list
	case kindBool, kindTrueOnly:
		b, err := boolValue(f.name, v)
		if err != nil {
			return err
		}
		if !b && f.kind == kindTrueOnly {
			return FieldErrorf(field, "%s cannot be false for auth method %s: %s", f.name, r.method, neverHandsOut(r.method))
		}
		p.cfg.GenerateTemporaryTokens = &b
	}
	return nil
}

// setCredJSON checks and stores the credential JSON field name.
func (p *parsedConfig) setCredJSON(name string, v any) error {
	norm, err := normalizeCredJSON(name, v)
	if err != nil {
		return err
	}
	switch name {
	case FieldServiceAccountJSON:
		if p.creds.key, err = credjson.ParseServiceAccountKey([]byte(norm)); err != nil {
			return prefixField(err)
		}
		p.sec.ServiceAccountJSON = norm
	case FieldUserAccountJSON:
		if _, err = credjson.ParseAuthorizedUser([]byte(norm)); err != nil {
			return prefixField(err)
		}
		p.sec.UserAccountJSON = norm
	case FieldExternalAccountJSON:
		if p.creds.external, err = credjson.ParseExternalAccount([]byte(norm)); err != nil {
			return prefixField(err)
		}
		p.sec.ExternalAccountJSON = norm
	}
	return nil
}

// setSAEmail checks and stores the service-account email field name.
func (p *parsedConfig) setSAEmail(name string, v any) error {
	s, ok := v.(string)
	if !ok {
		return FieldErrorf(cfgField(name), "%s must be a string (a service account email)", name)
	}
	if why := credjson.ServiceAccountEmailProblem(s); why != "" {
		return FieldErrorf(cfgField(name), "%s %s is not a service account email: %s", name, input.Quote(s), why)
	}
	switch name {
	case FieldServiceAccountEmail:
		p.cfg.ServiceAccountEmail = s
	case FieldTargetPrincipal:
		p.cfg.TargetPrincipal = s
	}
	return nil
}

// complete checks the configuration as a whole once every field is read: the required
// fields of method r (present says which are), the project (defaulted from a service-account
// key), and delegates that do not include the target.
func (p *parsedConfig) complete(r *methodRule, present func(string) bool) error {
	cfg := &p.cfg
	if cfg.ProjectID == "" && r.method == ServiceAccount && p.creds.key != nil {
		cfg.ProjectID = p.creds.key.ProjectID
	}
	for _, name := range r.required {
		if name != FieldProjectID && !present(name) {
			f, _ := r.field(name)
			return FieldErrorf(cfgField(name), "%s is required for auth method %s (%s)", name, r.method, f.title)
		}
	}
	if cfg.ProjectID == "" {
		why := "the project the connector's resources live in"
		if r.method == ServiceAccount {
			why = "it was left out and the service account key has no project_id to default to"
		}
		return FieldErrorf(cfgField(FieldProjectID), "%s is required for auth method %s: %s", FieldProjectID, r.method, why)
	}
	if slices.Contains(cfg.Delegates, cfg.TargetPrincipal) {
		return FieldErrorf(cfgField(FieldDelegates),
			"%s must not include target_principal %s: delegates are the accounts between the source and the target", FieldDelegates, input.Quote(cfg.TargetPrincipal))
	}
	return nil
}

func neverHandsOut(m AuthMethod) string {
	if m == Implicit {
		return "the service's own credentials are never handed out"
	}
	return "the source key is never handed out, only tokens of the target"
}

// unknownFieldError names an unknown configuration field, the accepted ones, and the auth
// method it belongs to if it belongs to another.
func unknownFieldError(r *methodRule, k string) error {
	field := cfgField(k)
	if k == FieldGenerateTemporaryTokens && r.method == OAuth2Token {
		return FieldErrorf(field, "%s does not apply to auth method oauth2-token: its stored token is handed out as is until expires_at", k)
	}
	var owners []string
	for _, other := range methodRules {
		if _, ok := other.field(k); ok {
			owners = append(owners, string(other.method))
		}
	}
	hint := ""
	if len(owners) > 0 {
		hint = fmt.Sprintf(" (it belongs to auth method %s)", strings.Join(owners, ", "))
	}
	return FieldErrorf(field, "unknown configuration field %s for auth method %s%s; accepted fields: %s",
		input.Quote(k), r.method, hint, strings.Join(r.fieldNames(), ", "))
}

// prefixField turns a credential JSON refusal into an ErrInvalid *Error for its field under
// "configuration.".
func prefixField(err error) error {
	var e *credjson.Error
	if errors.As(err, &e) {
		return FieldErrorf(cfgField(e.Field), "%s", e.Message)
	}
	return err
}

// normalizeCredJSON turns a credential JSON given as an object or a string into a compact
// JSON string. It checks only the shape; the content is checked by the typed parsers.
func normalizeCredJSON(name string, v any) (string, error) {
	field := cfgField(name)
	switch x := v.(type) {
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return "", FieldErrorf(field, "%s: the object cannot be encoded as JSON", name)
		}
		if len(b) > credjson.MaxBytes {
			return "", FieldErrorf(field, "%s: the credential JSON is %d bytes; at most %d are accepted", name, len(b), credjson.MaxBytes)
		}
		return string(b), nil
	case json.RawMessage:
		return normalizeCredJSON(name, string(x))
	case string:
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(x)); err != nil || len(x) > credjson.MaxBytes {
			if perr := credjson.CheckSyntax(name, []byte(x)); perr != nil {
				return "", prefixField(perr)
			}
			return "", FieldErrorf(field, "%s: the credential JSON is not valid JSON", name)
		}
		return buf.String(), nil
	}
	return "", FieldErrorf(field, "%s must be a JSON object or a string holding one", name)
}

// checkToken checks an oauth2 access token value without ever quoting it.
func checkToken(v any) (string, error) {
	field := cfgField(FieldToken)
	s, ok := v.(string)
	switch {
	case !ok:
		return "", FieldErrorf(field, "token must be a string (an OAuth 2.0 access token)")
	case s == "":
		return "", FieldErrorf(field, "token is empty")
	case len(s) > MaxTokenBytes:
		return "", FieldErrorf(field, "token is %d bytes; at most %d are accepted", len(s), MaxTokenBytes)
	case strings.HasPrefix(strings.TrimSpace(s), "{"):
		return "", FieldErrorf(field, "token looks like a credential JSON; give an access token, or use auth method service-account or user-account for a key")
	case !input.All(s, input.IsPrintableASCII):
		return "", FieldErrorf(field, "token must be printable ASCII without spaces (an access token such as ya29....)")
	case strings.HasPrefix(strings.ToLower(s), "bearer"):
		return "", FieldErrorf(field, `token must be the access token alone, without "Bearer"`)
	}
	return s, nil
}

// saEmailList decodes delegates: a JSON array of strings, or one string of comma-separated
// emails.
func saEmailList(name string, v any) ([]string, error) {
	field := cfgField(name)
	var items []string
	switch x := v.(type) {
	case []any:
		for _, it := range x {
			s, ok := it.(string)
			if !ok {
				return nil, FieldErrorf(field, "%s must be a list of service account emails", name)
			}
			items = append(items, s)
		}
	case []string:
		items = slices.Clone(x)
	case string:
		for s := range strings.SplitSeq(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	default:
		return nil, FieldErrorf(field, "%s must be a list of service account emails", name)
	}
	if len(items) > MaxDelegates {
		return nil, FieldErrorf(field, "%s has %d entries; at most %d are accepted", name, len(items), MaxDelegates)
	}
	for i, s := range items {
		if why := credjson.ServiceAccountEmailProblem(s); why != "" {
			return nil, FieldErrorf(field, "%s[%d] %s is not a service account email: %s", name, i, input.Quote(s), why)
		}
		if slices.Contains(items[:i], s) {
			return nil, FieldErrorf(field, "%s lists %s twice", name, input.Quote(s))
		}
	}
	if len(items) == 0 {
		return nil, nil
	}
	return items, nil
}

// boolValue decodes a boolean given as a JSON boolean or the strings "true" and "false".
func boolValue(name string, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, FieldErrorf(cfgField(name), "%s must be true or false", name)
}

// CheckImplicit reports whether the policy allows the connector's configuration: auth method
// implicit, keyless impersonation and external-account configs with an ambient
// credential_source need AllowImplicit. It fails with ErrFailedPrecondition and a message
// naming GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS. Mint, Verify and Sweep call it too, so that
// connectors registered while implicit methods were enabled stop working when they are
// disabled.
func (p Policy) CheckImplicit(c *Connector, s Secrets) error {
	if p.AllowImplicit {
		return nil // without parsing the external account config on every mint
	}
	var ext *credjson.ExternalAccountConfig
	if c.AuthMethod == ExternalAccount && s.ExternalAccountJSON != "" {
		var err error
		if ext, err = s.ExternalAccount(); err != nil {
			return err
		}
	}
	return checkPolicy(p, c.AuthMethod, s, ext)
}

const implicitHint = "an operator can enable implicit auth methods by setting GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true on the deployment"

func checkPolicy(p Policy, m AuthMethod, s Secrets, ext *credjson.ExternalAccountConfig) error {
	if p.AllowImplicit {
		return nil
	}
	switch {
	case m == Implicit:
		return &Error{Kind: ErrFailedPrecondition, Field: "auth_method", Message: "auth method implicit is disabled on this deployment: " +
			"it would hand out tokens of the service's own identity; use service-account or impersonation instead, or " + implicitHint}
	case m == Impersonation && s.ServiceAccountJSON == "":
		return &Error{Kind: ErrFailedPrecondition, Field: cfgField(FieldServiceAccountJSON), Message: "keyless impersonation " +
			"(impersonation without service_account_json, from the service's own identity) is disabled on this deployment: " +
			"give the source service account key in service_account_json, or " + implicitHint}
	case m == ExternalAccount && ext != nil && ext.Ambient() != "":
		cloud := map[string]string{credjson.AmbientAWS: "AWS", credjson.AmbientAzure: "Azure"}[ext.Ambient()]
		return &Error{Kind: ErrFailedPrecondition, Field: cfgField(FieldExternalAccountJSON), Message: fmt.Sprintf(
			"external_account_json reads the service's own %s identity (credential_source), an implicit source that is disabled on this deployment: "+
				"leave credential_source out and send the subject token with each mint request, or %s", cloud, implicitHint)}
	}
	return nil
}

// wantedTypes returns the resource types a request names: ResourceType, ResourceTypes, or
// every type when both are empty; it does not validate them.
func wantedTypes(rt ResourceType, rts []ResourceType) []ResourceType {
	switch {
	case rt != "":
		return []ResourceType{rt}
	case len(rts) > 0:
		return rts
	}
	return slices.Clone(ResourceTypes)
}

// connectorShape validates the resource types and id of a request and returns the types the
// connector serves (in spec order), its canonical resource id and whether it is
// multi-instance.
func connectorShape(rt ResourceType, rts []ResourceType, id, project string) ([]ResourceType, string, bool, error) {
	if rt != "" && len(rts) > 0 && !(len(rts) == 1 && rts[0] == rt) {
		return nil, "", false, FieldErrorf("resource_types",
			"give resource_type or resource_types, not both with different values (resource_type %s, resource_types %s)",
			input.Quote(string(rt)), joinTypes(rts))
	}
	field := "resource_types"
	if rt != "" {
		field = "resource_type"
	}
	want := wantedTypes(rt, rts)
	for i, t := range want {
		if _, ok := resourceTypeInfo[t]; !ok {
			return nil, "", false, FieldErrorf(field, "unknown resource type %s; known types: %s", input.Quote(string(t)), joinTypes(ResourceTypes))
		}
		if slices.Contains(want[:i], t) {
			return nil, "", false, FieldErrorf(field, "resource type %q is listed twice", t)
		}
	}
	if len(want) > 1 {
		if id != "" {
			return nil, "", false, FieldErrorf("resource_id",
				"resource_id needs exactly one resource type, but the connector serves %s; give resource_type too", joinTypes(want))
		}
		var types []ResourceType
		for _, t := range ResourceTypes {
			if slices.Contains(want, t) {
				types = append(types, t)
			}
		}
		return types, "", false, nil
	}
	t := want[0]
	switch {
	case !supportsInstances(t) && id == "":
		return []ResourceType{t}, project, false, nil
	case id == "":
		return []ResourceType{t}, "", true, nil
	}
	canon, err := resourceid.Canonical(t, id, project)
	if err != nil {
		return nil, "", false, err
	}
	return []ResourceType{t}, canon, false, nil
}

// checkExpiresAt applies the expires_at rules and returns the value to store (UTC).
func checkExpiresAt(m AuthMethod, at *time.Time, now time.Time, checkAhead bool) (time.Time, error) {
	set := at != nil && !at.IsZero()
	if m != OAuth2Token {
		if set {
			return time.Time{}, FieldErrorf("expires_at",
				"expires_at applies only to oauth2-token connectors (when their stored token expires); auth method %s mints fresh tokens", m)
		}
		return time.Time{}, nil
	}
	if !set {
		return time.Time{}, FieldErrorf("expires_at",
			"expires_at is required for oauth2-token connectors: say when the token expires (Google access tokens expire, usually after 1 hour)")
	}
	t := at.UTC()
	if checkAhead {
		left := t.Sub(now)
		switch {
		case left <= 0:
			return time.Time{}, FieldErrorf("expires_at", "expires_at %s is in the past; the token has expired", t.Format(time.RFC3339))
		case left < MinTokenRemaining:
			return time.Time{}, FieldErrorf("expires_at",
				"expires_at %s is only %s away; a token needs at least %s left to be handed out", t.Format(time.RFC3339), left.Truncate(time.Second), MinTokenRemaining)
		case left > MaxTokenExpiry:
			return time.Time{}, FieldErrorf("expires_at",
				"expires_at %s is more than %s away; Google access tokens live at most 12 hours", t.Format(time.RFC3339), MaxTokenExpiry)
		}
	}
	return t, nil
}

// checkExpirationSeconds applies zenml's validate_expiration semantics with better messages:
// 0 or nil means the method's default.
func checkExpirationSeconds(r *methodRule, p *int) (int, error) {
	if p == nil || *p == 0 {
		return 0, nil
	}
	n := *p
	const field = "expiration_seconds"
	l := r.lifetime
	switch {
	case n < 0:
		return 0, FieldErrorf(field, "expiration_seconds must be a positive number of seconds, or 0 for the default; got %d", n)
	case l == nil:
		return 0, FieldErrorf(field, "expiration_seconds does not apply to auth method %s: the stored token lasts until expires_at", r.method)
	case l.fixed() && n != l.def:
		return 0, FieldErrorf(field, "expiration_seconds cannot be chosen for auth method %s: %s (%d seconds); leave it out", r.method, l.why, l.def)
	case n < l.min || n > l.max:
		return 0, FieldErrorf(field, "expiration_seconds must be between %d and %d seconds (%s to %s) for auth method %s; got %d",
			l.min, l.max, seconds(l.min), seconds(l.max), r.method, n)
	}
	return n, nil
}

// checkLabels validates Kubernetes-style labels and returns a copy (nil when empty).
func checkLabels(labels map[string]string) (map[string]string, error) {
	if len(labels) == 0 {
		return nil, nil
	}
	if len(labels) > MaxLabels {
		return nil, FieldErrorf("labels", "a connector has at most %d labels; got %d", MaxLabels, len(labels))
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if why := labelKeyProblem(k); why != "" {
			return nil, FieldErrorf("labels", "invalid label key %s: %s", input.Quote(k), why)
		}
		if v := labels[k]; v != "" {
			if why := labelNameProblem(v); why != "" {
				return nil, FieldErrorf("labels", "invalid value %s of label %q: %s", input.Quote(v), k, why)
			}
		}
	}
	return maps.Clone(labels), nil
}

func labelKeyProblem(k string) string {
	prefix, name, ok := strings.Cut(k, "/")
	if !ok {
		return labelNameProblem(k)
	}
	if prefix == "" || len(prefix) > 253 {
		return "the prefix before / must be a DNS subdomain of 1 to 253 characters"
	}
	if !input.DNSLabels(strings.Split(prefix, ".")) {
		return "the prefix before / must be a lowercase DNS subdomain such as example.com"
	}
	return labelNameProblem(name)
}

func labelNameProblem(s string) string {
	alnum := func(c byte) bool { return input.IsLowerDigit(c) || ('A' <= c && c <= 'Z') }
	switch {
	case s == "":
		return "the name is empty"
	case len(s) > 63:
		return "it is longer than 63 characters"
	case !alnum(s[0]) || !alnum(s[len(s)-1]):
		return "it must start and end with a letter or digit"
	case !input.All(s, func(c byte) bool { return alnum(c) || c == '-' || c == '_' || c == '.' }):
		return "it may contain only letters, digits, '-', '_' and '.'"
	}
	return ""
}

// checkUsers validates the users (principal patterns, see CheckPrincipalPattern) and returns
// them normalised (emails lowercase, federated subjects as given), without duplicates.
func checkUsers(users []string, issuers []string) ([]string, error) {
	if len(users) == 0 {
		return nil, nil
	}
	if len(users) > MaxUsers {
		return nil, FieldErrorf("users", "a connector has at most %d users; got %d", MaxUsers, len(users))
	}
	out := make([]string, 0, len(users))
	for i, u := range users {
		u, err := CheckPrincipalPattern(u, issuers)
		if err != nil {
			return nil, FieldErrorf("users", "users[%d] %v", i, err)
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// emailProblem returns why s is not an email address, or "": one @, a local part of 1 to 64
// characters (letters, digits and !#$%&'*+/=?^_`{|}~.- with no leading, trailing or double
// dot), and a DNS domain of at least two labels.
func emailProblem(s string) string {
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case len(s) > 254:
		return "it is longer than 254 characters"
	case !ok || strings.Contains(domain, "@"):
		return "it must have exactly one @"
	case local == "" || len(local) > 64:
		return "the part before @ must be 1 to 64 characters"
	case !input.All(local, func(c byte) bool {
		return input.IsLowerDigit(c) || ('A' <= c && c <= 'Z') || strings.IndexByte("!#$%&'*+/=?^_`{|}~.-", c) >= 0
	}):
		return "the part before @ has a character that is not allowed"
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return "the part before @ must not start or end with a dot or have two in a row"
	}
	labels := strings.Split(strings.ToLower(domain), ".")
	if len(labels) < 2 {
		return "the domain must have a dot, as in example.com"
	}
	if !input.DNSLabels(labels) {
		return "the domain must be a DNS name such as example.com"
	}
	return ""
}

// checkDescription validates a connector description.
func checkDescription(d string) error {
	switch {
	case len(d) > MaxDescriptionLen:
		return FieldErrorf("description", "description is %d bytes; at most %d are accepted", len(d), MaxDescriptionLen)
	case !utf8.ValidString(d):
		return FieldErrorf("description", "description is not valid UTF-8")
	case strings.ContainsFunc(d, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return FieldErrorf("description", "description must not contain control characters other than newline and tab")
	}
	return nil
}
