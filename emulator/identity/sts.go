package identity

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// workloadAudienceRE matches a workload identity provider audience. Group 1 is the
// project number, 2 the pool, 3 the provider.
var workloadAudienceRE = regexp.MustCompile(`^//iam\.googleapis\.com/projects/([0-9]+)/locations/global/workloadIdentityPools/([^/]+)/providers/([^/]+)$`)

// handleSTS is the STS token exchange (POST BASE/v1/token): an OIDC JWT from the fake's
// issuer for a workload identity provider becomes a federated access token; an access
// token with an access boundary in options becomes a down-scoped token.
func (s *Service) handleSTS(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Could not parse the request body.")
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != grantTokenExchange {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid value for \"grant_type\": "+clip(gt))
		return
	}
	if rt := f.Get("requested_token_type"); rt != "" && rt != tokenTypeAccess {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid value for \"requested_token_type\": "+clip(rt))
		return
	}
	if f.Get("subject_token") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: \"subject_token\".")
		return
	}
	switch stt := f.Get("subject_token_type"); stt {
	case tokenTypeAccess:
		s.downscope(w, r)
	case "urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token":
		s.federate(w, r)
	default:
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid value for \"subject_token_type\": "+clip(stt))
	}
}

// federate exchanges an OIDC subject token for a federated access token.
func (s *Service) federate(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	aud := f.Get("audience")
	m := workloadAudienceRE.FindStringSubmatch(aud)
	if m == nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid value for \"audience\". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats.")
		return
	}
	pool, ok := s.cfg.World.FindWorkloadPool(m[1], m[2], m[3])
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_target", "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.")
		return
	}
	p, err := s.verifyIssued(f.Get("subject_token"))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The subject token could not be verified: "+err.Error()+".")
		return
	}
	allowed := append([]string{aud, "https:" + aud}, pool.AllowedAudiences...)
	match := false
	for _, a := range allowed {
		if p.claims.Aud.contains(a) {
			match = true
		}
	}
	if !match {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The audience in ID Token ["+clip(strings.Join(p.claims.Aud, ","))+"] does not match the expected audience "+aud+".")
		return
	}
	now := s.now()
	exp := time.Unix(int64(p.claims.Exp), 0)
	if p.claims.Exp == 0 || !exp.After(now) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The ID Token has expired.")
		return
	}
	if p.claims.Iat != 0 && time.Unix(int64(p.claims.Iat), 0).After(now.Add(maxClockSkew)) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The ID Token was issued in the future.")
		return
	}
	subject, groups, ok := mapAttributes(pool, m[1], p.rawClaims)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The given credential is rejected by the attribute condition.")
		return
	}
	if subject == "" || len(subject) > 127 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The mapped attribute 'google.subject' must be between 1 and 127 characters.")
		return
	}
	scopes := splitScopes(f.Get("scope"))
	if len(scopes) == 0 {
		scopes = []string{CloudPlatform}
	}
	member := "principal://" + poolPrefix(m[1], pool.Pool) + "subject/" + subject
	value, expiresIn := s.issue(tokens.Token{Member: member, Groups: groups, Scopes: scopes, Expiry: now.Add(tokenLifetime), IssuedBy: "sts.token"})
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":      value,
		"issued_token_type": tokenTypeAccess,
		"token_type":        "Bearer",
		"expires_in":        expiresIn,
	})
}

func poolPrefix(projectNumber, pool string) string {
	return "iam.googleapis.com/projects/" + projectNumber + "/locations/global/workloadIdentityPools/" + pool + "/"
}

// mapAttributes applies a provider's attribute mapping and condition to the claims of
// an external token. It returns google.subject and the principal sets of the mapped
// attributes; ok is false when the attribute condition rejects the token.
func mapAttributes(pool world.WorkloadPool, projectNumber string, rawClaims []byte) (subject string, groups []string, ok bool) {
	var claims map[string]any
	_ = json.Unmarshal(rawClaims, &claims)
	attrs := tokens.Attributes{}
	for k, v := range claims {
		attrs["assertion."+k] = claimString(v)
	}
	mapping := map[string]string{"google.subject": "assertion.sub"}
	for k, v := range pool.AttributeMapping {
		mapping[k] = v
	}
	names := make([]string, 0, len(mapping))
	for k, v := range mapping {
		attrs[k] = attrs[v]
		if strings.HasPrefix(k, "attribute.") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		if v := attrs[k]; v != "" {
			groups = append(groups, "principalSet://"+poolPrefix(projectNumber, pool.Pool)+k+"/"+v)
		}
	}
	if pool.AttributeCondition != "" {
		if held, err := tokens.EvalCondition(pool.AttributeCondition, attrs); err != nil || !held {
			return "", nil, false
		}
	}
	return attrs["google.subject"], groups, true
}

// claimString renders a claim value for attribute mapping ("" for objects and lists).
func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// accessBoundaryOptions is the "options" JSON golang.org/x/oauth2/google/downscope sends.
type accessBoundaryOptions struct {
	AccessBoundary *struct {
		AccessBoundaryRules []struct {
			AvailableResource     string   `json:"availableResource"`
			AvailablePermissions  []string `json:"availablePermissions"`
			AvailabilityCondition *struct {
				Expression  string `json:"expression"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"availabilityCondition"`
		} `json:"accessBoundaryRules"`
	} `json:"accessBoundary"`
}

// downscope exchanges an access token plus a Credential Access Boundary for a token with
// the same identity limited by the boundary. The new token never outlives its source.
func (s *Service) downscope(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	var opts accessBoundaryOptions
	if raw := f.Get("options"); raw == "" || json.Unmarshal([]byte(raw), &opts) != nil || opts.AccessBoundary == nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid value for \"options\": an access boundary is required to exchange an access token.")
		return
	}
	rules := opts.AccessBoundary.AccessBoundaryRules
	if len(rules) == 0 || len(rules) > 10 {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The access boundary must have between 1 and 10 access boundary rules.")
		return
	}
	b := &tokens.Boundary{}
	for _, rule := range rules {
		if auth.BoundaryBucket(rule.AvailableResource) == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid available resource "+clip(rule.AvailableResource)+": only Cloud Storage buckets (//storage.googleapis.com/projects/_/buckets/BUCKET) are supported.")
			return
		}
		if len(rule.AvailablePermissions) == 0 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Every access boundary rule needs at least one available permission.")
			return
		}
		for _, p := range rule.AvailablePermissions {
			role, ok := strings.CutPrefix(p, "inRole:")
			if _, known := s.cfg.World.RolePermissions(role); !ok || !known {
				oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid available permission "+clip(p)+": expected inRole:ROLE with a known role.")
				return
			}
		}
		cond := ""
		if rule.AvailabilityCondition != nil {
			cond = rule.AvailabilityCondition.Expression
			if _, err := tokens.EvalCondition(cond, tokens.Attributes{}); err != nil {
				oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid availability condition: "+err.Error())
				return
			}
		}
		b.Rules = append(b.Rules, tokens.Rule{Resource: rule.AvailableResource, Permissions: append([]string(nil), rule.AvailablePermissions...), Condition: cond})
	}
	src, err := s.cfg.Tokens.Lookup(f.Get("subject_token"))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The subject token is invalid or has expired.")
		return
	}
	if src.Boundary != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The subject token is already down-scoped; exchange the original access token.")
		return
	}
	src.Boundary = b
	src.IssuedBy = "sts.token"
	value, expiresIn := s.issue(src)
	resp := map[string]any{"access_token": value, "issued_token_type": tokenTypeAccess, "token_type": "Bearer"}
	if !strings.HasPrefix(src.Member, "user:") {
		// Tokens derived from user (3LO) credentials carry no expires_in; the client keeps
		// the source token's expiry.
		resp["expires_in"] = expiresIn
	}
	writeJSON(w, http.StatusOK, resp)
}
