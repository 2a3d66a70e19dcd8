// Package configschema is the configuration schema of gcpconn's auth methods: for each
// method, the fields its configuration accepts (which are secret, which are required, how
// each is checked and decoded), the lifetimes of the tokens it mints and the JSON Schema the
// type spec publishes. Parse checks a configuration map against it: unknown and missing
// fields, secret and plain fields, the *_json credentials (through package credjson) and the
// defaults. The core (shared/connector) holds the connector and calls into this package; this
// package does not import the core, so its refusals are *Error values (a field and a
// caller-safe message) that the core turns into its ErrInvalid errors.
package configschema

import (
	"time"

	"github.com/gcpconn/gcpconn/shared/credjson"
	"github.com/gcpconn/gcpconn/shared/typespec"
)

// AuthMethod says how a connector's stored credentials become Google access tokens
// (connector.AuthMethod is this type).
type AuthMethod string

// The auth methods of the gcp connector type.
const (
	Implicit        AuthMethod = "implicit"         // the service's own ambient credentials (gated)
	UserAccount     AuthMethod = "user-account"     // authorized_user JSON: refresh grant
	ServiceAccount  AuthMethod = "service-account"  // service_account key JSON: JWT-bearer grant
	ExternalAccount AuthMethod = "external-account" // external_account JSON: STS exchange (+ impersonation)
	OAuth2Token     AuthMethod = "oauth2-token"     // a stored access token, handed out until it expires
	Impersonation   AuthMethod = "impersonation"    // generateAccessToken on target_principal
)

// Token lifetimes, in seconds, of the auth methods that mint tokens (see Lifetime).
const (
	// DefaultLifetimeSeconds is the lifetime of a minted token when nobody asks for another:
	// one hour, the lifetime of every token Google's token endpoints issue.
	DefaultLifetimeSeconds = 3600
	// MinLifetimeSeconds is the shortest lifetime a caller may ask for where the lifetime can
	// be chosen (service-account and impersonation). Shorter tokens would fall below the
	// connector.MinTokenRemaining floor almost at once.
	MinLifetimeSeconds = 600
	// MaxLifetimeSeconds is the longest lifetime gcpconn mints: one hour. IAM Credentials can
	// issue up to 12 h only with an organization policy exception, which gcpconn does not use.
	MaxLifetimeSeconds = 3600
)

// Configuration field names as they appear in configuration and the type spec.
const (
	FieldProjectID               = "project_id"
	FieldServiceAccountEmail     = "service_account_email"
	FieldTargetPrincipal         = "target_principal"
	FieldDelegates               = "delegates"
	FieldGenerateTemporaryTokens = "generate_temporary_tokens"
	// The secret fields.
	FieldServiceAccountJSON  = credjson.ServiceAccountJSON
	FieldUserAccountJSON     = credjson.UserAccountJSON
	FieldExternalAccountJSON = credjson.ExternalAccountJSON
	FieldToken               = "token"
)

// MaxTokenBytes bounds an oauth2-token's token, in bytes.
const MaxTokenBytes = 8 << 10

// maxDelegates is the longest impersonation delegation chain accepted.
const maxDelegates = 10

// fieldKind says how a configuration value is decoded and checked.
type fieldKind int

const (
	kindProject  fieldKind = iota // a project id string
	kindCredJSON                  // a credential JSON, given as an object or a string (secret)
	kindToken                     // a bearer token string (secret)
	kindSAEmail                   // a service account email string
	kindSAEmails                  // a list of service account emails
	kindBool                      // a boolean
	kindTrueOnly                  // a boolean that may only be true
)

// configField is one field of an auth method's configuration.
type configField struct {
	name        string
	kind        fieldKind
	title       string
	description string
}

func (f configField) secret() bool { return f.kind == kindCredJSON || f.kind == kindToken }

// Lifetime bounds the lifetimes of an auth method's minted tokens, in seconds.
type Lifetime struct {
	Min, Default, Max int
	Why               string // why the lifetime is fixed (Min == Max), for connector.Lifetime reasons
}

// Fixed reports whether the lifetime cannot be chosen.
func (l Lifetime) Fixed() bool { return l.Min == l.Max }

// Method is the configuration schema of one auth method. Methods are never modified.
type Method struct {
	method      AuthMethod
	name        string
	description string
	fields      []configField
	required    []string
	lifetime    *Lifetime // nil for oauth2-token
	implicit    string    // see typespec.AuthMethodSpec.Implicit
	// credType is the "type" the method's credential JSON must carry; "" without one.
	credType string
}

func (m *Method) field(name string) (configField, bool) {
	for _, f := range m.fields {
		if f.name == name {
			return f, true
		}
	}
	return configField{}, false
}

func (m *Method) fieldNames() []string {
	names := make([]string, len(m.fields))
	for i, f := range m.fields {
		names[i] = f.name
	}
	return names
}

var (
	fieldProject = configField{FieldProjectID, kindProject, "GCP project ID",
		"The project the connector's resources live in. Every resource id is checked against it. " +
			"Domain-scoped projects are spelled example.com:my-project."}
	fieldGenerate = configField{FieldGenerateTemporaryTokens, kindBool, "Generate temporary tokens",
		"When true (the default), callers get short-lived OAuth 2.0 access tokens. When false, " +
			"mint-token hands out the stored credential JSON itself (not recommended)."}
	fieldGenerateAlways = configField{FieldGenerateTemporaryTokens, kindTrueOnly, "Generate temporary tokens",
		"Always true: this method never hands out the credentials it mints from."}
	fieldSAKey = configField{FieldServiceAccountJSON, kindCredJSON, "Service account key JSON",
		`A service account key file (type "service_account"), as a JSON object or a string.`}
)

func lifetimeFixed(why string) *Lifetime {
	return &Lifetime{DefaultLifetimeSeconds, DefaultLifetimeSeconds, DefaultLifetimeSeconds, why}
}

func lifetimeRange() *Lifetime {
	return &Lifetime{MinLifetimeSeconds, DefaultLifetimeSeconds, MaxLifetimeSeconds, ""}
}

// methodRules lists the auth methods in spec order. It is never modified.
var methodRules = []*Method{
	{
		method: Implicit,
		name:   "GCP implicit authentication",
		description: "Uses the gcpconn service's own Application Default Credentials (its attached " +
			"service account). No credentials are stored. Callers get tokens with every permission " +
			"the service itself has, so the method is disabled unless the deployment sets " +
			"GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true. Tokens last 1 hour.",
		fields:   []configField{fieldProject, fieldGenerateAlways},
		required: []string{FieldProjectID},
		lifetime: lifetimeFixed("implicit tokens come from the service's own credentials, which Google issues for 1h0m0s"),
		implicit: "always",
	},
	{
		method: UserAccount,
		name:   "GCP user account",
		description: "Stores a user's OAuth 2.0 refresh token (an authorized_user JSON, as written by " +
			"`gcloud auth application-default login`) and mints 1-hour access tokens from it with a " +
			"refresh grant. Callers get the user's full permissions: prefer a service account or " +
			"impersonation in production.",
		fields: []configField{fieldProject,
			{FieldUserAccountJSON, kindCredJSON, "User account credentials JSON",
				`An authorized_user credentials file (type "authorized_user"), as a JSON object or a string.`},
			fieldGenerate},
		required: []string{FieldProjectID, FieldUserAccountJSON},
		lifetime: lifetimeFixed("user-account tokens come from a refresh grant, which Google issues for 1h0m0s"),
		credType: credjson.TypeAuthorizedUser,
	},
	{
		method: ServiceAccount,
		name:   "GCP service account",
		description: "Stores a service account key JSON and mints access tokens from it: 1 hour by " +
			"JWT-bearer grant, or shorter through IAM Credentials generateAccessToken on the account " +
			"itself (which needs the account to hold roles/iam.serviceAccountTokenCreator on itself). " +
			"project_id defaults to the key's project_id.",
		fields:   []configField{fieldProject, fieldSAKey, fieldGenerate},
		required: []string{FieldServiceAccountJSON},
		lifetime: lifetimeRange(),
		credType: credjson.TypeServiceAccount,
	},
	{
		method: ExternalAccount,
		name:   "GCP external account (workload identity federation)",
		description: "Stores a workload identity federation config (an external_account JSON) and " +
			"exchanges a subject token for a Google token at STS, impersonating a service account " +
			"when the config says so. By default the caller supplies the subject token with each " +
			"request; a config whose credential_source reads the service's own AWS or Azure identity " +
			"is implicit and needs GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true. credential_source file, " +
			"url and executable are refused. Tokens last 1 hour.",
		fields: []configField{fieldProject,
			{FieldExternalAccountJSON, kindCredJSON, "External account configuration JSON",
				`A workload identity federation credential configuration (type "external_account"), as a JSON object or a string.`},
			fieldGenerate},
		required: []string{FieldProjectID, FieldExternalAccountJSON},
		lifetime: lifetimeFixed("external-account tokens come from an STS exchange, which Google issues for 1h0m0s"),
		implicit: "ambient-source",
		credType: credjson.TypeExternalAccount,
	},
	{
		method: OAuth2Token,
		name:   "GCP OAuth 2.0 token",
		description: "Stores an OAuth 2.0 access token and hands it out as is until it expires. " +
			"expires_at is required (when the token expires, at most 12 hours ahead); minting stops " +
			"5 minutes before it. The owner must register a fresh token to keep the connector working.",
		fields: []configField{fieldProject,
			{FieldToken, kindToken, "OAuth 2.0 access token", "The access token to hand out."},
			{FieldServiceAccountEmail, kindSAEmail, "Service account email",
				"The service account the token belongs to; leave it out for a user's token."}},
		required: []string{FieldProjectID, FieldToken},
	},
	{
		method: Impersonation,
		name:   "GCP service account impersonation",
		description: "Mints tokens for target_principal with IAM Credentials generateAccessToken " +
			"(through delegates, if any), lifetime 10 minutes to 1 hour. The source identity is " +
			"the service account of service_account_json, which needs " +
			"roles/iam.serviceAccountTokenCreator on the target; without a key it is the gcpconn " +
			"service's own identity (keyless), which is implicit and needs " +
			"GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true.",
		fields: []configField{fieldProject,
			{FieldServiceAccountJSON, kindCredJSON, "Source service account key JSON",
				`The key of the service account that impersonates (type "service_account"), as a JSON object or a string. Leave it out for keyless impersonation.`},
			{FieldTargetPrincipal, kindSAEmail, "Target service account email", "The service account to impersonate."},
			{FieldDelegates, kindSAEmails, "Delegates",
				"Service account emails forming the delegation chain from the source to the target, in order."},
			fieldGenerateAlways},
		required: []string{FieldProjectID, FieldTargetPrincipal},
		lifetime: lifetimeRange(),
		implicit: "keyless",
		credType: credjson.TypeServiceAccount,
	},
}

// Lookup returns the schema of m, or nil for an unknown method.
func Lookup(m AuthMethod) *Method {
	for _, r := range methodRules {
		if r.method == m {
			return r
		}
	}
	return nil
}

// CheckExpirationSeconds checks a connector's expiration_seconds n (not 0, which means the
// default) against the method's lifetimes, with zenml's validate_expiration semantics and
// better messages. A refusal is an *Error for expiration_seconds.
func (m *Method) CheckExpirationSeconds(n int) error {
	const field = "expiration_seconds"
	l := m.lifetime
	switch {
	case n < 0:
		return fieldErrorf(field, "expiration_seconds must be a positive number of seconds, or 0 for the default; got %d", n)
	case l == nil:
		return fieldErrorf(field, "expiration_seconds does not apply to auth method %s: the stored token lasts until expires_at", m.method)
	case l.Fixed() && n != l.Default:
		return fieldErrorf(field, "expiration_seconds cannot be chosen for auth method %s: %s (%d seconds); leave it out", m.method, l.Why, l.Default)
	case n < l.Min || n > l.Max:
		return fieldErrorf(field, "expiration_seconds must be between %d and %d seconds (%s to %s) for auth method %s; got %d",
			l.Min, l.Max, seconds(l.Min), seconds(l.Max), m.method, n)
	}
	return nil
}

// seconds formats n seconds as a duration ("10m0s").
func seconds(n int) string { return (time.Duration(n) * time.Second).String() }

// Methods returns every auth method in spec order, in a new slice.
func Methods() []AuthMethod {
	ms := make([]AuthMethod, len(methodRules))
	for i, r := range methodRules {
		ms[i] = r.method
	}
	return ms
}

// HandedOut returns the secret field whose value (the method's credential JSON) a connector
// hands out instead of tokens when its generate_temporary_tokens is false; "" for methods
// that never hand out what they mint from (implicit, impersonation: the field may only be
// true) and for oauth2-token (no such field: its token is handed out anyway).
func (m *Method) HandedOut() string {
	if f, ok := m.field(FieldGenerateTemporaryTokens); !ok || f.kind != kindBool {
		return ""
	}
	for _, f := range m.fields {
		if f.kind == kindCredJSON {
			return f.name
		}
	}
	return ""
}

// Lifetime returns the bounds of the method's token lifetimes; nil for oauth2-token, whose
// stored token lasts until it expires.
func (m *Method) Lifetime() *Lifetime { return m.lifetime }

// SecretFields returns the names of the method's secret fields, in schema order.
func (m *Method) SecretFields() []string {
	var names []string
	for _, f := range m.fields {
		if f.secret() {
			names = append(names, f.name)
		}
	}
	return names
}

// AuthMethodSpecs returns the type spec of every auth method, in spec order. Each call
// returns fresh values that the caller may modify.
func AuthMethodSpecs() []typespec.AuthMethodSpec {
	var specs []typespec.AuthMethodSpec
	for _, r := range methodRules {
		ms := typespec.AuthMethodSpec{
			AuthMethod:        string(r.method),
			Name:              r.name,
			Description:       r.description,
			ConfigSchema:      r.schema(),
			RequiresExpiresAt: r.method == OAuth2Token,
			Implicit:          r.implicit,
		}
		if l := r.lifetime; l != nil {
			// Each spec gets its own ints, so callers cannot change the rules.
			minS, defS, maxS := l.Min, l.Default, l.Max
			ms.MinExpirationSeconds, ms.DefaultExpirationSeconds, ms.MaxExpirationSeconds = &minS, &defS, &maxS
		}
		specs = append(specs, ms)
	}
	return specs
}

// projectIDPattern is the JSON Schema (ECMA-262) pattern of a project id, optionally
// domain-scoped. resourceid.CheckProjectID applies the same rules with better messages.
const projectIDPattern = `^([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`

// saEmailPattern is the JSON Schema pattern of a service account email (see checkSAEmail).
const saEmailPattern = `^[a-z0-9][a-z0-9-]{0,62}@([a-z0-9-]+\.)+gserviceaccount\.com$`

// schema renders the method's configuration as a JSON Schema object.
func (m *Method) schema() map[string]any {
	props := map[string]any{}
	for _, f := range m.fields {
		p := map[string]any{"title": f.title, "description": f.description}
		switch f.kind {
		case kindProject:
			p["type"] = "string"
			p["pattern"] = projectIDPattern
		case kindCredJSON:
			p["type"] = []any{"object", "string"}
			p["format"] = "password"
			p["writeOnly"] = true
			p["maxLength"] = credjson.MaxBytes
		case kindToken:
			p["type"] = "string"
			p["format"] = "password"
			p["writeOnly"] = true
			p["minLength"] = 1
			p["maxLength"] = MaxTokenBytes
		case kindSAEmail:
			p["type"] = "string"
			p["format"] = "email"
			p["pattern"] = saEmailPattern
		case kindSAEmails:
			p["type"] = "array"
			p["items"] = map[string]any{"type": "string", "format": "email", "pattern": saEmailPattern}
			p["maxItems"] = maxDelegates
			p["uniqueItems"] = true
		case kindBool:
			p["type"] = "boolean"
			p["default"] = true
		case kindTrueOnly:
			p["type"] = "boolean"
			p["const"] = true
			p["default"] = true
		}
		props[f.name] = p
	}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"title":                m.name + " configuration",
		"type":                 "object",
		"properties":           props,
		"required":             toAnySlice(m.required),
		"additionalProperties": false,
	}
}

func toAnySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
