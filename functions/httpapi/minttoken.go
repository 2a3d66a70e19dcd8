package httpapi

import (
	"net/http"

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
	var b mintBody
	if !c.decode(&b, false) {
		return
	}
	cred, err := c.svc.Mint(c.ctx, c.p, b.request())
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
// granted (lifetime, cache hit, down-scoping, the token's fingerprint) or why not.
func (c *call) audit(b mintBody, cred *connector.Credential, err error) {
	log := c.a.log()
	if err != nil {
		code, status := codeOf(c.ctx, err)
		outcome := "refused"
		if code == codeCancelled {
			outcome = codeCancelled
		}
		log.InfoContext(c.ctx, "mint "+outcome, "audit", "mint", "outcome", outcome, "caller", c.p.String(), "principal", c.p.String(), "issuer", c.p.IssuerName(),
			"connector", b.Connector, "resource_type", b.ResourceType, "resource_id", b.ResourceID,
			"code", code, "status", status)
		return
	}
	log.InfoContext(c.ctx, "mint", "audit", "mint", "outcome", "granted", "caller", c.p.String(), "principal", c.p.String(), "issuer", c.p.IssuerName(),
		"connector", b.Connector, "auth_method", string(cred.AuthMethod),
		"resource_type", string(cred.ResourceType), "resource_id", cred.ResourceID, "project_id", cred.ProjectID,
		"lifetime_requested_seconds", int64(cred.Lifetime.Requested.Seconds()),
		"lifetime_applied_seconds", int64(cred.Lifetime.Applied.Seconds()),
		"cache_hit", cred.CacheHit, "downscoped", cred.Downscoped,
		"token_fingerprint", cloudlog.Fingerprint(cred.AccessToken),
		"expires_at", cred.ExpiresAt.UTC())
}
