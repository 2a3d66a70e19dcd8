package identity

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

const (
	grantJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	grantRefreshToken  = "refresh_token"
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	// maxClockSkew is how far in the future an assertion's iat may be.
	maxClockSkew = 5 * time.Minute
)

// defaultUserScopes are what a user's refresh token grants when the world does not say.
var defaultUserScopes = []string{CloudPlatform, UserinfoEmail, "openid"}

// handleToken is the OAuth2 token endpoint (POST BASE/token): the JWT-bearer grant for
// service account keys and the refresh_token grant for users.
func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Could not parse the request body.")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case grantJWTBearer:
		s.jwtBearer(w, r)
	case grantRefreshToken:
		s.refreshGrant(w, r)
	case "":
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: ")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+clip(gt))
	}
}

// tokenAudiences are the values a JWT-bearer assertion's aud may take.
func (s *Service) tokenAudiences() []string {
	return []string{s.TokenURL(), GoogleTokenURL, "https://accounts.google.com/o/oauth2/token", "https://www.googleapis.com/oauth2/v4/token"}
}

func (s *Service) jwtBearer(w http.ResponseWriter, r *http.Request) {
	p, err := parseJWT(r.PostForm.Get("assertion"))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: the assertion is not a well-formed JWT.")
		return
	}
	c := p.claims
	sa, ok := s.cfg.World.FindServiceAccount(c.Iss)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: account not found")
		return
	}
	// Only a live, enabled key of the account verifies: a deleted or disabled one does not.
	// The token records which key it was minted from (tokens.Token.KeyID).
	keys := s.cfg.World.SigningKeys(sa.Email, p.header.Kid)
	i := slices.IndexFunc(keys, func(k world.SigningKey) bool { return p.verify(k.Public) == nil })
	if i < 0 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	keyID := keys[i].ID
	if !slices.ContainsFunc(s.tokenAudiences(), c.Aud.contains) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Failed audience check. The expected value was "+GoogleTokenURL+".")
		return
	}
	now := s.now()
	iat, exp := time.Unix(int64(c.Iat), 0), time.Unix(int64(c.Exp), 0)
	if c.Iat == 0 || c.Exp == 0 || exp.Sub(iat) > time.Hour || !exp.After(iat) || iat.After(now.Add(maxClockSkew)) || !exp.After(now) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	if sa.Disabled {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: account disabled")
		return
	}
	if c.Sub != "" && !strings.EqualFold(c.Sub, sa.Email) {
		// Domain-wide delegation is not configured for any account of the fake.
		oauthError(w, http.StatusUnauthorized, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
		return
	}
	if c.TargetAudience != "" && c.Scope == "" {
		// An ID token for the service account, as the idtoken package asks for.
		tok, err := s.signIssuer(s.idClaims(sa.Email, c.TargetAudience, true, ""))
		if err != nil {
			oauthError(w, http.StatusInternalServerError, "internal_failure", "Could not sign the ID token.")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id_token": tok})
		return
	}
	scopes := splitScopes(c.Scope)
	if len(scopes) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	value, expiresIn := s.issue(tokens.Token{
		Member: "serviceAccount:" + sa.Email, Email: sa.Email, Scopes: scopes,
		Expiry: now.Add(tokenLifetime), IssuedBy: "oauth2.token", KeyID: keyID,
	})
	writeJSON(w, http.StatusOK, map[string]any{"access_token": value, "expires_in": expiresIn, "token_type": "Bearer"})
}

func (s *Service) refreshGrant(w http.ResponseWriter, r *http.Request) {
	clientID, clientSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id, secret, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: both parts are form-encoded inside the Basic credentials.
		clientID, clientSecret = id, secret
		if v, err := url.QueryUnescape(id); err == nil {
			clientID = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			clientSecret = v
		}
	}
	if clientID == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Could not determine client ID from request.")
		return
	}
	known, secretOK := false, false
	s.cfg.World.View(func(wd *world.World) {
		for _, u := range wd.Users {
			if u.ClientID == clientID {
				known = true
				if u.ClientSecret == clientSecret {
					secretOK = true
				}
			}
		}
	})
	if !known {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	}
	if !secretOK {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	}
	u, ok := s.cfg.World.FindUserByRefreshToken(r.PostForm.Get("refresh_token"))
	if !ok || u.ClientID != clientID || u.ClientSecret != clientSecret {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	granted := u.Scopes
	if len(granted) == 0 {
		granted = defaultUserScopes
	}
	scopes := granted
	if req := splitScopes(r.PostForm.Get("scope")); len(req) > 0 {
		for _, sc := range req {
			if !slices.Contains(granted, sc) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "Some requested scopes were invalid. {invalid=["+clip(sc)+"]}")
				return
			}
		}
		scopes = req
	}
	now := s.now()
	value, expiresIn := s.issue(tokens.Token{
		Member: "user:" + u.Email, Email: u.Email, Scopes: scopes,
		Expiry: now.Add(tokenLifetime), IssuedBy: "oauth2.token",
	})
	resp := map[string]any{"access_token": value, "expires_in": expiresIn, "token_type": "Bearer", "scope": strings.Join(scopes, " ")}
	if slices.Contains(scopes, "openid") {
		if idt, err := s.signIssuer(s.idClaims(u.Email, clientID, true, clientID)); err == nil {
			resp["id_token"] = idt
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleTokenInfo answers GET/POST BASE/tokeninfo?access_token=T like
// oauth2.googleapis.com/tokeninfo.
func (s *Service) handleTokenInfo(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Could not parse the request.")
		return
	}
	value := r.Form.Get("access_token")
	if value == "" {
		value = auth.BearerToken(r)
	}
	t, err := s.cfg.Tokens.Lookup(value)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_token", "Invalid Value")
		return
	}
	exp := t.Expiry.Unix()
	info := map[string]any{
		"scope":      strings.Join(t.Scopes, " "),
		"exp":        strconv.FormatInt(exp, 10),
		"expires_in": strconv.FormatInt(int64(t.Expiry.Sub(s.now())/time.Second), 10),
	}
	if t.Email != "" {
		uid := world.UniqueID(t.Email)
		info["azp"], info["aud"], info["sub"] = uid, uid, uid
		info["email"] = t.Email
		info["email_verified"] = "true"
		info["access_type"] = "online"
	}
	writeJSON(w, http.StatusOK, info)
}

// handleRevoke answers POST BASE/revoke?token=T (user tokens only, as at Google; the
// fake revokes any access token).
func (s *Service) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Could not parse the request.")
		return
	}
	if !s.cfg.Tokens.Revoke(r.Form.Get("token")) {
		oauthError(w, http.StatusBadRequest, "invalid_token", "Token expired or revoked")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// clip shortens untrusted text echoed in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
