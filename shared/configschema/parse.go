package configschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gcpconn/gcpconn/shared/credjson"
	"github.com/gcpconn/gcpconn/shared/internal/input"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// Error is a refusal of a configuration: the field at fault, under "configuration."
// ("configuration.project_id"), and a message safe to show the caller (never a secret value).
// The core reports it as an ErrInvalid error for Field.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Message }

// fieldErrorf builds an *Error for field.
func fieldErrorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// FieldPath is the request path of configuration field name: "configuration." + name.
func FieldPath(name string) string { return "configuration." + name }

// Parsed is a configuration as Parse accepts it: the plain fields, the secret ones and the
// credential JSON parsed on the way.
type Parsed struct {
	ProjectID           string
	ServiceAccountEmail string
	TargetPrincipal     string
	Delegates           []string
	// GenerateTemporaryTokens is nil when the configuration leaves it out (default true).
	GenerateTemporaryTokens *bool
	// Secrets holds the secret field values by field name, credential JSON compacted.
	Secrets  SecretValues
	Key      *credjson.ServiceAccountKey     // the parsed service_account_json, if any
	External *credjson.ExternalAccountConfig // the parsed external_account_json, if any
}

// SecretValues holds secret field values by field name. Every fmt verb prints it as
// [HIDDEN], also inside a printed Parsed, so the values cannot reach a log by mistake.
type SecretValues map[string]string

// Format makes every fmt verb print [HIDDEN].
func (SecretValues) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[HIDDEN]")) }

// Parse checks a configuration map against m's schema and returns its values. A refusal is
// an *Error naming the field at fault and what is accepted.
func (m *Method) Parse(raw map[string]any) (Parsed, error) {
	p := Parsed{Secrets: SecretValues{}}
	keys := slices.Sorted(maps.Keys(raw))
	for _, k := range keys {
		if _, ok := m.field(k); !ok {
			return p, unknownFieldError(m, k)
		}
	}
	// A JSON null or an empty string counts as absent.
	present := func(name string) bool { v, ok := raw[name]; return ok && v != nil && v != "" }
	for _, f := range m.fields {
		if !present(f.name) {
			continue
		}
		if err := p.set(m, f, raw[f.name]); err != nil {
			return p, err
		}
	}
	err := p.complete(m, present)
	return p, err
}

// set checks the value v of configuration field f of method r and stores it.
func (p *Parsed) set(r *Method, f configField, v any) error {
	field := FieldPath(f.name)
	switch f.kind {
	case kindProject:
		s, ok := v.(string)
		if !ok {
			return fieldErrorf(field, "%s must be a string (the project id)", f.name)
		}
		if err := resourceid.CheckProjectID(s); err != nil {
			return fieldErrorf(field, "invalid %s %s: %v", f.name, input.Quote(s), err)
		}
		p.ProjectID = s
	case kindCredJSON:
		return p.setCredJSON(f.name, v)
	case kindToken:
		s, err := checkToken(v)
		if err != nil {
			return err
		}
		p.Secrets[FieldToken] = s
	case kindSAEmail:
		return p.setSAEmail(f.name, v)
	case kindSAEmails:
		list, err := saEmailList(f.name, v)
		if err != nil {
			return err
		}
		p.Delegates = list
	case kindBool, kindTrueOnly:
		b, err := boolValue(f.name, v)
		if err != nil {
			return err
		}
		if !b && f.kind == kindTrueOnly {
			return fieldErrorf(field, "%s cannot be false for auth method %s: %s", f.name, r.method, neverHandsOut(r.method))
		}
		p.GenerateTemporaryTokens = &b
	}
	return nil
}

// setCredJSON checks and stores the credential JSON field name.
func (p *Parsed) setCredJSON(name string, v any) error {
	norm, err := normalizeCredJSON(name, v)
	if err != nil {
		return err
	}
	switch name {
	case FieldServiceAccountJSON:
		if p.Key, err = credjson.ParseServiceAccountKey([]byte(norm)); err != nil {
			return prefixField(err)
		}
		p.Secrets[name] = norm
	case FieldUserAccountJSON:
		if _, err = credjson.ParseAuthorizedUser([]byte(norm)); err != nil {
			return prefixField(err)
		}
		p.Secrets[name] = norm
	case FieldExternalAccountJSON:
		if p.External, err = credjson.ParseExternalAccount([]byte(norm)); err != nil {
			return prefixField(err)
		}
		p.Secrets[name] = norm
	}
	return nil
}

// setSAEmail checks and stores the service-account email field name.
func (p *Parsed) setSAEmail(name string, v any) error {
	s, ok := v.(string)
	if !ok {
		return fieldErrorf(FieldPath(name), "%s must be a string (a service account email)", name)
	}
	if err := credjson.CheckServiceAccountEmail(s); err != nil {
		return fieldErrorf(FieldPath(name), "%s %s is not a service account email: %v", name, input.Quote(s), err)
	}
	switch name {
	case FieldServiceAccountEmail:
		p.ServiceAccountEmail = s
	case FieldTargetPrincipal:
		p.TargetPrincipal = s
	}
	return nil
}

// complete checks the configuration as a whole once every field is read: the required
// fields of method r (present says which are), the project (defaulted from a service-account
// key), and delegates that do not include the target.
func (p *Parsed) complete(r *Method, present func(string) bool) error {
	if p.ProjectID == "" && r.method == ServiceAccount && p.Key != nil {
		p.ProjectID = p.Key.ProjectID
	}
	for _, name := range r.required {
		if name != FieldProjectID && !present(name) {
			f, _ := r.field(name)
			return fieldErrorf(FieldPath(name), "%s is required for auth method %s (%s)", name, r.method, f.title)
		}
	}
	if p.ProjectID == "" {
		why := "the project the connector's resources live in"
		if r.method == ServiceAccount {
			why = "it was left out and the service account key has no project_id to default to"
		}
		return fieldErrorf(FieldPath(FieldProjectID), "%s is required for auth method %s: %s", FieldProjectID, r.method, why)
	}
	if slices.Contains(p.Delegates, p.TargetPrincipal) {
		return fieldErrorf(FieldPath(FieldDelegates),
			"%s must not include target_principal %s: delegates are the accounts between the source and the target", FieldDelegates, input.Quote(p.TargetPrincipal))
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
func unknownFieldError(r *Method, k string) error {
	field := FieldPath(k)
	if k == FieldGenerateTemporaryTokens && r.method == OAuth2Token {
		return fieldErrorf(field, "%s does not apply to auth method oauth2-token: its stored token is handed out as is until expires_at", k)
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
	return fieldErrorf(field, "unknown configuration field %s for auth method %s%s; accepted fields: %s",
		input.Quote(k), r.method, hint, strings.Join(r.fieldNames(), ", "))
}

// prefixField turns a credential JSON refusal into an *Error for its field under
// "configuration.".
func prefixField(err error) error {
	var e *credjson.Error
	if errors.As(err, &e) {
		return fieldErrorf(FieldPath(e.Field), "%s", e.Message)
	}
	return err
}

// normalizeCredJSON turns a credential JSON given as an object or a string into a compact
// JSON string. It checks only the shape; the content is checked by the typed parsers.
func normalizeCredJSON(name string, v any) (string, error) {
	field := FieldPath(name)
	switch x := v.(type) {
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return "", fieldErrorf(field, "%s: the object cannot be encoded as JSON", name)
		}
		if len(b) > credjson.MaxBytes {
			return "", fieldErrorf(field, "%s: the credential JSON is %d bytes; at most %d are accepted", name, len(b), credjson.MaxBytes)
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
			return "", fieldErrorf(field, "%s: the credential JSON is not valid JSON", name)
		}
		return buf.String(), nil
	}
	return "", fieldErrorf(field, "%s must be a JSON object or a string holding one", name)
}

// checkToken checks an oauth2 access token value without ever quoting it.
func checkToken(v any) (string, error) {
	field := FieldPath(FieldToken)
	s, ok := v.(string)
	switch {
	case !ok:
		return "", fieldErrorf(field, "token must be a string (an OAuth 2.0 access token)")
	case s == "":
		return "", fieldErrorf(field, "token is empty")
	case len(s) > MaxTokenBytes:
		return "", fieldErrorf(field, "token is %d bytes; at most %d are accepted", len(s), MaxTokenBytes)
	case strings.HasPrefix(strings.TrimSpace(s), "{"):
		return "", fieldErrorf(field, "token looks like a credential JSON; give an access token, or use auth method service-account or user-account for a key")
	case !input.All(s, input.IsPrintableASCII):
		return "", fieldErrorf(field, "token must be printable ASCII without spaces (an access token such as ya29....)")
	case strings.HasPrefix(strings.ToLower(s), "bearer"):
		return "", fieldErrorf(field, `token must be the access token alone, without "Bearer"`)
	}
	return s, nil
}

// saEmailList decodes delegates: a JSON array of strings, or one string of comma-separated
// emails.
func saEmailList(name string, v any) ([]string, error) {
	field := FieldPath(name)
	var items []string
	switch x := v.(type) {
	case []any:
		for _, it := range x {
			s, ok := it.(string)
			if !ok {
				return nil, fieldErrorf(field, "%s must be a list of service account emails", name)
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
		return nil, fieldErrorf(field, "%s must be a list of service account emails", name)
	}
	if len(items) > maxDelegates {
		return nil, fieldErrorf(field, "%s has %d entries; at most %d are accepted", name, len(items), maxDelegates)
	}
	for i, s := range items {
		if err := credjson.CheckServiceAccountEmail(s); err != nil {
			return nil, fieldErrorf(field, "%s[%d] %s is not a service account email: %v", name, i, input.Quote(s), err)
		}
		if slices.Contains(items[:i], s) {
			return nil, fieldErrorf(field, "%s lists %s twice", name, input.Quote(s))
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
	return false, fieldErrorf(FieldPath(name), "%s must be true or false", name)
}
