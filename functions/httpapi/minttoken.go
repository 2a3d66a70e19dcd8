package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// MintToken issues a short-lived credential for one resource and writes one audit entry.
func (a *API) MintToken(w http.ResponseWriter, r *http.Request) {
	c, ok := a.start(w, r, "mint-token")
	defer c.done()
	if !ok {
		return
	}
	var b wire.MintRequest
	if !c.decode(&b, false) {
		return
	}
	cred, err := c.svc.Mint(c.ctx, c.p, mintRequest(b))
	c.audit(b, cred, err)
	if err != nil {
		c.fail(err)
		return
	}
	out, err := toCredentialJSON(cred, a.now())
	if err != nil {
		c.fail(err)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, out)
}

// audit writes the audit entry of one mint: who, which connector and resource, what was
// granted (lifetime, cache hit, down-scoping, the token's fingerprint) or why not. It is
// written on every mint, so it is built as typed attributes (LogAttrs) with the caller's
// attributes computed once.
func (c *call) audit(b wire.MintRequest, cred *connector.Credential, err error) {
	log := c.a.log()
	if !log.Enabled(c.ctx, slog.LevelInfo) {
		return
	}
	principal := slog.StringValue(c.p.String())
	if err != nil {
		code, status := codeOf(c.ctx, err)
		outcome := "refused"
		if code == codeCancelled {
			outcome = codeCancelled
		}
		attrs := [...]slog.Attr{
			slog.String("audit", "mint"), slog.String("outcome", outcome),
			{Key: "caller", Value: principal}, {Key: "principal", Value: principal},
			slog.String("issuer", c.p.IssuerName()), slog.String("connector", b.Connector),
			slog.String("resource_type", b.ResourceType), slog.String("resource_id", b.ResourceID),
			slog.String("code", code), slog.Int("status", status),
		}
		log.LogAttrs(c.ctx, slog.LevelInfo, "mint "+outcome, attrs[:]...)
		return
	}
	attrs := [...]slog.Attr{
		slog.String("audit", "mint"), slog.String("outcome", "granted"),
		{Key: "caller", Value: principal}, {Key: "principal", Value: principal},
		slog.String("issuer", c.p.IssuerName()), slog.String("connector", b.Connector),
		slog.String("auth_method", string(cred.AuthMethod)),
		slog.String("resource_type", string(cred.ResourceType)), slog.String("resource_id", cred.ResourceID),
		slog.String("project_id", cred.ProjectID),
		slog.Int64("lifetime_requested_seconds", int64(cred.Lifetime.Requested.Seconds())),
		slog.Int64("lifetime_applied_seconds", int64(cred.Lifetime.Applied.Seconds())),
		slog.Bool("cache_hit", cred.CacheHit), slog.Bool("downscoped", cred.Downscoped),
		slog.String("token_fingerprint", cloudlog.Fingerprint(cred.AccessToken)),
		slog.Time("expires_at", cred.ExpiresAt.UTC()),
	}
	log.LogAttrs(c.ctx, slog.LevelInfo, "mint", attrs[:]...)
}
