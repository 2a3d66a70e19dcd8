package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// Operational events are log lines that Cloud Logging turns into metrics and alerts
// (infra/monitoring.tf): each carries "event" with one of these names, and the fields the
// metrics filter on. Their names and value types are a contract with those filters;
// infra/infratest's TestLogContract checks every field a filter names against the lines the
// code really writes. Rename a field here and change infra/monitoring.tf with it. The events
// of background work (sweep_run, sweep_result, rotation, old_key) are shared/upkeep's.
const (
	eventUpstreamError = "upstream_error" // a request Google failed: api, code
	eventAuthFailure   = "auth_failure"   // a caller not authenticated: issuer, reason
)

// IssuerNamer is implemented by an Authenticator that can name the issuer a request's token
// claims even when the token is refused (callerauth.Verifier.IssuerOf), from a small fixed
// set: the auth_failure log event and its metric are labelled with it.
type IssuerNamer interface {
	IssuerOf(r *http.Request) string
}

// issuerUnknown is the issuer of auth_failure events when the Authenticator cannot name one.
const issuerUnknown = "unknown"

// logAuthFailure writes the auth_failure event of a caller that was not authenticated: at
// most authLogPerMinute lines a minute per issuer and code, each saying how many were left
// out since the previous one (suppressed), so that anyone who can send requests cannot flood
// the log.
func (c *call) logAuthFailure(err error) {
	issuer := issuerUnknown
	if n, ok := c.a.Auth.(IssuerNamer); ok {
		issuer = n.IssuerOf(c.r)
	}
	code, status := codeOf(c.ctx, err)
	ok, suppressed := c.a.authLog.Allow(issuer+" "+code, c.a.now())
	if !ok {
		return
	}
	c.a.log().WarnContext(c.ctx, "caller not authenticated", "event", eventAuthFailure,
		"entry_point", c.entry, "issuer", issuer, "code", code, "status", status, "reason", connector.MessageOf(err),
		"suppressed", suppressed)
}

// authLogPerMinute bounds the auth_failure lines per issuer and code per minute (API.authLog's
// limit, the Sampler's default).
const authLogPerMinute = cloudlog.DefaultSamplesPerMinute

// upstreamKind reports whether k says Google failed or refused a call.
func upstreamKind(k connector.Kind) bool {
	return k == connector.ErrUpstreamDenied || k == connector.ErrUpstreamNotFound || k == connector.ErrUpstreamUnavailable
}

// logUpstream writes the upstream_error event of a request answered with an upstream kind:
// which Google API answered (connector.APIOf; "unknown" when the error does not say) and
// the kind. A resource Google says does not exist is logged at INFO, the others at WARNING.
func logUpstream(ctx context.Context, log *slog.Logger, entry string, kind connector.Kind, status int, err error) {
	api := connector.APIOf(err)
	if api == "" {
		api = "unknown"
	}
	level := slog.LevelWarn
	if kind == connector.ErrUpstreamNotFound {
		level = slog.LevelInfo
	}
	log.Log(ctx, level, "upstream error", "event", eventUpstreamError, "entry_point", entry,
		"api", api, "code", string(kind), "status", status, "error", err.Error())
}
