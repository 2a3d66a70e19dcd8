package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
)

// Additional OIDC issuers stand in for CI systems and Kubernetes clusters outside Google
// (GitHub Actions' token service, GitLab, a cluster's service-account issuer). Each has a
// name and lives at BASE/issuers/NAME: discovery at BASE/issuers/NAME/.well-known/openid-
// configuration, keys (one RS256, one ES256) at BASE/issuers/NAME/jwks. Its tokens carry
// GitHub-Actions-shaped claims (sub, repository, repository_owner, ref, workflow,
// environment), minted on request by the admin call POST /admin/issuers/NAME/token, which
// can also mint the broken tokens a verifier must refuse (Variants).

// Variants of POST /admin/issuers/NAME/token: tokens a strict verifier refuses.
var Variants = []string{"expired", "wrong-audience", "wrong-issuer", "wrong-key", "unknown-kid", "alg-none", "hs256-public-key"}

// oidcIssuer is one additional issuer's keys.
type oidcIssuer struct {
	rsa   signingKey
	ec    *ecdsa.PrivateKey
	ecKid string
}

var issuerNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// AddIssuer creates the additional issuer name (idempotent) and returns its URL.
func (s *Service) AddIssuer(name string) (string, error) {
	if !issuerNameRE.MatchString(name) {
		return "", fmt.Errorf("issuer name %q: want 1 to 32 lowercase letters, digits and '-', starting with a letter", name)
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if _, ok := s.oidcIssuers[name]; ok {
		return s.IssuerURL(name), nil
	}
	rk, err := newSigningKey()
	if err != nil {
		return "", err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate issuer key: %w", err)
	}
	if s.oidcIssuers == nil {
		s.oidcIssuers = map[string]*oidcIssuer{}
	}
	s.oidcIssuers[name] = &oidcIssuer{rsa: rk, ec: ek, ecKid: rk.kid + "-ec"}
	return s.IssuerURL(name), nil
}

// IssuerURL is the "iss" of the additional issuer name.
func (s *Service) IssuerURL(name string) string { return s.cfg.BaseURL + "/issuers/" + name }

func (s *Service) oidcIssuer(name string) (*oidcIssuer, bool) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	is, ok := s.oidcIssuers[name]
	return is, ok
}

// issuerRoutes registers the additional issuers' endpoints on mux.
func (s *Service) issuerRoutes(mux *http.ServeMux) {
	f := s.cfg.Faults
	mux.Handle("GET /issuers/{name}/.well-known/openid-configuration", f.WrapFunc("oidc.issuers.discovery", s.handleIssuerDiscovery))
	mux.Handle("GET /issuers/{name}/jwks", f.WrapFunc("oidc.issuers.jwks", s.handleIssuerJWKS))
	mux.HandleFunc("POST /admin/issuers/{name}", s.handleAdminAddIssuer)
	mux.HandleFunc("POST /admin/issuers/{name}/token", s.handleAdminIssuerToken)
}

func (s *Service) handleIssuerDiscovery(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := s.oidcIssuer(name); !ok {
		googleerr.Write(w, googleerr.NotFound("No issuer "+clip(name)+"."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.IssuerURL(name),
		"jwks_uri":                              s.IssuerURL(name) + "/jwks",
		"subject_types_supported":               []string{"public", "pairwise"},
		"response_types_supported":              []string{"id_token"},
		"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_owner", "workflow", "environment"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"scopes_supported":                      []string{"openid"},
	})
}

func (s *Service) handleIssuerJWKS(w http.ResponseWriter, r *http.Request) {
	is, ok := s.oidcIssuer(r.PathValue("name"))
	if !ok {
		googleerr.Write(w, googleerr.NotFound("No issuer "+clip(r.PathValue("name"))+"."))
		return
	}
	pt, err := is.ec.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		googleerr.Write(w, googleerr.Internal("encode issuer key"))
		return
	}
	b64 := base64.RawURLEncoding.EncodeToString
	writeJSON(w, http.StatusOK, map[string]any{"keys": []any{
		publicJWK(&is.rsa.key.PublicKey, is.rsa.kid),
		map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": is.ecKid, "x": b64(pt[1:33]), "y": b64(pt[33:])},
	}})
}

// handleAdminAddIssuer creates an issuer at run time: POST /admin/issuers/NAME -> {"issuer"}.
func (s *Service) handleAdminAddIssuer(w http.ResponseWriter, r *http.Request) {
	u, err := s.AddIssuer(r.PathValue("name"))
	if err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"issuer": u})
}

// IssuerTokenRequest is the body of POST /admin/issuers/NAME/token. Empty fields take
// GitHub-Actions-like defaults: repository acme/pipelines, ref refs/heads/main, workflow
// deploy; sub is "repo:REPOSITORY:environment:ENV" with an environment, else
// "repo:REPOSITORY:ref:REF".
type IssuerTokenRequest struct {
	Audience        string         `json:"audience"`
	Repository      string         `json:"repository"`
	Ref             string         `json:"ref"`
	Workflow        string         `json:"workflow"`
	Environment     string         `json:"environment"`
	Subject         string         `json:"subject"`
	Claims          map[string]any `json:"claims"` // set (or, with null, delete) any claim last
	LifetimeSeconds int64          `json:"lifetime_seconds"`
	Alg             string         `json:"alg"`     // RS256 (default) or ES256
	Variant         string         `json:"variant"` // "" or one of Variants
}

// handleAdminIssuerToken mints a token of the issuer NAME: IssuerTokenRequest -> {"token",
// "issuer", "subject"}.
func (s *Service) handleAdminIssuerToken(w http.ResponseWriter, r *http.Request) {
	var req IssuerTokenRequest
	if !readRequest(w, r, &req) {
		return
	}
	tok, sub, err := s.IssuerToken(r.PathValue("name"), req)
	if err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "issuer": s.IssuerURL(r.PathValue("name")), "subject": sub})
}

// IssuerToken mints a token of the additional issuer name as req says, and returns it and
// its subject.
func (s *Service) IssuerToken(name string, req IssuerTokenRequest) (token, subject string, err error) {
	is, ok := s.oidcIssuer(name)
	if !ok {
		return "", "", fmt.Errorf("no issuer %q (create it with POST /admin/issuers/%s)", name, name)
	}
	if req.Audience == "" {
		return "", "", errors.New("audience is required")
	}
	if req.LifetimeSeconds < 0 || req.LifetimeSeconds > 86400 {
		return "", "", errors.New("lifetime_seconds must be between 0 and 86400")
	}
	claims := s.ciClaims(name, req)
	if err := applyVariant(claims, req.Variant, s.now()); err != nil {
		return "", "", err
	}
	for k, v := range req.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	sub, _ := claims["sub"].(string)
	tok, err := is.sign(claims, req.Alg, req.Variant)
	return tok, sub, err
}

// ciClaims are the GitHub-Actions-shaped claims of req.
func (s *Service) ciClaims(name string, req IssuerTokenRequest) map[string]any {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	repo, ref := def(req.Repository, "acme/pipelines"), def(req.Ref, "refs/heads/main")
	owner, _, _ := strings.Cut(repo, "/")
	sub := "repo:" + repo + ":ref:" + ref
	if req.Environment != "" {
		sub = "repo:" + repo + ":environment:" + req.Environment
	}
	lifetime := time.Duration(req.LifetimeSeconds) * time.Second
	if lifetime == 0 {
		lifetime = 10 * time.Minute
	}
	now := s.now()
	c := map[string]any{
		"iss": s.IssuerURL(name), "aud": req.Audience, "sub": def(req.Subject, sub),
		"repository": repo, "repository_owner": owner, "ref": ref, "workflow": def(req.Workflow, "deploy"),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(lifetime).Unix(), "jti": randomID(),
	}
	if req.Environment != "" {
		c["environment"] = req.Environment
	}
	return c
}

// applyVariant changes the claims of a broken variant.
func applyVariant(c map[string]any, variant string, now time.Time) error {
	switch variant {
	case "", "wrong-key", "unknown-kid", "alg-none", "hs256-public-key":
	case "expired":
		c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	case "wrong-audience":
		c["aud"] = "https://wrong-audience.invalid"
	case "wrong-issuer":
		c["iss"] = c["iss"].(string) + "-impostor"
	default:
		return fmt.Errorf("variant %q: want one of %v", variant, Variants)
	}
	return nil
}

// sign signs claims with the issuer's key for alg, or breaks the token as variant says.
func (is *oidcIssuer) sign(claims map[string]any, alg, variant string) (string, error) {
	body, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("claims: %w", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	header := func(h map[string]string) string { b, _ := json.Marshal(h); return b64(b) }
	switch variant {
	case "alg-none":
		return header(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(body) + ".", nil
	case "hs256-public-key":
		der, err := x509.MarshalPKIXPublicKey(&is.rsa.key.PublicKey)
		if err != nil {
			return "", err
		}
		in := header(map[string]string{"alg": "HS256", "typ": "JWT", "kid": is.rsa.kid}) + "." + b64(body)
		mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		mac.Write([]byte(in))
		return in + "." + b64(mac.Sum(nil)), nil
	case "wrong-key", "unknown-kid":
		other, err := newSigningKey()
		if err != nil {
			return "", err
		}
		kid := is.rsa.kid // wrong-key: a key the issuer does not hold, under its published kid
		if variant == "unknown-kid" {
			kid = other.kid
		}
		return signJWTBytes(other.key, kid, body)
	}
	switch alg {
	case "", "RS256":
		return signJWTBytes(is.rsa.key, is.rsa.kid, body)
	case "ES256":
		in := header(map[string]string{"alg": "ES256", "typ": "JWT", "kid": is.ecKid}) + "." + b64(body)
		d := sha256.Sum256([]byte(in))
		r, s, err := ecdsa.Sign(rand.Reader, is.ec, d[:])
		if err != nil {
			return "", err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return in + "." + b64(sig), nil
	}
	return "", fmt.Errorf("alg %q: want RS256 or ES256", alg)
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
