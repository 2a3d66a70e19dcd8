package credjson

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gcpconn/gcpconn/shared/internal/input"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/go-json-experiment/json/jsontext"
)

// Error is a refused credential JSON: the credential field at fault and a message safe to
// show the caller, which never repeats a value from the JSON except a recognized type.
type Error struct {
	Field   string // service_account_json, user_account_json or external_account_json
	Message string
}

func (e *Error) Error() string { return e.Message }

func fieldErrorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Credential JSON limits.
const (
	// MaxBytes bounds a credential JSON (service_account_json, ...), in bytes.
	MaxBytes = 16 << 10
	// maxCredJSONDepth bounds the nesting of a credential JSON.
	maxCredJSONDepth = 8
)

// The credential fields of a connector's configuration that hold credential JSON.
const (
	ServiceAccountJSON  = "service_account_json"
	UserAccountJSON     = "user_account_json"
	ExternalAccountJSON = "external_account_json"
)

// Credential JSON types: the "type" each credential field's JSON must carry.
const (
	TypeServiceAccount  = "service_account"
	TypeAuthorizedUser  = "authorized_user"
	TypeExternalAccount = "external_account"
)

// Google's own URLs that credential JSON may carry.
const (
	GoogleTokenURL        = "https://oauth2.googleapis.com/token"
	GoogleLegacyTokenURL  = "https://accounts.google.com/o/oauth2/token"
	GoogleSTSTokenURL     = "https://sts.googleapis.com/v1/token"
	GoogleSTSIntrospect   = "https://sts.googleapis.com/v1/introspect"
	iamCredentialsHost    = "iamcredentials.googleapis.com"
	impersonationPrefix   = "/v1/projects/-/serviceAccounts/"
	impersonationSuffix   = ":generateAccessToken"
	azureIdentityEndpoint = "http://169.254.169.254/metadata/identity/oauth2/token"
)

// informationalHosts may appear in the informational URLs of a service account key.
var informationalHosts = []string{"accounts.google.com", "www.googleapis.com", "oauth2.googleapis.com"}

// knownCredTypes are the credential types a message may name.
var knownCredTypes = []string{
	TypeServiceAccount, TypeAuthorizedUser, TypeExternalAccount,
	"impersonated_service_account", "external_account_authorized_user", "gdch_service_account",
}

// Subject token types of an external account.
const (
	SubjectTokenJWT         = "urn:ietf:params:oauth:token-type:jwt"
	SubjectTokenIDToken     = "urn:ietf:params:oauth:token-type:id_token"
	SubjectTokenSAML2       = "urn:ietf:params:oauth:token-type:saml2"
	SubjectTokenAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	SubjectTokenAWS4Request = "urn:ietf:params:aws:token-type:aws4_request"
)

var subjectTokenTypes = []string{SubjectTokenJWT, SubjectTokenIDToken, SubjectTokenSAML2, SubjectTokenAccessToken, SubjectTokenAWS4Request}

// Ambient sources of an external account (ExternalAccountConfig.Ambient).
const (
	AmbientAWS   = "aws"   // credential_source environment_id "aws1"
	AmbientAzure = "azure" // credential_source url: the Azure instance metadata identity endpoint
)

// ServiceAccountKey is a validated service account key JSON (type "service_account"). Its
// String, Format and LogValue methods never reveal the private key.
type ServiceAccountKey struct {
	Type                    string `json:"type"`                                  // always "service_account"
	ProjectID               string `json:"project_id,omitempty"`                  // the account's project; "" when absent
	PrivateKeyID            string `json:"private_key_id,omitempty"`              // Google's id of the key; "" when absent
	PrivateKey              string `json:"private_key"`                           // PEM, PKCS #8 or PKCS #1 RSA (secret)
	ClientEmail             string `json:"client_email"`                          // the service account's email
	ClientID                string `json:"client_id,omitempty"`                   // the account's numeric unique id; "" when absent
	AuthURI                 string `json:"auth_uri,omitempty"`                    // informational; "" or https on a Google host
	TokenURI                string `json:"token_uri,omitempty"`                   // "" or a Google token URL; never called
	AuthProviderX509CertURL string `json:"auth_provider_x509_cert_url,omitempty"` // informational
	ClientX509CertURL       string `json:"client_x509_cert_url,omitempty"`        // informational
	UniverseDomain          string `json:"universe_domain,omitempty"`             // "" or googleapis.com

	key *rsa.PrivateKey
}

// RSAKey returns the parsed private key.
func (k *ServiceAccountKey) RSAKey() *rsa.PrivateKey { return k.key }

// String names the account and hides the key.
func (k *ServiceAccountKey) String() string {
	return fmt.Sprintf("service account key for %s [HIDDEN]", k.ClientEmail)
}

// Format makes every fmt verb print String.
func (k *ServiceAccountKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue logs the account only.
func (k *ServiceAccountKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// AuthorizedUser is a validated user credentials JSON (type "authorized_user"). Its String,
// Format and LogValue methods never reveal the client secret or the refresh token.
type AuthorizedUser struct {
	Type           string `json:"type"`                       // always "authorized_user"
	ClientID       string `json:"client_id"`                  // the OAuth client the refresh token was issued to
	ClientSecret   string `json:"client_secret"`              // that client's secret (secret)
	RefreshToken   string `json:"refresh_token"`              // the user's refresh token (secret)
	TokenURI       string `json:"token_uri,omitempty"`        // "" or a Google token URL; never called
	QuotaProjectID string `json:"quota_project_id,omitempty"` // project billed for quota; "" when absent
	UniverseDomain string `json:"universe_domain,omitempty"`  // "" or googleapis.com
}

// String hides the credentials.
func (u *AuthorizedUser) String() string { return "authorized user credentials [HIDDEN]" }

// Format makes every fmt verb print String.
func (u *AuthorizedUser) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, u.String()) }

// LogValue hides the credentials.
func (u *AuthorizedUser) LogValue() slog.Value { return slog.StringValue(u.String()) }

// ExternalAccountConfig is a validated workload identity federation config (type
// "external_account"). Its String, Format and LogValue methods never reveal the client secret.
type ExternalAccountConfig struct {
	Type             string `json:"type"`                     // always "external_account"
	Audience         string `json:"audience"`                 // //iam.googleapis.com/... workload or workforce pool provider
	SubjectTokenType string `json:"subject_token_type"`       // one of the SubjectToken* constants
	TokenURL         string `json:"token_url,omitempty"`      // "" or GoogleSTSTokenURL; never called
	TokenInfoURL     string `json:"token_info_url,omitempty"` // "" or GoogleSTSIntrospect; never called
	// ServiceAccountImpersonationURL is "" or the generateAccessToken URL of the service
	// account to impersonate after the STS exchange (see ImpersonatedServiceAccount).
	ServiceAccountImpersonationURL string `json:"service_account_impersonation_url,omitempty"`
	// TokenLifetimeSeconds is service_account_impersonation.token_lifetime_seconds: 0 means
	// unset, else 600 to 43200.
	TokenLifetimeSeconds     int               `json:"-"`
	CredentialSource         *CredentialSource `json:"credential_source,omitempty"`           // nil: the caller supplies subject tokens
	WorkforcePoolUserProject string            `json:"workforce_pool_user_project,omitempty"` // workforce pools only; "" when absent
	QuotaProjectID           string            `json:"quota_project_id,omitempty"`            // "" when absent
	ClientID                 string            `json:"client_id,omitempty"`                   // STS client authentication; "" when absent
	ClientSecret             string            `json:"client_secret,omitempty"`               // STS client authentication (secret)
	UniverseDomain           string            `json:"universe_domain,omitempty"`             // "" or googleapis.com
}

// CredentialSource is an accepted ambient credential source of an external account:
// EnvironmentID "aws1" (with AWS metadata URLs) or URL the Azure identity endpoint.
// The URLs describe the source; the minting adapter never requests them.
type CredentialSource struct {
	EnvironmentID               string            `json:"environment_id,omitempty"`                 // "aws1" or "" (Azure)
	RegionURL                   string            `json:"region_url,omitempty"`                     // aws1: AWS metadata URL or ""
	URL                         string            `json:"url,omitempty"`                            // aws1: AWS metadata URL; Azure: the identity endpoint
	RegionalCredVerificationURL string            `json:"regional_cred_verification_url,omitempty"` // aws1: AWS STS GetCallerIdentity template or ""
	IMDSv2SessionTokenURL       string            `json:"imdsv2_session_token_url,omitempty"`       // aws1: AWS metadata URL or ""
	Headers                     map[string]string `json:"headers,omitempty"`                        // Azure: request headers; nil when none
	Format                      *SourceFormat     `json:"format,omitempty"`                         // Azure: how to read the token; nil means text
}

// SourceFormat says how to read a subject token from a url source's response.
type SourceFormat struct {
	Type                  string `json:"type"` // "json" or "text"
	SubjectTokenFieldName string `json:"subject_token_field_name,omitempty"`
}

// Ambient returns AmbientAWS or AmbientAzure when the config reads the service's own cloud
// identity, and "" when the caller supplies subject tokens.
func (e *ExternalAccountConfig) Ambient() string {
	switch {
	case e.CredentialSource == nil:
		return ""
	case e.CredentialSource.EnvironmentID != "":
		return AmbientAWS
	default:
		return AmbientAzure
	}
}

// ImpersonatedServiceAccount returns the email of the service account named by
// service_account_impersonation_url, or "".
func (e *ExternalAccountConfig) ImpersonatedServiceAccount() string {
	if e.ServiceAccountImpersonationURL == "" {
		return ""
	}
	u, err := url.Parse(e.ServiceAccountImpersonationURL)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(u.Path, impersonationPrefix), impersonationSuffix)
}

// String names the audience and hides the client secret.
func (e *ExternalAccountConfig) String() string { return "external account config for " + e.Audience }

// Format makes every fmt verb print String.
func (e *ExternalAccountConfig) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, e.String()) }

// LogValue hides the client secret.
func (e *ExternalAccountConfig) LogValue() slog.Value { return slog.StringValue(e.String()) }

// Validate checks raw, the value of the credential field field
// (service_account_json, user_account_json or external_account_json), with the rules of
// ParseServiceAccountKey, ParseAuthorizedUser or ParseExternalAccount. Errors are *Error
// for field.
func Validate(field string, raw []byte) error {
	var err error
	switch field {
	case ServiceAccountJSON:
		_, err = parseServiceAccountKey(field, raw)
	case UserAccountJSON:
		_, err = parseAuthorizedUser(field, raw)
	case ExternalAccountJSON:
		_, err = parseExternalAccount(field, raw)
	default:
		return fieldErrorf(field, "%s is not a credential JSON field; credential fields are %s, %s and %s",
			input.Quote(field), ServiceAccountJSON, UserAccountJSON, ExternalAccountJSON)
	}
	return err
}

// CheckSyntax checks only the size, encoding and JSON syntax of raw, the value of field, and
// that it is one object without duplicate keys: the first checks of Validate.
func CheckSyntax(field string, raw []byte) error {
	if _, err := decodeCredObject(field, raw); err != nil {
		return err
	}
	return nil
}

// ParseServiceAccountKey decodes and validates a service account key JSON: type
// "service_account"; client_email a service account email; private_key a PEM RSA private key
// (PKCS #8 or PKCS #1, 1024 to 8192 bits); project_id, if present, a project id; URLs as listed
// above; universe_domain "" or googleapis.com.
func ParseServiceAccountKey(raw []byte) (*ServiceAccountKey, error) {
	return parseServiceAccountKey(ServiceAccountJSON, raw)
}

// ParseAuthorizedUser decodes and validates a user credentials JSON: type "authorized_user";
// client_id, client_secret and refresh_token present; token_uri a Google token URL or absent.
func ParseAuthorizedUser(raw []byte) (*AuthorizedUser, error) {
	return parseAuthorizedUser(UserAccountJSON, raw)
}

// ParseExternalAccount decodes and validates a workload identity federation config: type
// "external_account"; audience a workload or workforce pool provider; subject_token_type a
// known token type; URLs as listed above; credential_source absent or an accepted ambient
// source.
func ParseExternalAccount(raw []byte) (*ExternalAccountConfig, error) {
	return parseExternalAccount(ExternalAccountJSON, raw)
}

// credObject is a decoded JSON object of a credential field, read key by key.
type credObject struct {
	field  string // credential field, for errors
	prefix string // "" at the top level, "credential_source." inside it
	m      map[string]json.RawMessage
}

func (o *credObject) errorf(format string, args ...any) *Error {
	return fieldErrorf(o.field, o.field+": "+format, args...)
}

// decodeCredObject checks the size, encoding and syntax of raw, refuses duplicate keys at any
// depth (two parsers could disagree on which one counts) and returns its top-level object.
func decodeCredObject(field string, raw []byte) (*credObject, error) {
	o := &credObject{field: field}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, o.errorf("the credential JSON is empty")
	}
	if len(raw) > MaxBytes {
		return nil, o.errorf("the credential JSON is %d bytes; at most %d are accepted", len(raw), MaxBytes)
	}
	if !utf8.Valid(raw) {
		return nil, o.errorf("the credential JSON is not valid UTF-8")
	}
	if err := scanCredJSON(raw); err != nil {
		return nil, o.errorf("%v", err)
	}
	if err := json.Unmarshal(raw, &o.m); err != nil || o.m == nil {
		return nil, o.errorf("the credential JSON must be a JSON object")
	}
	return o, nil
}

// scanCredJSON reads the one JSON value of raw, which must be an object, checking nesting
// depth (before each level is entered) and keys (checkKey, at every level), without decoding
// it. Its error says why the value is unacceptable, never quoting it. One pass over the
// tokens of github.com/go-json-experiment/json's scanner, iterative, no allocation per token;
// duplicates are found here rather than by the scanner so that keys differing only in case
// are found too.
func scanCredJSON(raw []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true))
	if dec.PeekKind() != '{' {
		if _, err := dec.ReadToken(); err != nil {
			return syntaxError(dec, err)
		}
		return errors.New("the credential JSON must be a JSON object")
	}
	var seen []map[string]string // per open level: folded key → key as sent; nil for an array
	for {
		k := dec.PeekKind()
		if (k == '{' || k == '[') && dec.StackDepth() >= maxCredJSONDepth {
			return fmt.Errorf("the credential JSON is nested more than %d levels deep", maxCredJSONDepth)
		}
		depth := dec.StackDepth()
		kind, n := dec.StackIndex(depth)
		isName := kind == '{' && n%2 == 0
		tok, err := dec.ReadToken()
		if err != nil {
			return syntaxError(dec, err)
		}
		switch tok.Kind() {
		case '{':
			seen = append(seen, map[string]string{})
		case '[':
			seen = append(seen, nil)
		case '}', ']':
			seen = seen[:len(seen)-1]
		case '"':
			if isName {
				if err := checkKey(seen[len(seen)-1], tok.String()); err != nil {
					return err
				}
			}
		}
		if dec.StackDepth() == 0 {
			break
		}
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return errors.New("the credential JSON has data after its closing brace")
	}
	return nil
}

// checkKey refuses a key of an object whose other keys are seen (folded → as sent): a key
// sent twice, two keys that differ only in case, and a spelling of a credential key other
// than its exact one. Google's client libraries match keys without regard to case (Go's
// encoding/json does), so TOKEN_URI would be read as token_uri by them while the checks here
// look at token_uri only.
func checkKey(seen map[string]string, k string) error {
	f := foldKey(k)
	if prev, ok := seen[f]; ok {
		if prev == k {
			return fmt.Errorf("the credential JSON has key %s twice", keyName(k))
		}
		return fmt.Errorf("the credential JSON has two keys that differ only in case (%s); keys must match exactly", keyName(f))
	}
	seen[f] = k
	if _, known := credKeys[f]; known && f != k {
		return fmt.Errorf("the credential JSON has a key that differs from %q only in case; keys must match exactly", f)
	}
	return nil
}

// foldKey is k under Unicode simple case folding as Go's encoding/json matches keys (so the
// Kelvin sign folds to k and the long s to s).
func foldKey(k string) string { return strings.ToLower(strings.ToUpper(k)) }

// credKeys are the keys of Google's credential file formats (service account keys, user
// credentials, external accounts and their credential sources, impersonated and GDCH
// credentials), at any level. A key that folds to one of them must be spelled exactly so.
var credKeys = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, k := range strings.Fields(`type project_id private_key_id private_key client_email
		client_id auth_uri token_uri auth_provider_x509_cert_url client_x509_cert_url
		universe_domain client_secret refresh_token quota_project_id account audience
		subject_token_type token_url token_info_url revoke_url service_account_impersonation_url
		service_account_impersonation token_lifetime_seconds workforce_pool_user_project
		credential_source file url headers format subject_token_field_name environment_id
		region_url regional_cred_verification_url cred_verification_url imdsv2_session_token_url
		executable command timeout_millis output_file certificate use_default_certificate_config
		certificate_config_location trust_chain_path source_credentials delegates
		format_version project name ca_cert_path sts_audience`) {
		m[k] = struct{}{}
	}
	return m
}()

// syntaxError turns the scanner's err into what the caller is told: the JSON ends early, or
// the byte offset of the syntax error, never the scanner's text (it may quote the input).
func syntaxError(dec *jsontext.Decoder, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the credential JSON ends too early")
	}
	return fmt.Errorf("the credential JSON is not valid JSON (syntax error near byte %d)", dec.InputOffset())
}

// keyName renders a JSON key for a message: quoted when it looks like a credential key
// (lowercase letters, digits and underscores, at most 40), else a neutral description, so
// that a message never repeats arbitrary input.
func keyName(k string) string {
	if len(k) > 0 && len(k) <= 40 && input.All(k, func(c byte) bool { return input.IsLowerDigit(c) || c == '_' }) {
		return fmt.Sprintf("%q", k)
	}
	return "(a key that is not a credential field)"
}

// str returns the string under key: "" when absent or null, an error when another JSON type.
func (o *credObject) str(key string) (string, error) {
	v, ok := o.m[key]
	if !ok || string(v) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", o.errorf("%s%s must be a string", o.prefix, key)
	}
	return s, nil
}

// required returns the non-empty string under key.
func (o *credObject) required(key, what string) (string, error) {
	s, err := o.str(key)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", o.errorf("%s%s is missing: %s", o.prefix, key, what)
	}
	return s, nil
}

// decodeTyped decodes the credential JSON of field and checks that its type is want.
func decodeTyped(field string, raw []byte, want string) (*credObject, error) {
	o, err := decodeCredObject(field, raw)
	if err != nil {
		return nil, err
	}
	if err := o.checkType(want, methodOfField(field)); err != nil {
		return nil, err
	}
	return o, nil
}

// checkType checks the type key against want.
func (o *credObject) checkType(want, method string) error {
	t, err := o.str("type")
	if err != nil {
		return err
	}
	switch {
	case t == want:
		return nil
	case t == "":
		return o.errorf("type is missing; %s must have type %q", o.field, want)
	case t == "impersonated_service_account":
		return o.errorf("type %q is not accepted: use auth method impersonation with the source service account key in service_account_json and the account to impersonate in target_principal", t)
	case t == "external_account_authorized_user":
		return o.errorf("type %q (workforce identity user credentials) is not accepted; use an %q config", t, TypeExternalAccount)
	case slices.Contains(knownCredTypes, t):
		hint := ""
		switch t {
		case TypeServiceAccount:
			hint = " (a service account key belongs to auth method service-account or impersonation)"
		case TypeAuthorizedUser:
			hint = " (user credentials belong to auth method user-account)"
		case TypeExternalAccount:
			hint = " (an external account config belongs to auth method external-account)"
		}
		return o.errorf("type is %q, but %s (auth method %s) needs type %q%s", t, o.field, method, want, hint)
	}
	return o.errorf("type is not a known credential type; %s needs type %q", o.field, want)
}

// printable returns the string under key ("" when absent), refusing an over-long or
// non-printable value without quoting it. With what != "" the value is required, and what
// says what it is.
func (o *credObject) printable(key, what string, maxLen int) (string, error) {
	var s string
	var err error
	if what != "" {
		s, err = o.required(key, what)
	} else {
		s, err = o.str(key)
	}
	switch {
	case err != nil:
		return "", err
	case len(s) > maxLen:
		return "", o.errorf("%s%s is %d bytes; at most %d are accepted", o.prefix, key, len(s), maxLen)
	case !input.All(s, input.IsPrintableASCII):
		return "", o.errorf("%s%s must be printable ASCII without spaces", o.prefix, key)
	}
	return s, nil
}

// checkURL checks that the URL under key is absent or exactly one of allowed.
func (o *credObject) checkURL(key string, allowed ...string) (string, error) {
	s, err := o.str(key)
	if err != nil || s == "" {
		return s, err
	}
	if err := checkFixedURL(s, allowed); err != nil {
		return "", o.errorf("%s%s %v; it must be %s, or left out", o.prefix, key, err, orList(allowed))
	}
	return s, nil
}

// checkGoogleHostURL checks that the informational URL under key is absent or https on one
// of hosts, any path.
func (o *credObject) checkGoogleHostURL(key string, hosts []string) error {
	s, err := o.str(key)
	if err != nil || s == "" {
		return err
	}
	u, err := parseStrictURL(s, "https")
	if err == nil && !slices.Contains(hosts, strings.ToLower(u.Host)) {
		err = errors.New("is not on a Google host")
	}
	if err != nil {
		return o.errorf("%s%s %v; it must be an https URL on %s, or left out", o.prefix, key, err, strings.Join(hosts, ", "))
	}
	return nil
}

// parseStrictURL parses s and applies the rules every accepted Google URL shares: those of
// parseStrictURLAllowQuery, and the scheme, no port (nor an IPv6 host), no query. Its error
// says why s fails them (a predicate: "is not an absolute URL"), without quoting s.
func parseStrictURL(s, scheme string) (*url.URL, error) {
	u, err := parseStrictURLAllowQuery(s)
	switch {
	case err != nil:
		return nil, err
	case strings.ToLower(u.Scheme) != scheme:
		return nil, errors.New("does not use " + scheme)
	case strings.Contains(u.Host, ":"):
		return nil, errors.New("names a port")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("has a query")
	}
	return u, nil
}

// checkFixedURL returns nil when s is one of allowed, else why not (a predicate, as
// parseStrictURL's).
func checkFixedURL(s string, allowed []string) error {
	u, err := parseStrictURL(s, "https")
	if err != nil {
		return err
	}
	host := strings.ToLower(u.Host)
	for _, a := range allowed {
		au, _ := url.Parse(a)
		if host == au.Host && u.RawPath == "" && u.Path == au.Path {
			return nil
		}
	}
	for _, a := range allowed {
		if au, _ := url.Parse(a); host == au.Host {
			return errors.New("has another path")
		}
	}
	return errors.New("is not on an accepted Google host")
}

func orList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// universe returns universe_domain ("" when absent), which must be googleapis.com.
func (o *credObject) universe() (string, error) {
	u, err := o.str("universe_domain")
	if err != nil {
		return "", err
	}
	if u != "" && u != "googleapis.com" {
		return "", o.errorf("universe_domain must be \"googleapis.com\" or left out; other universes are not served")
	}
	return u, nil
}

// checkProjectKey checks an optional project id under key.
func (o *credObject) checkProjectKey(key string) (string, error) {
	p, err := o.str(key)
	if err != nil || p == "" {
		return p, err
	}
	if !input.All(p, input.IsPrintableASCII) || len(p) > 300 {
		return "", o.errorf("%s%s is not a valid project id", o.prefix, key)
	}
	if err := resourceid.CheckProjectID(p); err != nil {
		return "", o.errorf("%s%s is not a valid project id: %v", o.prefix, key, err)
	}
	return p, nil
}

func parseServiceAccountKey(field string, raw []byte) (*ServiceAccountKey, error) {
	o, err := decodeTyped(field, raw, TypeServiceAccount)
	if err != nil {
		return nil, err
	}
	k := &ServiceAccountKey{Type: TypeServiceAccount}
	if k.ClientEmail, err = o.required("client_email", "the service account's email"); err != nil {
		return nil, err
	}
	if !input.All(k.ClientEmail, input.IsPrintableASCII) || len(k.ClientEmail) > 254 {
		return nil, o.errorf("client_email is not a service account email")
	}
	if err := CheckServiceAccountEmail(k.ClientEmail); err != nil {
		return nil, o.errorf("client_email is not a service account email: %v", err)
	}
	if k.PrivateKey, err = o.required("private_key", "the PEM private key of the service account key"); err != nil {
		return nil, err
	}
	if k.key, err = parseRSAPrivateKey(k.PrivateKey); err != nil {
		return nil, o.errorf("private_key %v", err)
	}
	if k.PrivateKeyID, err = o.printable("private_key_id", "", 128); err != nil {
		return nil, err
	}
	if k.ClientID, err = o.printable("client_id", "", 256); err != nil {
		return nil, err
	}
	if k.ProjectID, err = o.checkProjectKey("project_id"); err != nil {
		return nil, err
	}
	if k.TokenURI, err = o.checkURL("token_uri", GoogleTokenURL, GoogleLegacyTokenURL); err != nil {
		return nil, err
	}
	for _, key := range []string{"auth_uri", "auth_provider_x509_cert_url", "client_x509_cert_url"} {
		if err := o.checkGoogleHostURL(key, informationalHosts); err != nil {
			return nil, err
		}
	}
	k.AuthURI, _ = o.str("auth_uri")
	k.AuthProviderX509CertURL, _ = o.str("auth_provider_x509_cert_url")
	k.ClientX509CertURL, _ = o.str("client_x509_cert_url")
	if k.UniverseDomain, err = o.universe(); err != nil {
		return nil, err
	}
	return k, nil
}

// parseRSAPrivateKey parses a PEM RSA private key. Its errors say what is wrong without
// quoting the key (and without the parser's own text).
func parseRSAPrivateKey(s string) (*rsa.PrivateKey, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New(`is not a PEM private key (it should start with "-----BEGIN PRIVATE KEY-----")`)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("has data after its PEM block")
	}
	if len(block.Headers) > 0 || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("is encrypted; give the unencrypted key as Google issues it")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, errors.New(`is a PEM block of another type; want "PRIVATE KEY" (PKCS #8) or "RSA PRIVATE KEY" (PKCS #1)`)
	}
	if err != nil {
		return nil, errors.New("does not parse as a PKCS #8 or PKCS #1 private key")
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("is not an RSA key; Google service account keys are RSA")
	}
	if n := rk.N.BitLen(); n < 1024 || n > 8192 {
		return nil, fmt.Errorf("is a %d-bit RSA key; 1024 to 8192 bits are accepted (Google issues 2048)", n)
	}
	return rk, nil
}

func parseAuthorizedUser(field string, raw []byte) (*AuthorizedUser, error) {
	o, err := decodeTyped(field, raw, TypeAuthorizedUser)
	if err != nil {
		return nil, err
	}
	u := &AuthorizedUser{Type: TypeAuthorizedUser}
	if u.ClientID, err = o.printable("client_id", "the OAuth client id the refresh token was issued to", 256); err != nil {
		return nil, err
	}
	if u.ClientSecret, err = o.printable("client_secret", "the OAuth client secret", 256); err != nil {
		return nil, err
	}
	if u.RefreshToken, err = o.printable("refresh_token", "the user's refresh token", 4096); err != nil {
		return nil, err
	}
	if u.TokenURI, err = o.checkURL("token_uri", GoogleTokenURL, GoogleLegacyTokenURL); err != nil {
		return nil, err
	}
	if u.QuotaProjectID, err = o.checkProjectKey("quota_project_id"); err != nil {
		return nil, err
	}
	if u.UniverseDomain, err = o.universe(); err != nil {
		return nil, err
	}
	return u, nil
}

var (
	workloadAudience  = regexp.MustCompile(`^//iam\.googleapis\.com/projects/[0-9]{1,20}/locations/global/workloadIdentityPools/[a-z0-9-]{1,63}/providers/[a-z0-9-]{1,63}$`)
	workforceAudience = regexp.MustCompile(`^//iam\.googleapis\.com/locations/global/workforcePools/[a-z0-9-]{1,63}/providers/[a-z0-9-]{1,63}$`)
)

func parseExternalAccount(field string, raw []byte) (*ExternalAccountConfig, error) {
	o, err := decodeTyped(field, raw, TypeExternalAccount)
	if err != nil {
		return nil, err
	}
	e := &ExternalAccountConfig{Type: TypeExternalAccount}
	if e.Audience, err = o.required("audience", "the workload identity pool provider"); err != nil {
		return nil, err
	}
	workforce := workforceAudience.MatchString(e.Audience)
	if !workforce && !workloadAudience.MatchString(e.Audience) {
		return nil, o.errorf("audience must be a workload identity pool provider " +
			`("//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER") ` +
			`or a workforce pool provider ("//iam.googleapis.com/locations/global/workforcePools/POOL/providers/PROVIDER")`)
	}
	if e.SubjectTokenType, err = o.required("subject_token_type", "the type of the subject token"); err != nil {
		return nil, err
	}
	if !slices.Contains(subjectTokenTypes, e.SubjectTokenType) {
		return nil, o.errorf("subject_token_type is not a known token type; want one of %s", orList(subjectTokenTypes))
	}
	if e.TokenURL, err = o.checkURL("token_url", GoogleSTSTokenURL); err != nil {
		return nil, err
	}
	if e.TokenInfoURL, err = o.checkURL("token_info_url", GoogleSTSIntrospect); err != nil {
		return nil, err
	}
	if e.ServiceAccountImpersonationURL, err = o.str("service_account_impersonation_url"); err != nil {
		return nil, err
	}
	if s := e.ServiceAccountImpersonationURL; s != "" {
		if err := checkImpersonationURL(s); err != nil {
			return nil, o.errorf("service_account_impersonation_url %v; it must be %q, or left out", err,
				"https://"+iamCredentialsHost+impersonationPrefix+"SERVICE_ACCOUNT_EMAIL"+impersonationSuffix)
		}
	}
	if e.TokenLifetimeSeconds, err = o.impersonationLifetime(); err != nil {
		return nil, err
	}
	if e.WorkforcePoolUserProject, err = o.checkProjectKey("workforce_pool_user_project"); err != nil {
		return nil, err
	}
	if e.WorkforcePoolUserProject != "" && !workforce {
		return nil, o.errorf("workforce_pool_user_project applies only to workforce pool audiences")
	}
	if e.QuotaProjectID, err = o.checkProjectKey("quota_project_id"); err != nil {
		return nil, err
	}
	if e.ClientID, err = o.printable("client_id", "", 256); err != nil {
		return nil, err
	}
	if e.ClientSecret, err = o.printable("client_secret", "", 256); err != nil {
		return nil, err
	}
	if e.UniverseDomain, err = o.universe(); err != nil {
		return nil, err
	}
	if e.CredentialSource, err = o.credentialSource(e.SubjectTokenType); err != nil {
		return nil, err
	}
	return e, nil
}

// checkImpersonationURL returns nil when s is a generateAccessToken URL of IAM Credentials,
// else why not (a predicate, as parseStrictURL's).
func checkImpersonationURL(s string) error {
	u, err := parseStrictURL(s, "https")
	if err != nil {
		return err
	}
	if strings.ToLower(u.Host) != iamCredentialsHost {
		return errors.New("is not on " + iamCredentialsHost)
	}
	email, ok := strings.CutPrefix(u.Path, impersonationPrefix)
	if ok {
		email, ok = strings.CutSuffix(email, impersonationSuffix)
	}
	if !ok || u.RawPath != "" {
		return errors.New("is not a generateAccessToken URL")
	}
	if CheckServiceAccountEmail(email) != nil {
		return errors.New("does not name a service account email")
	}
	return nil
}

// impersonationLifetime reads service_account_impersonation.token_lifetime_seconds.
func (o *credObject) impersonationLifetime() (int, error) {
	v, ok := o.m["service_account_impersonation"]
	if !ok || string(v) == "null" {
		return 0, nil
	}
	var sai map[string]json.RawMessage
	if err := json.Unmarshal(v, &sai); err != nil || sai == nil {
		return 0, o.errorf("service_account_impersonation must be an object")
	}
	for k := range sai {
		if k != "token_lifetime_seconds" {
			return 0, o.errorf("service_account_impersonation has key %s; only \"token_lifetime_seconds\" is accepted", keyName(k))
		}
	}
	lv, ok := sai["token_lifetime_seconds"]
	if !ok || string(lv) == "null" {
		return 0, nil
	}
	var n int
	if err := json.Unmarshal(lv, &n); err != nil || n < 600 || n > 43200 {
		return 0, o.errorf("service_account_impersonation.token_lifetime_seconds must be a whole number of seconds from 600 to 43200")
	}
	return n, nil
}

// credentialSourceKeys are the keys an accepted credential_source may have.
var credentialSourceKeys = []string{"environment_id", "region_url", "url", "regional_cred_verification_url",
	"imdsv2_session_token_url", "headers", "format"}

const awsVerificationURL = "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"

// supplyTokens says why a credential_source that reads files, URLs or programs is refused.
const supplyTokens = "gcpconn never reads files, URLs or programs on a tenant's behalf; leave credential_source out and send the subject token with each mint request"

// credentialSource reads credential_source: nil when absent (the caller supplies subject
// tokens), an ambient AWS or Azure source, or an error for anything else.
func (o *credObject) credentialSource(subjectTokenType string) (*CredentialSource, error) {
	v, ok := o.m["credential_source"]
	if !ok || string(v) == "null" {
		return nil, nil
	}
	src, err := o.sourceObject(v)
	if err != nil {
		return nil, err
	}
	cs := &CredentialSource{}
	if cs.EnvironmentID, err = src.str("environment_id"); err != nil {
		return nil, err
	}
	if cs.Headers, err = src.headers(); err != nil {
		return nil, err
	}
	if cs.Format, err = src.format(); err != nil {
		return nil, err
	}
	if cs.EnvironmentID != "" {
		err = o.awsSource(src, cs, subjectTokenType)
	} else {
		err = o.azureSource(src, cs, subjectTokenType)
	}
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// sourceObject decodes credential_source v and refuses what it may not hold: sources that
// read files, programs or certificates, keys gcpconn does not know, nothing at all.
func (o *credObject) sourceObject(v json.RawMessage) (*credObject, error) {
	src := &credObject{field: o.field, prefix: "credential_source."}
	if err := json.Unmarshal(v, &src.m); err != nil || src.m == nil {
		return nil, o.errorf("credential_source must be an object")
	}
	for _, k := range []string{"file", "executable", "certificate"} {
		if _, ok := src.m[k]; ok {
			return nil, o.errorf("credential_source.%s is refused: %s", k, supplyTokens)
		}
	}
	keys := make([]string, 0, len(src.m))
	for k := range src.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(credentialSourceKeys, k) {
			return nil, o.errorf("credential_source has key %s, which is not accepted", keyName(k))
		}
	}
	if len(src.m) == 0 {
		return nil, o.errorf("credential_source is empty; leave it out to send the subject token with each mint request")
	}
	return src, nil
}

// awsSource reads the rest of an aws1 credential_source src into cs: the service's own AWS
// identity, from the instance metadata service only.
func (o *credObject) awsSource(src *credObject, cs *CredentialSource, subjectTokenType string) error {
	if cs.EnvironmentID != "aws1" {
		return o.errorf(`credential_source.environment_id must be "aws1" (the service's AWS identity); no other environment is accepted`)
	}
	if subjectTokenType != SubjectTokenAWS4Request {
		return o.errorf("an aws1 credential_source needs subject_token_type %q", SubjectTokenAWS4Request)
	}
	for _, k := range []string{"region_url", "url", "imdsv2_session_token_url"} {
		s, err := src.str(k)
		if err != nil {
			return err
		}
		if s == "" {
			continue
		}
		if err := checkAWSMetadataURL(s); err != nil {
			return o.errorf("credential_source.%s %v; it must be an http URL on the AWS instance metadata service (169.254.169.254 or [fd00:ec2::254]), or left out", k, err)
		}
		switch k {
		case "region_url":
			cs.RegionURL = s
		case "url":
			cs.URL = s
		default:
			cs.IMDSv2SessionTokenURL = s
		}
	}
	s, err := src.str("regional_cred_verification_url")
	if err != nil {
		return err
	}
	if s != "" && s != awsVerificationURL {
		return o.errorf("credential_source.regional_cred_verification_url must be %q, or left out", awsVerificationURL)
	}
	cs.RegionalCredVerificationURL = s
	if cs.Format != nil {
		return o.errorf("credential_source.format does not apply to an aws1 source")
	}
	return nil
}

// azureSource reads the rest of a credential_source src without environment_id into cs: only
// the Azure identity endpoint is accepted.
func (o *credObject) azureSource(src *credObject, cs *CredentialSource, subjectTokenType string) error {
	var err error
	if cs.URL, err = src.str("url"); err != nil {
		return err
	}
	if cs.URL == "" {
		return o.errorf("credential_source has neither environment_id nor url; leave it out to send the subject token with each mint request")
	}
	for _, k := range []string{"region_url", "regional_cred_verification_url", "imdsv2_session_token_url"} {
		if _, ok := src.m[k]; ok {
			return o.errorf("credential_source.%s applies only to an aws1 source", k)
		}
	}
	u, err := parseStrictURLAllowQuery(cs.URL)
	if err == nil && (strings.ToLower(u.Scheme) != "http" || u.Host != "169.254.169.254" || u.Path != "/metadata/identity/oauth2/token") {
		err = errors.New("is not the Azure instance metadata identity endpoint")
	}
	if err != nil {
		return o.errorf("credential_source.url is refused: it %v; %s (the one url source accepted is the Azure identity endpoint %q, as an implicit source)",
			err, supplyTokens, azureIdentityEndpoint)
	}
	if subjectTokenType != SubjectTokenJWT {
		return o.errorf("an Azure credential_source needs subject_token_type %q", SubjectTokenJWT)
	}
	return nil
}

// parseStrictURLAllowQuery parses s and applies the rules every accepted URL shares: absolute,
// no user information, no port, no fragment, no spaces, backslashes or control characters.
// Any scheme and a query are allowed (Azure's identity endpoint takes api-version and
// resource). Its error says why s fails them (a predicate: "is not an absolute URL"), without
// quoting s.
func parseStrictURLAllowQuery(s string) (*url.URL, error) {
	if !input.All(s, input.IsPrintableASCII) || strings.ContainsAny(s, `\#`) {
		return nil, errors.New("contains spaces, control characters, backslashes or a fragment")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "" || u.Host == "":
		return nil, errors.New("is not an absolute URL")
	case u.User != nil:
		return nil, errors.New("carries user information (user@host)")
	case u.Port() != "" || strings.HasSuffix(u.Host, ":"):
		return nil, errors.New("names a port")
	}
	return u, nil
}

// checkAWSMetadataURL returns nil when s is an http URL on the AWS instance metadata service,
// else why not (a predicate, as parseStrictURL's).
func checkAWSMetadataURL(s string) error {
	u, err := parseStrictURLAllowQuery(s)
	if err != nil {
		return err
	}
	if strings.ToLower(u.Scheme) != "http" || (u.Host != "169.254.169.254" && u.Host != "[fd00:ec2::254]") {
		return errors.New("is not on the AWS instance metadata service")
	}
	if u.RawQuery != "" {
		return errors.New("has a query")
	}
	return nil
}

// headers reads credential_source.headers: a map of strings.
func (o *credObject) headers() (map[string]string, error) {
	v, ok := o.m["headers"]
	if !ok || string(v) == "null" {
		return nil, nil
	}
	var h map[string]string
	if err := json.Unmarshal(v, &h); err != nil {
		return nil, o.errorf("credential_source.headers must be an object of strings")
	}
	for k, val := range h {
		if !input.All(k, input.IsPrintableASCII) || len(k) > 64 || len(val) > 256 || strings.ContainsAny(val, "\r\n") {
			return nil, o.errorf("credential_source.headers has a header that is not a short, single-line name and value")
		}
	}
	return h, nil
}

// format reads credential_source.format.
func (o *credObject) format() (*SourceFormat, error) {
	v, ok := o.m["format"]
	if !ok || string(v) == "null" {
		return nil, nil
	}
	var f SourceFormat
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, o.errorf(`credential_source.format must be {"type": "json"|"text", "subject_token_field_name": "..."}`)
	}
	switch {
	case f.Type != "json" && f.Type != "text":
		return nil, o.errorf(`credential_source.format.type must be "json" or "text"`)
	case f.Type == "json" && f.SubjectTokenFieldName == "":
		return nil, o.errorf("credential_source.format.subject_token_field_name is required with format type json")
	case !input.All(f.SubjectTokenFieldName, input.IsPrintableASCII) || len(f.SubjectTokenFieldName) > 64:
		return nil, o.errorf("credential_source.format.subject_token_field_name must be a short printable name")
	}
	return &f, nil
}

// methodOfField names the auth methods a credential field belongs to, for messages.
func methodOfField(field string) string {
	switch field {
	case ServiceAccountJSON:
		return "service-account or impersonation"
	case UserAccountJSON:
		return "user-account"
	case ExternalAccountJSON:
		return "external-account"
	}
	return "unknown"
}

// CheckServiceAccountEmail returns why s is not a service account email, or nil: a local part of 1 to 63
// lowercase letters, digits and hyphens, starting with a letter or digit, at a lowercase DNS
// domain ending in .gserviceaccount.com (PROJECT.iam., appspot., developer., gcp-sa-*...).
func CheckServiceAccountEmail(s string) error {
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case !ok || strings.Contains(domain, "@"):
		return errors.New("it must have exactly one @")
	case local == "" || len(local) > 63 || !input.All(local, input.IsLowerDigitHyphen) || local[0] == '-':
		return errors.New("the part before @ must be 1 to 63 lowercase letters, digits and hyphens")
	case !strings.HasSuffix(domain, ".gserviceaccount.com"):
		return errors.New("the domain must end in .gserviceaccount.com")
	}
	if !input.DNSLabels(strings.Split(domain, ".")) {
		return errors.New("the domain must be a lowercase DNS name")
	}
	return nil
}
