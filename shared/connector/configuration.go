package connector

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
		if err := resourceid.CheckProjectID(s); err != nil {
			return FieldErrorf(field, "invalid %s %s: %v", f.name, input.Quote(s), err)
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
	case fieldUserAccountJSON:
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
	if err := credjson.CheckServiceAccountEmail(s); err != nil {
		return FieldErrorf(cfgField(name), "%s %s is not a service account email: %v", name, input.Quote(s), err)
	}
	switch name {
	case fieldServiceAccountEmail:
		p.cfg.ServiceAccountEmail = s
	case fieldTargetPrincipal:
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
		if name != fieldProjectID && !present(name) {
			f, _ := r.field(name)
			return FieldErrorf(cfgField(name), "%s is required for auth method %s (%s)", name, r.method, f.title)
		}
	}
	if cfg.ProjectID == "" {
		why := "the project the connector's resources live in"
		if r.method == ServiceAccount {
			why = "it was left out and the service account key has no project_id to default to"
		}
		return FieldErrorf(cfgField(fieldProjectID), "%s is required for auth method %s: %s", fieldProjectID, r.method, why)
	}
	if slices.Contains(cfg.Delegates, cfg.TargetPrincipal) {
		return FieldErrorf(cfgField(fieldDelegates),
			"%s must not include target_principal %s: delegates are the accounts between the source and the target", fieldDelegates, input.Quote(cfg.TargetPrincipal))
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
	if k == fieldGenerateTemporaryTokens && r.method == OAuth2Token {
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
	field := cfgField(fieldToken)
	s, ok := v.(string)
	switch {
	case !ok:
		return "", FieldErrorf(field, "token must be a string (an OAuth 2.0 access token)")
	case s == "":
		return "", FieldErrorf(field, "token is empty")
	case len(s) > maxTokenBytes:
		return "", FieldErrorf(field, "token is %d bytes; at most %d are accepted", len(s), maxTokenBytes)
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
	if len(items) > maxDelegates {
		return nil, FieldErrorf(field, "%s has %d entries; at most %d are accepted", name, len(items), maxDelegates)
	}
	for i, s := range items {
		if err := credjson.CheckServiceAccountEmail(s); err != nil {
			return nil, FieldErrorf(field, "%s[%d] %s is not a service account email: %v", name, i, input.Quote(s), err)
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
