package gcp

import (
	"context"
	"net/http"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"golang.org/x/oauth2"
)

// Google implements connector.Google against the services of its Endpoints. It keeps no
// per-connector state and is safe for concurrent use.
type Google struct {
	ep    Endpoints
	http  *http.Client
	now   func() time.Time
	lists listTokens
	// rotation is who calls the IAM keys API (WithRotationIdentity; "" is RotateAsConnector).
	rotation RotationIdentity
}

// Google implements the core's Google port (checked here, so that a renamed method fails the
// build).
var _ connector.Google = (*Google)(nil)

// Option configures New.
type Option func(*Google)

// WithHTTPClient sets the HTTP client for every call to Google (default: a client with a
// 30 s timeout). Its transport must not add credentials.
func WithHTTPClient(c *http.Client) Option { return func(g *Google) { g.http = c } }

// WithClock sets the clock used for token expiry computed from expires_in (default time.Now).
func WithClock(now func() time.Time) Option { return func(g *Google) { g.now = now } }

// New returns a Google adapter for ep (empty fields mean Google's production endpoints).
func New(ep Endpoints, opts ...Option) *Google {
	g := &Google{ep: ep.withDefaults(), now: time.Now}
	for _, o := range opts {
		o(g)
	}
	if g.http == nil {
		g.http = &http.Client{Timeout: 30 * time.Second}
	}
	return g
}

// Endpoints returns the endpoints g calls.
func (g *Google) Endpoints() Endpoints { return g.ep }

// RegistryHost returns the host that docker must log in to for a registry host named in a
// resource id: the configured stand-in (a local fake) or the host itself.
func (g *Google) RegistryHost(host string) string {
	if g.ep.DockerRegistryHost != "" {
		return g.ep.DockerRegistryHost
	}
	return host
}

// oauthCtx returns ctx carrying g's HTTP client for x/oauth2.
func (g *Google) oauthCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, g.http)
}

// authed returns an HTTP client that sends tok as its bearer token.
func (g *Google) authed(tok connector.Token) *http.Client {
	base := g.http.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{
		Timeout: g.http.Timeout,
		Transport: &oauth2.Transport{
			Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.Value, TokenType: "Bearer", Expiry: tok.Expiry}),
			Base:   base,
		},
	}
}

func fromOAuth2(t *oauth2.Token) connector.Token {
	return connector.Token{Value: t.AccessToken, Expiry: t.Expiry}
}
