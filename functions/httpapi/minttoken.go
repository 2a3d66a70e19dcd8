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
	if !c.decodeMint(&b) {
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
	writeCredential(w, &out)
}

// The keys of the two audit entries, encoded once (cloudlog.Fields).
var (
	auditRefused = cloudlog.NewFields("audit", "outcome", "caller", "principal", "issuer", "connector",
		"resource_type", "resource_id", "code", "status")
	auditGranted = cloudlog.NewFields("audit", "outcome", "caller", "principal", "issuer", "connector",
		"auth_method", "resource_type", "resource_id", "project_id", "lifetime_requested_seconds",
		"lifetime_applied_seconds", "cache_hit", "downscoped", "token_fingerprint", "expires_at")
)

// audit writes the audit entry of one mint: who, which connector and resource, what was
// granted (lifetime, cache hit, down-scoping, the token's fingerprint) or why not. It is
// written on every mint, so its keys are encoded once (auditGranted, auditRefused) and only
// the values are written, with the caller's computed once.
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
		cloudlog.LogFields(c.ctx, log, slog.LevelInfo, "mint "+outcome, auditRefused,
			slog.StringValue("mint"), slog.StringValue(outcome), principal, principal,
			slog.StringValue(c.p.IssuerName()), slog.StringValue(b.Connector),
			slog.StringValue(b.ResourceType), slog.StringValue(b.ResourceID),
			slog.StringValue(code), slog.IntValue(status))
		return
	}
	cloudlog.LogFields(c.ctx, log, slog.LevelInfo, "mint", auditGranted,
		slog.StringValue("mint"), slog.StringValue("granted"), principal, principal,
		slog.StringValue(c.p.IssuerName()), slog.StringValue(b.Connector),
		slog.StringValue(string(cred.AuthMethod)), slog.StringValue(string(cred.ResourceType)),
		slog.StringValue(cred.ResourceID), slog.StringValue(cred.ProjectID),
		slog.Int64Value(int64(cred.Lifetime.Requested.Seconds())),
		slog.Int64Value(int64(cred.Lifetime.Applied.Seconds())),
		slog.BoolValue(cred.CacheHit), slog.BoolValue(cred.Downscoped),
		slog.StringValue(cloudlog.Fingerprint(cred.AccessToken)), slog.TimeValue(cred.ExpiresAt.UTC()))
}
