package identity

import (
	"encoding/json"
	"net/http"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
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
	keys := s.issuerKeys()
	if len(keys) == 0 {
		googleerr.Write(w, googleerr.Internal("Internal error encountered."))
		return
	}
	set := make([]jwk, 0, len(keys))
	for i := len(keys) - 1; i >= 0; i-- {
		set = append(set, publicJWK(&keys[i].key.PublicKey, keys[i].kid))
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	b, _ := json.Marshal(map[string]any{"keys": set})
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
