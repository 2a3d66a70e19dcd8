package connector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// Bounds of a mint request (the scopes of each type's tokens are in package resourcetype).
const (
	// scopePrefix is what every Google OAuth scope a caller may ask for starts with.
	scopePrefix = "https://www.googleapis.com/auth/"
	maxScopes   = 20
	// maxPrefixLen bounds a down-scoping object prefix (GCS object names are at most 1024 bytes).
	maxPrefixLen = 1024
)

// dockerUsername is the user name docker sends with an access token as password.
const dockerUsername = "oauth2accesstoken"

type subjectTokenKey struct{}

// withSubjectToken returns ctx carrying the caller's subject token for external-account
// connectors, for the port methods whose request has no field for it (ListResources,
// Cluster). Adapters read it with SubjectTokenFrom.
func withSubjectToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return context.WithValue(ctx, subjectTokenKey{}, token)
}

// SubjectTokenFrom returns the subject token that withSubjectToken put in ctx, or "".
func SubjectTokenFrom(ctx context.Context) string {
	s, _ := ctx.Value(subjectTokenKey{}).(string)
	return s
}

// Mint issues a short-lived credential for one resource of the connector r.Ref, which p must
// be allowed to use. The token comes from the cache when a fresh enough one exists for the
// same connector, secret version, resource, scopes, boundary and lifetime; concurrent misses
// share one upstream mint. gcs-bucket tokens are down-scoped to their bucket unless the
// request disables it and the connector also serves gcp-generic (whose unbounded token the
// caller could get anyway). docker-registry credentials carry the registry host and
// kubernetes-cluster credentials a kubeconfig whose user runs gcpconn as an exec plugin.
// Connectors with generate_temporary_tokens=false hand out their stored credential JSON for
// gcp-generic and gcs-bucket when the method allows it (never implicit, impersonation or
// oauth2-token).
func (s *Service) Mint(ctx context.Context, p Principal, r MintRequest) (*Credential, error) {
	c, err := s.lookupCached(ctx, p, r.Ref, actionUse)
	if err != nil {
		return nil, err
	}
	if err := c.enabled(); err != nil {
		return nil, err
	}
	rt, id, err := c.resolveResource(r.ResourceType, r.ResourceID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	lt, err := c.lifetimeAt(r.LifetimeSeconds, now)
	if err != nil {
		return nil, err
	}
	info, _ := resourcetype.Of(rt) // resolveResource knows rt
	scopes, err := mintScopes(info, r.Scopes)
	if err != nil {
		return nil, err
	}
	boundary, err := mintBoundary(c, info, id, r.Downscope)
	if err != nil {
		return nil, err
	}
	g, err := s.usableGrant(ctx, c, readCached)
	if err != nil {
		return nil, err
	}
	cred := &Credential{
		TokenType:    "Bearer",
		ProjectID:    c.Config.ProjectID,
		ResourceType: rt,
		ResourceID:   id,
		Lifetime:     lt,
		AuthMethod:   c.AuthMethod,
	}
	if js := storedJSON(g); js != "" && info.Login == resourcetype.LoginToken {
		cred.TokenType = ""
		cred.CredentialsJSON = js
		cred.Lifetime = Lifetime{Requested: lt.Requested, Reason: "generate_temporary_tokens is false: " +
			"this is the connector's LONG-LIVED stored credential, not a short-lived token; it does not expire " +
			"and is not limited to the resource"}
		return cred, nil
	}

	if needsCallerToken(g) && r.SubjectToken == "" {
		return nil, FieldErrorf("subject_token",
			"external-account connectors need the caller's subject token (an OIDC token of the workload) with the request")
	}
	ctx = withSubjectToken(ctx, r.SubjectToken)
	req := TokenRequest{Scopes: scopes, Lifetime: lt.Applied, Boundary: boundary, SubjectToken: r.SubjectToken}
	tok, hit, err := s.mintToken(ctx, g, rt, id, req)
	if err != nil {
		return nil, upstreamContext(c, "mint a token", err)
	}
	cred.setToken(tok, hit, now)
	cred.Downscoped = boundary != nil
	switch info.Login {
	case resourcetype.LoginDocker:
		err = s.setDocker(cred, tok)
	case resourcetype.LoginKubeconfig:
		err = s.setKubernetes(ctx, cred, g)
	}
	if err != nil {
		return nil, err
	}
	return cred, nil
}

// mintToken returns a token for g as req asks, for the resource rt/id: from the token cache,
// or minted (hit reports which).
func (s *Service) mintToken(ctx context.Context, g Grant, rt ResourceType, id string, req TokenRequest) (tok Token, hit bool, err error) {
	c := g.Connector
	key := tokenKey{
		ConnectorID:   c.ID,
		SecretVersion: c.SecretVersion,
		Config:        c.Fingerprint(),
		ResourceType:  rt,
		ResourceID:    id,
		Scopes:        req.Scopes,
		Boundary:      req.Boundary,
		Lifetime:      req.Lifetime,
		SubjectToken:  req.SubjectToken,
	}
	if c.AuthMethod == configschema.OAuth2Token {
		key.Lifetime = 0 // the stored token is the same whatever time is left
	}
	return s.tokens.get(ctx, s.now, key, func(ctx context.Context) (Token, error) {
		// Google may issue a longer token than asked: the lease covers the longest.
		if err := s.leaseTokens(ctx, c, s.now().Add(configschema.MaxLifetimeSeconds*time.Second)); err != nil {
			return Token{}, err
		}
		warning := ""
		if rt == resourceid.GCSBucket {
			var err error
			if warning, err = s.bucketProject(ctx, g, id); err != nil {
				return Token{}, err
			}
		}
		tok, err := s.googleToken(ctx, g, req)
		tok.Warning = warning
		return tok, err
	})
}

// setToken puts tok (hit: from the cache) in cred, minted at now, and reports what the token
// really has left: a cached token is younger than its lifetime, and Google may issue a
// shorter one than asked (metadata-server tokens, for one).
func (cred *Credential) setToken(tok Token, hit bool, now time.Time) {
	lt := cred.Lifetime
	if left := tok.Expiry.Sub(now).Truncate(time.Second); !tok.Expiry.IsZero() && left < lt.Applied-time.Minute {
		why := fmt.Sprintf("Google issued a token that expires sooner, in %s", left)
		if hit {
			why = fmt.Sprintf("a cached token minted earlier was reused; it has %s left", left)
		}
		cred.Lifetime.Applied = left
		cred.Lifetime.Reason = joinReason(lt.Reason, why)
	}
	cred.AccessToken = tok.Value
	cred.ExpiresAt = tok.Expiry
	cred.CacheHit = hit
	cred.Warning = tok.Warning
}

// setDocker adds what docker login needs to cred, a token for a docker-registry resource.
func (s *Service) setDocker(cred *Credential, tok Token) error {
	rid, err := resourceid.Parse(resourceid.DockerRegistry, cred.ResourceID)
	if err != nil {
		return err
	}
	cred.Docker = &DockerCredential{Registry: s.Google.RegistryHost(rid.RegistryHost()), Username: dockerUsername, Password: tok.Value}
	return nil
}

// setKubernetes adds the facts kubectl needs to cred, a token for a kubernetes-cluster
// resource of g's connector, and its canonical id.
func (s *Service) setKubernetes(ctx context.Context, cred *Credential, g Grant) error {
	c, id := g.Connector, cred.ResourceID
	ck := c.ID + "\x00" + c.SecretVersion + "\x00" + c.Fingerprint() + "\x00" + id
	info, err := s.tokens.cluster(ctx, s.now, c.ID, ck, func(ctx context.Context) (ClusterInfo, error) {
		return s.Google.Cluster(ctx, g, id)
	})
	if err != nil {
		return upstreamContext(c, "describe GKE cluster "+id, err)
	}
	if _, _, ok := strings.Cut(info.ID, "/"); !ok {
		return Errorf(ErrInternal, "GKE cluster id %q from the adapter is not location/name", info.ID)
	}
	cred.ResourceID = info.ID
	cred.Kubernetes = &KubernetesCredential{
		ConnectorRef:         cmp.Or(c.ID, c.Name),
		Cluster:              info.ID,
		Server:               info.Server,
		CertificateAuthority: info.CertificateAuthority,
	}
	return nil
}

// upstreamContext says which connector and step an upstream error came from, keeping its
// kind, Google's text and the retry hint; other errors pass unchanged.
func upstreamContext(c *Connector, step string, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case ErrUpstreamDenied, ErrUpstreamNotFound, ErrUpstreamUnavailable:
		return &Error{Kind: e.Kind, Field: e.Field, RetryAfter: e.RetryAfter, Err: err,
			Message: fmt.Sprintf("connector %q could not %s: %s", c.Name, step, e.Message)}
	}
	return err
}

// storedJSON returns the stored credential JSON a connector with generate_temporary_tokens
// false hands out (the secret field its auth method's schema names), or "" when it mints
// tokens (the default, and always for implicit, impersonation and oauth2-token).
func storedJSON(g Grant) string {
	if g.Connector.Config.temporaryTokens() {
		return ""
	}
	m := configschema.Lookup(g.Connector.AuthMethod)
	if m == nil || m.HandedOut() == "" {
		return ""
	}
	return g.Secrets.Fields()[m.HandedOut()]
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// mintScopes returns the scopes of a token for the type of info: the requested ones (Google
// OAuth scopes only) or the type's defaults. The type's required scopes are always included
// (userinfo.email for kubernetes-cluster).
func mintScopes(info resourcetype.Info, req []string) ([]string, error) {
	if len(req) == 0 {
		return slices.Clone(info.Scopes), nil
	}
	if len(req) > maxScopes {
		return nil, FieldErrorf("scopes", "at most %d scopes may be requested; got %d", maxScopes, len(req))
	}
	out := make([]string, 0, len(req)+1)
	for i, sc := range req {
		rest, ok := strings.CutPrefix(sc, scopePrefix)
		if !ok || rest == "" || strings.ContainsFunc(rest, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return nil, FieldErrorf(fmt.Sprintf("scopes[%d]", i), "scope %q is not a Google OAuth scope (%s...)", sc, scopePrefix)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	for _, sc := range info.Required {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	slices.Sort(out)
	return out, nil
}

// mintBoundary returns the Credential Access Boundary of a token for id, of the type of info:
// for a down-scoped type (gcs-bucket), the bucket (and the request's prefix / read-only),
// unless down-scoping is disabled; nil for other types, where a Downscope is an error.
func mintBoundary(c *Connector, info resourcetype.Info, id string, d *Downscope) (*Boundary, error) {
	if !info.Downscoped {
		if d != nil && (d.Disabled || d.Prefix != "" || d.ReadOnly) {
			return nil, FieldErrorf("downscope", "down-scoping applies to gcs-bucket tokens only; this request is for %s", info.Type)
		}
		return nil, nil
	}
	if d == nil {
		d = &Downscope{}
	}
	if d.Disabled {
		if d.Prefix != "" || d.ReadOnly {
			return nil, FieldErrorf("downscope", "downscope.disabled excludes prefix and read_only")
		}
		if !slices.Contains(c.ResourceTypes, resourceid.GCPGeneric) {
			return nil, Errorf(ErrPermission,
				"connector %q hands out gcs-bucket tokens limited to their bucket only; an unbounded token needs a connector that serves gcp-generic", c.Name)
		}
		return nil, nil
	}
	bucket, ok := strings.CutPrefix(id, "gs://") // resolveResource returns the canonical gs://NAME
	if !ok || bucket == "" || strings.Contains(bucket, "/") {
		rid, err := resourceid.Parse(resourceid.GCSBucket, id)
		if err != nil {
			return nil, err
		}
		bucket = rid.Name
	}
	if len(d.Prefix) > maxPrefixLen || strings.ContainsFunc(d.Prefix, func(r rune) bool {
		return r == '\'' || r == '\\' || r == '"' || unicode.IsControl(r) || r == unicode.ReplacementChar
	}) {
		return nil, FieldErrorf("downscope.prefix",
			"the object prefix must be at most %d bytes of printable characters without quotes or backslashes", maxPrefixLen)
	}
	return &Boundary{Bucket: bucket, Prefix: d.Prefix, ReadOnly: d.ReadOnly}, nil
}
