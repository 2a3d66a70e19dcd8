package callerauth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/gcpconn/gcpconn/internal/jsonwalk"
	"github.com/gcpconn/gcpconn/shared/principal"
)

// Issuer is one trusted issuer of federated callers: a CI system or a Kubernetes cluster whose
// OIDC tokens gcpconn accepts. Its callers are the principals NAME:SUBJECT. The JSON names are
// those of GCPCONN_TRUSTED_ISSUERS.
type Issuer struct {
	// Name is the short name principals start with (NAME:SUBJECT): 1 to 32 lowercase letters,
	// digits and '-', starting with a letter; not "google".
	Name string `json:"name"`
	// URL is the exact "iss" of the issuer's tokens; https (http only on a loopback host).
	URL string `json:"issuer"`
	// JWKSURL is where the issuer's keys are; "" means the jwks_uri of the discovery document
	// at URL/.well-known/openid-configuration (always the configured URL, never a token's).
	JWKSURL string `json:"jwks_url,omitempty"`
	// Audiences are the "aud" values accepted; a token must carry at least one.
	Audiences []string `json:"audiences"`
	// SubjectClaim names the claim that names the caller: a claim name, or a JSON pointer
	// such as "/kubernetes.io/serviceaccount/name"; "" means "sub".
	SubjectClaim string `json:"subject_claim,omitempty"`
	// BoundClaims are claims every token must carry with a matching string value: exact, or a
	// glob where * matches any run of characters (e.g. "repository_owner": "acme",
	// "ref": "refs/heads/*"). Keys are claim names or JSON pointers. At least one claim must
	// be bound to a value that is not all "*" unless AllowUnbound is set: without one, every
	// token of the issuer (every GitHub repository in the world) is a caller. Prefer the
	// immutable ids (GitHub's repository_owner_id and repository_id, GitLab's namespace_id
	// and project_id) to names, which can be registered again after a rename.
	BoundClaims map[string]string `json:"bound_claims,omitempty"`
	// AllowUnbound accepts an issuer without bound claims: for an issuer only your own
	// workloads can get tokens from (a private cluster), never for a public CI service.
	AllowUnbound bool `json:"allow_unbound,omitempty"`
	// MaxTokenAge is the oldest token (now - iat) accepted, as a Go duration ("10m");
	// "" means DefaultMaxTokenAge. Tokens without iat are refused.
	MaxTokenAge string `json:"max_token_age,omitempty"`

	maxAge time.Duration
}

// Limits of a trusted issuer's configuration.
const (
	DefaultMaxTokenAge = time.Hour
	MaxMaxTokenAge     = 24 * time.Hour
	maxIssuers         = 20
	maxAudiences       = 10
	maxBoundClaims     = 20
)

const issuersShape = "want a JSON array of {name, issuer, audiences, jwks_url?, subject_claim?, bound_claims, allow_unbound?, max_token_age?}"

// ParseIssuers reads the trusted issuers from JSON (GCPCONN_TRUSTED_ISSUERS: an array of
// Issuer objects; "" means none) and checks them; googleIssuers are the issuers of Google
// callers, which no trusted issuer may claim. Unknown and duplicate keys are errors. Every
// error names the issuer (by index and name) and the field at fault.
func ParseIssuers(raw string, googleIssuers ...string) ([]Issuer, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	if err := noDuplicateKeys([]byte(raw)); err != nil {
		return nil, fmt.Errorf("%s: %v", issuersShape, err)
	}
	// Exact field names (no case folding), unknown fields refused.
	var list []Issuer
	if err := jsonv2.Unmarshal([]byte(raw), &list, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("%s: %v", issuersShape, strings.TrimPrefix(err.Error(), "json: "))
	}
	if len(list) > maxIssuers {
		return nil, fmt.Errorf("at most %d issuers; got %d", maxIssuers, len(list))
	}
	for i := range list {
		if err := list[i].check(); err != nil {
			return nil, fmt.Errorf("[%d] %q: %w", i, list[i].Name, err)
		}
		for j := range i {
			switch {
			case list[j].Name == list[i].Name:
				return nil, fmt.Errorf("[%d] %q: name is also the name of [%d]", i, list[i].Name, j)
			case list[j].URL == list[i].URL:
				return nil, fmt.Errorf("[%d] %q: issuer %s is also the issuer of [%d] %q: one issuer's tokens would be taken as another's", i, list[i].Name, list[i].URL, j, list[j].Name)
			}
		}
		for _, g := range append(googleIssuers, GoogleIssuer, "accounts.google.com") {
			if g != "" && strings.TrimSuffix(list[i].URL, "/") == strings.TrimSuffix(g, "/") {
				return nil, fmt.Errorf("[%d] %q: issuer %s is the issuer of Google ID tokens, whose callers are their emails", i, list[i].Name, list[i].URL)
			}
		}
	}
	return list, nil
}

// check validates one issuer and fills in its defaults.
func (is *Issuer) check() error {
	if err := principal.CheckIssuerName(is.Name); err != nil {
		return fmt.Errorf("name %q: %v", is.Name, err)
	}
	if err := checkEndpoint(is.URL); err != nil {
		return fmt.Errorf("issuer %q: %v", is.URL, err)
	}
	if is.JWKSURL != "" {
		if err := checkEndpoint(is.JWKSURL); err != nil {
			return fmt.Errorf("jwks_url %q: %v", is.JWKSURL, err)
		}
	}
	if len(is.Audiences) == 0 || len(is.Audiences) > maxAudiences || slices.Contains(is.Audiences, "") {
		return fmt.Errorf("audiences: list 1 to %d non-empty audiences that this issuer's tokens for gcpconn carry (e.g. the service URL)", maxAudiences)
	}
	if is.SubjectClaim == "" {
		is.SubjectClaim = "sub"
	}
	if len(is.BoundClaims) > maxBoundClaims {
		return fmt.Errorf("bound_claims: at most %d", maxBoundClaims)
	}
	bound := false
	for k, v := range is.BoundClaims {
		if k == "" || v == "" {
			return fmt.Errorf("bound_claims: %q: %q: claim names and values must not be empty (use \"*\" for any value)", k, v)
		}
		bound = bound || strings.Trim(v, "*") != ""
	}
	if !bound && !is.AllowUnbound {
		return errors.New(`bound_claims: bind at least one claim to a value (e.g. {"repository_owner_id": "123456"} for GitHub, {"namespace_id": "42"} for GitLab, {"/kubernetes.io/namespace": "pipelines"} for Kubernetes; immutable ids are safer than names), or set "allow_unbound": true for an issuer that only your own workloads get tokens from: without a bound claim every token the issuer signs is a caller`)
	}
	is.maxAge = DefaultMaxTokenAge
	if is.MaxTokenAge != "" {
		d, err := time.ParseDuration(is.MaxTokenAge)
		if err != nil || d < time.Minute || d > MaxMaxTokenAge {
			return fmt.Errorf("max_token_age %q: want a duration from 1m to %s, such as \"15m\"", is.MaxTokenAge, MaxMaxTokenAge)
		}
		is.maxAge = d
	}
	return nil
}

// checkEndpoint returns nil when u may be an issuer or key URL, else why not: it must be an
// absolute https URL without user info, query or fragment; http is accepted only for a
// loopback host (the local fake).
func checkEndpoint(u string) error {
	p, err := url.Parse(u)
	switch {
	case err != nil || p.Host == "" || p.Opaque != "":
		return errors.New("not an absolute URL")
	case p.User != nil || p.RawQuery != "" || p.Fragment != "" || strings.HasSuffix(u, "?") || strings.HasSuffix(u, "#"):
		return errors.New("user info, query and fragment are not accepted")
	case p.Scheme == "https":
		return nil
	case p.Scheme == "http" && isLoopback(p.Hostname()):
		return nil
	}
	return errors.New("want https (http only on a loopback host)")
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// discoveryURL is where the issuer's OpenID configuration is.
func (is *Issuer) discoveryURL() string {
	return strings.TrimSuffix(is.URL, "/") + "/.well-known/openid-configuration"
}

// jwksURL returns JWKSURL, or the jwks_uri of the discovery document at the configured URL,
// which must name this issuer.
func (is *Issuer) jwksURL(ctx context.Context, get func(ctx context.Context, u string, v any) error) (string, error) {
	if is.JWKSURL != "" {
		return is.JWKSURL, nil
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := get(ctx, is.discoveryURL(), &doc); err != nil {
		return "", fmt.Errorf("callerauth: discovery of %s: %w", is.Name, err)
	}
	if doc.Issuer != is.URL {
		return "", fmt.Errorf("callerauth: discovery of %s names issuer %q, not %q", is.Name, doc.Issuer, is.URL)
	}
	if err := checkEndpoint(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("callerauth: discovery of %s: jwks_uri %q: %v", is.Name, doc.JWKSURI, err)
	}
	return doc.JWKSURI, nil
}

// claim returns the value of the claim name (a name, or a JSON pointer "/a/b") in claims.
func claim(claims map[string]any, name string) (any, bool) {
	if !strings.HasPrefix(name, "/") {
		v, ok := claims[name]
		return v, ok
	}
	keys := strings.Split(name[1:], "/")
	for i, k := range keys {
		keys[i] = strings.ReplaceAll(strings.ReplaceAll(k, "~1", "/"), "~0", "~")
	}
	return jsonwalk.Get(claims, keys...)
}

// checkBound verifies the bound claims; the message names the first claim that fails.
func (is *Issuer) checkBound(claims map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(is.BoundClaims)) {
		v, ok := claim(claims, k)
		s, isString := v.(string)
		switch {
		case !ok:
			return deny("token of %s has no %s claim, which the issuer's bound claims require", is.Name, quoteClip(k))
		case !isString:
			return deny("token of %s: claim %s is not a string", is.Name, quoteClip(k))
		case !globMatch(is.BoundClaims[k], s):
			return deny("token of %s: claim %s = %s does not match the bound value %s", is.Name, quoteClip(k), quoteClip(s), quoteClip(is.BoundClaims[k]))
		}
	}
	return nil
}

// globMatch reports whether s matches pattern, where * matches any run of characters
// (including '/' and none) and everything else matches itself.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
