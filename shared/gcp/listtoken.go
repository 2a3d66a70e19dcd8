package gcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
	"golang.org/x/sync/singleflight"
)

// maxListTokens bounds the listing-token cache; past it, expired entries are dropped, and if
// that is not enough, all of them.
const maxListTokens = 4096

// listTokens reuses the cloud-platform tokens that ListResources and Cluster mint for their
// own calls, so that verifying four resource types costs one token, not four. Entries are
// keyed by a hash of everything the token depends on (auth method, configuration, secret
// values, subject token): changed credentials never hit an old entry.
type listTokens struct {
	mu      sync.Mutex
	m       map[string]connector.Token
	flights singleflight.Group
}

func grantKey(gr connector.Grant, subject string) string {
	c := gr.Connector
	h := sha256.New()
	for _, s := range []string{c.ID, c.Fingerprint(),
		gr.Secrets.ServiceAccountJSON, gr.Secrets.UserAccountJSON, gr.Secrets.ExternalAccountJSON, gr.Secrets.Token, subject} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// listToken returns a cloud-platform token for gr's own listing calls.
func (g *Google) listToken(ctx context.Context, gr connector.Grant) (connector.Token, error) {
	subject := connector.SubjectTokenFrom(ctx)
	key := grantKey(gr, subject)
	now := g.now()
	g.lists.mu.Lock()
	if t, ok := g.lists.m[key]; ok && t.Expiry.Sub(now) >= connector.MinTokenRemaining {
		g.lists.mu.Unlock()
		return t, nil
	}
	g.lists.mu.Unlock()
	v, err, _ := g.lists.flights.Do(key, func() (any, error) {
		// Token stores the result for later listings (see remember).
		return g.Token(ctx, gr, connector.TokenRequest{Scopes: []string{resourcetype.ScopeCloudPlatform}, SubjectToken: subject})
	})
	if err != nil {
		return connector.Token{}, err
	}
	return v.(connector.Token), nil
}

// remember keeps t for later listings with gr's credentials when it is a plain
// cloud-platform token of at least the default lifetime (the kind verification's
// authentication check and gcp-generic mints ask for).
func (g *Google) remember(gr connector.Grant, req connector.TokenRequest, t connector.Token) {
	if req.Boundary != nil || len(req.Scopes) != 1 || req.Scopes[0] != resourcetype.ScopeCloudPlatform ||
		(req.Lifetime != 0 && req.Lifetime < jwtBearerLifetime) {
		return
	}
	key := grantKey(gr, req.SubjectToken)
	now := g.now()
	g.lists.mu.Lock()
	defer g.lists.mu.Unlock()
	if g.lists.m == nil {
		g.lists.m = map[string]connector.Token{}
	}
	if len(g.lists.m) >= maxListTokens {
		for k, old := range g.lists.m {
			if old.Expiry.Sub(now) < connector.MinTokenRemaining {
				delete(g.lists.m, k)
			}
		}
		if len(g.lists.m) >= maxListTokens {
			clear(g.lists.m)
		}
	}
	g.lists.m[key] = t
}
