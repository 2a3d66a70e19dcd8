// Package identity serves the fake Google identity endpoints: the OAuth2 token endpoint,
// STS (workload identity federation and Credential Access Boundary down-scoping), the
// IAM Credentials API, the GCE metadata server, an OIDC issuer and the admin API.
//
// Vocabulary:
//   - An access token is opaque ("ya29.fake...") and lives in the tokens.Registry.
//   - An ID token is a JWT signed by the fake's OIDC issuer key (the stand-in for
//     accounts.google.com); its JWKS is served at /oauth2/v3/certs. The issuer also signs
//     the OIDC subject tokens that workload identity pools trust.
//   - A key is a service account's RSA key from the world; the token endpoint verifies
//     JWT-bearer assertions with it and signJwt/signBlob sign with it.
//
// Every endpoint is counted (and can fail on demand) through faults under a stable
// name: oauth2.token, oauth2.tokeninfo, oauth2.revoke, sts.token,
// iamcredentials.generateAccessToken, iamcredentials.generateIdToken,
// iamcredentials.signJwt, iamcredentials.signBlob, metadata.token, metadata.identity,
// metadata.get, oidc.discovery, oidc.jwks.
package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Google's own URLs that assertions and credential files name; the fake accepts them as
// audiences alongside its own.
const (
	GoogleTokenURL  = "https://oauth2.googleapis.com/token"
	GoogleSTSURL    = "https://sts.googleapis.com/v1/token"
	CloudPlatform   = "https://www.googleapis.com/auth/cloud-platform"
	UserinfoEmail   = "https://www.googleapis.com/auth/userinfo.email"
	tokenLifetime   = time.Hour
	maxBody         = 1 << 20
	tokenTypeAccess = "urn:ietf:params:oauth:token-type:access_token"
)

// Config wires a Service to the rest of the fake.
type Config struct {
	// BaseURL is where the service is reachable ("http://127.0.0.1:PORT"); it is the
	// OIDC issuer and the token endpoint's audience (BASE/token).
	BaseURL string
	World   *world.World
	Tokens  *tokens.Registry
	Faults  *faults.Faults
	Guard   *auth.Guard
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service is the set of identity endpoints.
type Service struct {
	cfg Config
	now func() time.Time

	keyMu sync.Mutex
	keys  []signingKey // issuer keys, current last; the previous one stays published
	// oidcIssuers are the additional issuers by name (oidc_issuers.go), guarded by keyMu.
	oidcIssuers map[string]*oidcIssuer

	metaMu    sync.Mutex
	metaCache map[string]metaToken
}

// New returns a Service. The issuer key is generated on first use.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Faults == nil {
		cfg.Faults = faults.New()
	}
	if cfg.Guard == nil {
		cfg.Guard = &auth.Guard{World: cfg.World, Tokens: cfg.Tokens}
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	return &Service{cfg: cfg, now: cfg.Now, metaCache: map[string]metaToken{}}
}

// Issuer is the OIDC issuer URL (the base URL).
func (s *Service) Issuer() string { return s.cfg.BaseURL }

// JWKSURL is where the issuer's public keys are served.
func (s *Service) JWKSURL() string { return s.cfg.BaseURL + "/oauth2/v3/certs" }

// TokenURL is the fake's OAuth2 token endpoint.
func (s *Service) TokenURL() string { return s.cfg.BaseURL + "/token" }

// STSURL is the fake's STS token exchange endpoint.
func (s *Service) STSURL() string { return s.cfg.BaseURL + "/v1/token" }

// signingKey is one OIDC issuer key.
type signingKey struct {
	key *rsa.PrivateKey
	kid string
}

func newSigningKey() (signingKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signingKey{}, fmt.Errorf("generate issuer key: %w", err)
	}
	id := make([]byte, 20)
	_, _ = rand.Read(id)
	return signingKey{key: k, kid: hex.EncodeToString(id)}, nil
}

// issuerKey returns the current issuer key, generating the first one on demand.
func (s *Service) issuerKey() (*rsa.PrivateKey, string, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if len(s.keys) == 0 {
		k, err := newSigningKey()
		if err != nil {
			return nil, "", err
		}
		s.keys = append(s.keys, k)
	}
	cur := s.keys[len(s.keys)-1]
	return cur.key, cur.kid, nil
}

// issuerKeys returns the published issuer keys (current last).
func (s *Service) issuerKeys() []signingKey {
	if _, _, err := s.issuerKey(); err != nil {
		return nil
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	return append([]signingKey(nil), s.keys...)
}

// RotateIssuerKey starts signing with a new issuer key, as Google rotates its OIDC keys.
// The previous key stays in the JWKS (tokens it signed still verify); older ones are
// dropped. It returns the new key id.
func (s *Service) RotateIssuerKey() (string, error) {
	if _, _, err := s.issuerKey(); err != nil {
		return "", err
	}
	k, err := newSigningKey()
	if err != nil {
		return "", err
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	s.keys = append(s.keys, k)
	if len(s.keys) > 2 {
		s.keys = s.keys[len(s.keys)-2:]
	}
	return k.kid, nil
}

// Handler routes every identity endpoint (the admin endpoints of this package included;
// fault controls are served by faults.Handler).
func (s *Service) Handler() http.Handler {
	f := s.cfg.Faults
	mux := http.NewServeMux()
	// OAuth2 (oauth2.googleapis.com).
	mux.Handle("POST /token", f.WrapFunc("oauth2.token", s.handleToken))
	mux.Handle("/tokeninfo", f.WrapFunc("oauth2.tokeninfo", s.handleTokenInfo))
	mux.Handle("POST /revoke", f.WrapFunc("oauth2.revoke", s.handleRevoke))
	// STS (sts.googleapis.com).
	mux.Handle("POST /v1/token", f.WrapFunc("sts.token", s.handleSTS))
	// IAM Credentials (iamcredentials.googleapis.com).
	mux.Handle("POST /v1/projects/{project}/serviceAccounts/{nameVerb}", s.iamCredentialsHandler())
	// Metadata server.
	mux.Handle("/computeMetadata/v1/", s.metadataHandler())
	mux.HandleFunc("GET /{$}", s.handleMetadataRoot)
	// OIDC issuer.
	mux.Handle("GET /.well-known/openid-configuration", f.WrapFunc("oidc.discovery", s.handleDiscovery))
	mux.Handle("GET /oauth2/v3/certs", f.WrapFunc("oidc.jwks", s.handleJWKS))
	mux.Handle("GET /service_accounts/v1/jwk/{email}", f.WrapFunc("oidc.jwks", s.handleServiceAccountJWK))
	// Admin.
	mux.HandleFunc("GET /admin/world", s.handleAdminWorld)
	mux.HandleFunc("GET /admin/keys/{email}", s.handleAdminKey)
	mux.HandleFunc("POST /admin/id-token", s.handleAdminIDToken)
	mux.HandleFunc("POST /admin/oidc-token", s.handleAdminOIDCToken)
	mux.HandleFunc("POST /admin/access-token", s.handleAdminAccessToken)
	mux.HandleFunc("POST /admin/bindings", s.handleAdminAddBinding)
	mux.HandleFunc("DELETE /admin/bindings", s.handleAdminRemoveBinding)
	mux.HandleFunc("POST /admin/service-accounts/{email}/{action}", s.handleAdminServiceAccountState)
	mux.HandleFunc("POST /admin/issuer/rotate", s.handleAdminRotateIssuerKey)
	mux.HandleFunc("POST /admin/tokens/revoke", s.handleAdminRevokeTokens)
	s.issuerRoutes(mux) // additional OIDC issuers and their admin calls (oidc_issuers.go)
	return mux
}

// IDToken mints a Google-style ID token for any account email and audience, signed by
// the issuer: what a caller of gcpconn presents.
func (s *Service) IDToken(email, audience string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") || audience == "" {
		return "", errors.New("id token: email and audience are required")
	}
	return s.signIssuer(s.idClaims(email, audience, true, ""))
}

// OIDCToken mints an OIDC token for subject and audience from the issuer, as an external
// identity provider would; workload identity pools of the world trust it. lifetime 0
// means one hour.
func (s *Service) OIDCToken(subject, audience string, lifetime time.Duration) (string, error) {
	return s.OIDCTokenWithClaims(subject, audience, lifetime, nil)
}

// OIDCTokenWithClaims is OIDCToken with extra claims (for attribute mappings and
// conditions, e.g. {"repository": "zenml-io/zenml"}). iss, sub, aud, iat and exp are
// always the issuer's.
func (s *Service) OIDCTokenWithClaims(subject, audience string, lifetime time.Duration, extra map[string]any) (string, error) {
	if subject == "" || audience == "" {
		return "", errors.New("oidc token: subject and audience are required")
	}
	if lifetime <= 0 {
		lifetime = tokenLifetime
	}
	now := s.now()
	claims := map[string]any{}
	for k, v := range extra {
		claims[k] = v
	}
	claims["iss"] = s.Issuer()
	claims["sub"] = subject
	claims["aud"] = audience
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(lifetime).Unix()
	return s.signIssuer(claims)
}

// idClaims are the claims of a Google ID token for email. azp defaults to the account's
// unique id.
func (s *Service) idClaims(email, audience string, includeEmail bool, azp string) map[string]any {
	now := s.now()
	uid := world.UniqueID(email)
	if azp == "" {
		azp = uid
	}
	c := map[string]any{
		"iss": s.Issuer(),
		"aud": audience,
		"azp": azp,
		"sub": uid,
		"iat": now.Unix(),
		"exp": now.Add(tokenLifetime).Unix(),
	}
	if includeEmail {
		c["email"] = email
		c["email_verified"] = true
	}
	return c
}

func (s *Service) signIssuer(claims any) (string, error) {
	key, kid, err := s.issuerKey()
	if err != nil {
		return "", fmt.Errorf("issuer key: %w", err)
	}
	return signJWT(key, kid, claims)
}

// verifyIssued verifies a JWT the issuer signed (ID and OIDC subject tokens).
func (s *Service) verifyIssued(raw string) (*parsedJWT, error) {
	p, err := parseJWT(raw)
	if err != nil {
		return nil, err
	}
	verified := false
	for _, k := range s.issuerKeys() {
		if (p.header.Kid == "" || p.header.Kid == k.kid) && p.verify(&k.key.PublicKey) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, errors.New("invalid signature or unknown key id")
	}
	if p.claims.Iss != s.Issuer() {
		return nil, fmt.Errorf("issuer %q is not trusted", p.claims.Iss)
	}
	return p, nil
}

// issue records a token and returns its value and lifetime in seconds.
func (s *Service) issue(t tokens.Token) (string, int64) {
	v := s.cfg.Tokens.Issue(t)
	return v, int64(t.Expiry.Sub(s.now()).Round(time.Second) / time.Second)
}

// readForm parses an application/x-www-form-urlencoded body (bounded).
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	return r.ParseForm()
}

// readRequest decodes the request body into v (see readJSON), answering 400 with why when it
// cannot; it reports whether the handler may go on.
func readRequest(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := readJSON(w, r, v); err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return false
	}
	return true
}

// readJSON decodes a JSON body (bounded) into v. An empty body leaves v unchanged.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("invalid JSON payload: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthError writes the OAuth2 error body Google's token and STS endpoints send.
func oauthError(w http.ResponseWriter, code int, errCode, description string) {
	writeJSON(w, code, map[string]string{"error": errCode, "error_description": description})
}

// splitScopes splits a space- or comma-separated scope list.
func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
}
