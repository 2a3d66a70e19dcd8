package identity

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// The admin API is for local development and tests: it reads and changes the world and
// mints tokens without credentials. It is served only on the fake's loopback listener.

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
	if !readRequest(w, r, &req) {
		return
	}
	tok, err := s.IDToken(req.Email, req.Audience)
	writeMinted(w, "id_token", tok, err)
}

// writeMinted answers {field: tok}, or INVALID_ARGUMENT with the text of err.
func writeMinted(w http.ResponseWriter, field, tok string, err error) {
	if err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{field: tok})
}

// lifetime is a request's lifetime_seconds as a duration; outside [0, longest] it answers
// INVALID_ARGUMENT and returns false.
func lifetime(w http.ResponseWriter, seconds int64, longest time.Duration) (time.Duration, bool) {
	if limit := int64(longest / time.Second); seconds < 0 || seconds > limit {
		googleerr.Write(w, googleerr.InvalidArgument(fmt.Sprintf("lifetime_seconds must be between 0 and %d", limit)))
		return 0, false
	}
	return time.Duration(seconds) * time.Second, true
}

// handleAdminOIDCToken mints a workload identity subject token:
// {"subject","audience","lifetime_seconds"?,"claims"?} -> {"token"}.
func (s *Service) handleAdminOIDCToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Subject         string         `json:"subject"`
		Audience        string         `json:"audience"`
		LifetimeSeconds int64          `json:"lifetime_seconds"`
		Claims          map[string]any `json:"claims"`
	}
	if !readRequest(w, r, &req) {
		return
	}
	life, ok := lifetime(w, req.LifetimeSeconds, 24*time.Hour)
	if !ok {
		return
	}
	tok, err := s.OIDCTokenWithClaims(req.Subject, req.Audience, life, req.Claims)
	writeMinted(w, "token", tok, err)
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
	if !readRequest(w, r, &req) {
		return
	}
	email := strings.ToLower(req.Email)
	_, isSA := s.cfg.World.FindServiceAccount(email)
	_, isUser := s.cfg.World.FindUser(email)
	if !isSA && !isUser {
		googleerr.Write(w, googleerr.NotFound("No service account or user "+clip(req.Email)+"."))
		return
	}
	life, ok := lifetime(w, req.LifetimeSeconds, 12*time.Hour)
	if !ok {
		return
	}
	if life == 0 {
		life = tokenLifetime
	}
	if len(req.Scopes) == 0 {
		req.Scopes = []string{CloudPlatform, UserinfoEmail}
	}
	value, expiresIn := s.issue(tokens.Token{
		Member: s.cfg.World.MemberForEmail(email), Email: email, Scopes: req.Scopes,
		Expiry: s.now().Add(life), IssuedBy: "admin",
	})
	writeJSON(w, http.StatusOK, map[string]any{"access_token": value, "expires_in": expiresIn, "token_type": "Bearer"})
}

// handleAdminAddBinding grants a role at run time:
// {"resource","role","members":[...]} -> the binding as stored.
func (s *Service) handleAdminAddBinding(w http.ResponseWriter, r *http.Request) {
	var b world.Binding
	if !readRequest(w, r, &b) {
		return
	}
	if err := s.cfg.World.AddBinding(b); err != nil {
		googleerr.Write(w, googleerr.InvalidArgument(err.Error()))
		return
	}
	b.Resource = s.cfg.World.NormalizeResource(b.Resource)
	writeJSON(w, http.StatusOK, b)
}

// handleAdminRemoveBinding revokes a role from a member at run time:
// {"resource","role","member"}; 404 when no such grant exists.
func (s *Service) handleAdminRemoveBinding(w http.ResponseWriter, r *http.Request) {
	var req struct{ Resource, Role, Member string }
	if !readRequest(w, r, &req) {
		return
	}
	if !s.cfg.World.RemoveMember(req.Resource, req.Role, req.Member) {
		googleerr.Write(w, googleerr.NotFound("No binding of "+clip(req.Role)+" to "+clip(req.Member)+" on "+clip(req.Resource)+"."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// handleAdminServiceAccountState disables or enables a service account:
// POST /admin/service-accounts/EMAIL/disable (or /enable).
func (s *Service) handleAdminServiceAccountState(w http.ResponseWriter, r *http.Request) {
	var disabled bool
	switch r.PathValue("action") {
	case "disable":
		disabled = true
	case "enable":
	default:
		googleerr.Write(w, googleerr.NotFound("Unknown action; use disable or enable."))
		return
	}
	if !s.cfg.World.SetServiceAccountDisabled(r.PathValue("email"), disabled) {
		googleerr.Write(w, googleerr.NotFound("No service account "+clip(r.PathValue("email"))+"."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"disabled": disabled})
}

// handleAdminRotateIssuerKey rotates the OIDC issuer key: {"kid": new key id}.
func (s *Service) handleAdminRotateIssuerKey(w http.ResponseWriter, r *http.Request) {
	kid, err := s.RotateIssuerKey()
	if err != nil {
		googleerr.Write(w, googleerr.Internal("rotate issuer key failed"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
}

// handleAdminRevokeTokens revokes access tokens at run time: {"tokens":[...]} ->
// {"revoked": n}.
func (s *Service) handleAdminRevokeTokens(w http.ResponseWriter, r *http.Request) {
	var req struct{ Tokens []string }
	if !readRequest(w, r, &req) {
		return
	}
	n := 0
	for _, t := range req.Tokens {
		if s.cfg.Tokens.Revoke(t) {
			n++
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}
