package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
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
	ok, suppressed := c.a.authLog.allow(issuer+" "+code, c.a.now())
	if !ok {
		return
	}
	c.a.log().WarnContext(c.ctx, "caller not authenticated", "event", connector.EventAuthFailure,
		"entry_point", c.entry, "issuer", issuer, "code", code, "status", status, "reason", connector.MessageOf(err),
		"suppressed", suppressed)
}

// authLogPerMinute bounds the auth_failure lines per issuer and code per minute.
const authLogPerMinute = 60

// authLogSampler lets authLogPerMinute events per key through each minute and counts the
// others. Its zero value is ready to use; keys are few (issuer names and error codes).
type authLogSampler struct {
	mu   sync.Mutex
	keys map[string]*authLogWindow
}

type authLogWindow struct {
	start      time.Time
	n, dropped int
}

// allow reports whether an event for key may be logged at now, and how many were left out
// since the last one that was.
func (s *authLogSampler) allow(key string, now time.Time) (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]*authLogWindow{}
	}
	w := s.keys[key]
	if w == nil || now.Sub(w.start) >= time.Minute {
		if w == nil && len(s.keys) >= 1000 {
			clear(s.keys)
		}
		dropped := 0
		if w != nil {
			dropped = w.dropped
		}
		w = &authLogWindow{start: now}
		s.keys[key] = w
		w.n = 1
		return true, dropped
	}
	if w.n >= authLogPerMinute {
		w.dropped++
		return false, 0
	}
	w.n++
	dropped := w.dropped
	w.dropped = 0
	return true, dropped
}

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
	log.Log(ctx, level, "upstream error", "event", connector.EventUpstreamError, "entry_point", entry,
		"api", api, "code", string(kind), "status", status, "error", err.Error())
}
