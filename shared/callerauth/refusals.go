package callerauth

import (
	"errors"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Refusals. A caller whose token is refused learns only that it was (RefusedMessage): the
// reason would tell an anonymous caller the trusted issuers' URLs, the accepted audiences
// and the bound claims' values. The reason goes to the log instead, without the token, at
// most Config.RefusalLogsPerMinute lines per issuer per minute (the issuer's name, "google",
// or "untrusted" for tokens of no configured issuer), so a flood of bad tokens cannot flood
// the log; a line after a quiet spell says how many were left out.

// RefusedMessage is what a caller whose token is refused is told.
const RefusedMessage = "callerauth: the ID token was not accepted (malformed, expired, from an issuer this service does not trust, " +
	"for another audience, or with claims this service does not allow); the reason is in gcpconn's logs"

// DefaultRefusalLogsPerMinute is Config.RefusalLogsPerMinute's default.
const DefaultRefusalLogsPerMinute = 10

// Labels of refusals that are not of one configured issuer.
const (
	labelGoogle    = connector.GoogleIssuerName
	labelUntrusted = "untrusted"
)

// refused turns the detailed refusal err of a token (of the issuer labelled label) into the
// caller's generic error, logging the detail sampled. Errors of other kinds pass unchanged.
func (v *Verifier) refused(label string, err error) error {
	if connector.KindOf(err) != connector.ErrUnauthenticated {
		return err
	}
	if ok, suppressed := v.sample.allow(label); ok && v.cfg.Log != nil {
		v.cfg.Log.Warn("callerauth: token refused", "issuer", label, "reason", connector.MessageOf(err), "suppressed", suppressed)
	}
	return &connector.Error{Kind: connector.ErrUnauthenticated, Message: RefusedMessage, Err: errors.New(connector.MessageOf(err))}
}

// sampler allows at most perMinute events per key per minute of now.
type sampler struct {
	perMinute int
	now       func() time.Time

	mu      sync.Mutex
	windows map[string]*window
}

type window struct {
	start      time.Time
	n          int // allowed in this window
	suppressed int // not allowed since the last allowed one
}

// allow reports whether one more event of key may be logged now, and how many were not
// since the last one that was.
func (s *sampler) allow(key string) (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	w := s.windows[key]
	if w == nil {
		if s.windows == nil {
			s.windows = map[string]*window{}
		}
		w = &window{start: now}
		s.windows[key] = w
	}
	if d := now.Sub(w.start); d >= time.Minute || d < 0 {
		w.start, w.n = now, 0
	}
	if w.n >= s.perMinute {
		w.suppressed++
		return false, 0
	}
	w.n++
	n := w.suppressed
	w.suppressed = 0
	return true, n
}
