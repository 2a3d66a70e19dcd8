package identity

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

func (s *Service) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.Issuer(),
		"jwks_uri":                              s.JWKSURL(),
		"token_endpoint":                        s.TokenURL(),
		"authorization_endpoint":                s.cfg.BaseURL + "/o/oauth2/v2/auth",
		"revocation_endpoint":                   s.cfg.BaseURL + "/revoke",
		"response_types_supported":              []string{"code", "token", "id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"claims_supported":                      []string{"aud", "email", "email_verified", "exp", "iat", "iss", "sub", "azp"},
		"grant_types_supported":                 []string{"refresh_token", grantJWTBearer},
	})
}

func (s *Service) handleJWKS(w http.ResponseWriter, r *http.Request) {
	key, kid, err := s.issuerKey()
	if err != nil {
		googleerr.Write(w, googleerr.Internal("Internal error encountered."))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	b, _ := json.Marshal(map[string]any{"keys": []jwk{publicJWK(&key.PublicKey, kid)}})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}

// handleServiceAccountJWK serves a service account's public key, like
// www.googleapis.com/service_accounts/v1/jwk/EMAIL (to verify signJwt output).
func (s *Service) handleServiceAccountJWK(w http.ResponseWriter, r *http.Request) {
	key, err := s.cfg.World.Key(r.PathValue("email"))
	if err != nil {
		googleerr.Write(w, googleerr.NotFound("Service account not found."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []jwk{publicJWK(&key.Private.PublicKey, key.ID)}})
}

// handleAdminWorld returns the world as JSON (no private keys, no refresh tokens or
// client secrets).
func (s *Service) handleAdminWorld(w http.ResponseWriter, r *http.Request) {
	var b []byte
	var err error
	s.cfg.World.View(func(wd *world.World) { b, err = json.MarshalIndent(wd, "", "  ") })
	if err != nil {
		googleerr.Write(w, googleerr.Internal("marshal world: "+err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// handleAdminKey returns a credential file: service_account key JSON or authorized_user
// JSON. For local development only.
func (s *Service) handleAdminKey(w http.ResponseWriter, r *http.Request) {
	b, err := s.cfg.World.CredentialJSON(r.PathValue("email"))
	if err != nil {
		googleerr.Write(w, googleerr.NotFound("No service account or user "+clip(r.PathValue("email"))+"."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// handleAdminIDToken mints a caller ID token: {"email","audience"} -> {"id_token"}.
func (s *Service) handleAdminIDToken(w http.ResponseWriter, r *http.Request) {
	var req struct{ Email, Audience string }
	if err := readJSON(w, r, &req); err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return
	}
	tok, err := s.IDToken(req.Email, req.Audience)
	if err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id_token": tok})
}

// handleAdminOIDCToken mints a workload identity subject token:
// {"subject","audience","lifetime_seconds"?} -> {"token"}.
func (s *Service) handleAdminOIDCToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Subject         string `json:"subject"`
		Audience        string `json:"audience"`
		LifetimeSeconds int64  `json:"lifetime_seconds"`
	}
	if err := readJSON(w, r, &req); err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return
	}
	if req.LifetimeSeconds < 0 || req.LifetimeSeconds > 86400 {
		googleerr.Write(w, googleerr.InvalidArgument("lifetime_seconds must be between 0 and 86400"))
		return
	}
	tok, err := s.OIDCToken(req.Subject, req.Audience, time.Duration(req.LifetimeSeconds)*time.Second)
	if err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

// handleAdminAccessToken issues an access token for an account of the world directly:
// {"email","scopes"?,"lifetime_seconds"?} -> {"access_token","expires_in","token_type"}.
// It stands in for "gcloud auth print-access-token" in local development.
func (s *Service) handleAdminAccessToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email           string   `json:"email"`
		Scopes          []string `json:"scopes"`
		LifetimeSeconds int64    `json:"lifetime_seconds"`
	}
	if err := readJSON(w, r, &req); err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return
	}
	email := strings.ToLower(req.Email)
	_, isSA := s.cfg.World.FindServiceAccount(email)
	_, isUser := s.cfg.World.FindUser(email)
	if !isSA && !isUser {
		googleerr.Write(w, googleerr.NotFound("No service account or user "+clip(req.Email)+"."))
		return
	}
	if req.LifetimeSeconds < 0 || req.LifetimeSeconds > 43200 {
		googleerr.Write(w, googleerr.InvalidArgument("lifetime_seconds must be between 0 and 43200"))
		return
	}
	lifetime := time.Duration(req.LifetimeSeconds) * time.Second
	if lifetime == 0 {
		lifetime = tokenLifetime
	}
	if len(req.Scopes) == 0 {
		req.Scopes = []string{CloudPlatform, UserinfoEmail}
	}
	value, expiresIn := s.issue(tokens.Token{
		Member: s.cfg.World.MemberForEmail(email), Email: email, Scopes: req.Scopes,
		Expiry: s.now().Add(lifetime), IssuedBy: "admin",
	})
	writeJSON(w, http.StatusOK, map[string]any{"access_token": value, "expires_in": expiresIn, "token_type": "Bearer"})
}
