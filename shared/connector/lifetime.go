package connector

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
)

// maxRequestSeconds bounds a requested lifetime, so that it converts to a time.Duration
// without overflow; a request above it is refused (rather than answered with a "requested"
// lifetime the caller did not send), anything up to it above
// configschema.MaxLifetimeSeconds is clamped.
const maxRequestSeconds = 366 * 24 * 3600

// lifetimeAt decides the lifetime of a token minted from c at now (the Service's clock) when
// the caller asks for requestedSeconds (0 = the connector's expiration_seconds, or the
// method's default). A request outside what the auth method allows is clamped, not refused;
// Reason says why the applied lifetime differs from the request:
//
//   - service-account and impersonation: minLifetimeSeconds (10 min) to
//     configschema.MaxLifetimeSeconds, default defaultLifetimeSeconds (1 h; or the
//     connector's expiration_seconds);
//   - implicit, user-account and external-account: always defaultLifetimeSeconds, the lifetime
//     Google gives the tokens these methods obtain;
//   - oauth2-token: the time left until ExpiresAt, since the stored token is handed out as is.
//     It fails with ErrFailedPrecondition when less than MinTokenRemaining is left.
//
// A negative request, or one above a year, is ErrInvalid for the field lifetime_seconds.
func (c *Connector) lifetimeAt(requestedSeconds int, now time.Time) (Lifetime, error) {
	if requestedSeconds < 0 {
		return Lifetime{}, FieldErrorf("lifetime_seconds",
			"lifetime_seconds must be 0 (the default) or a positive number of seconds; got %d", requestedSeconds)
	}
	if requestedSeconds > maxRequestSeconds {
		return Lifetime{}, FieldErrorf("lifetime_seconds",
			"lifetime_seconds must be at most %d (a year; anything above the auth method's maximum is lowered to it); got %d",
			maxRequestSeconds, requestedSeconds)
	}
	lt := Lifetime{Requested: time.Duration(requestedSeconds) * time.Second}
	if c.AuthMethod == configschema.OAuth2Token {
		left, err := c.tokenTimeLeft(now)
		if err != nil {
			return Lifetime{}, err
		}
		lt.Applied = left
		if lt.Requested != lt.Applied {
			lt.Reason = fmt.Sprintf("oauth2-token connectors hand out their stored token as is; it expires at %s, in %s",
				c.ExpiresAt.UTC().Format(time.RFC3339), left)
		}
		return lt, nil
	}
	r := configschema.Lookup(c.AuthMethod)
	if r == nil || r.Lifetime() == nil {
		return Lifetime{}, Errorf(ErrInternal, "connector %q: unknown auth method %q", c.Name, c.AuthMethod)
	}
	l := r.Lifetime()
	applied, reason := requestedSeconds, ""
	switch {
	case l.Fixed():
		applied = l.Default
		if requestedSeconds != 0 && requestedSeconds != applied {
			reason = l.Why
		}
	case requestedSeconds == 0:
		applied = l.Default
		reason = lifetimeReason("no lifetime requested: the %s default of %s", c.AuthMethod, applied)
		if c.ExpirationSeconds > 0 {
			applied = min(max(c.ExpirationSeconds, l.Min), l.Max)
			reason = lifetimeReason("no lifetime requested: the connector's expiration_seconds of %[2]s", "", applied)
		}
	case requestedSeconds < l.Min:
		applied = l.Min
		reason = lifetimeReason("%s tokens last at least %s", c.AuthMethod, l.Min)
	case requestedSeconds > l.Max:
		applied = l.Max
		reason = lifetimeReason("%s tokens last at most %s", c.AuthMethod, l.Max)
	}
	if reason == "" && requestedSeconds == 0 {
		reason = lifetimeReason("no lifetime requested: %s tokens always last %s", c.AuthMethod, applied)
	}
	lt.Applied = time.Duration(applied) * time.Second
	lt.Reason = reason
	return lt, nil
}

// tokenTimeLeft returns how long the stored token of an oauth2-token connector remains
// usable at now: ErrFailedPrecondition when it has expired or expires within
// MinTokenRemaining.
func (c *Connector) tokenTimeLeft(now time.Time) (time.Duration, error) {
	if c.ExpiresAt.IsZero() {
		return 0, Errorf(ErrFailedPrecondition,
			"connector %q has no expires_at for its oauth2 token; update it with the token's expiry", c.Name)
	}
	left := c.ExpiresAt.Sub(now).Truncate(time.Second)
	if left <= 0 {
		return 0, Errorf(ErrFailedPrecondition,
			"the oauth2 token of connector %q expired at %s; update the connector with a fresh token",
			c.Name, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if left < MinTokenRemaining {
		return 0, Errorf(ErrFailedPrecondition,
			"the oauth2 token of connector %q expires at %s, in %s; tokens with less than %s left are not handed out; update the connector with a fresh token",
			c.Name, c.ExpiresAt.UTC().Format(time.RFC3339), left, MinTokenRemaining)
	}
	return left, nil
}

// lifetimeReason is fmt.Sprintf(format, method, seconds(n)), remembered: the reasons a mint
// gets are a handful per deployment (auth method by lifetime), and a warm mint should not
// format one each time. At most maxLifetimeReasons are remembered.
func lifetimeReason(format string, method AuthMethod, n int) string {
	k := reasonKey{format, method, n}
	if r, ok := lifetimeReasons.Load(k); ok {
		return r.(string)
	}
	r := fmt.Sprintf(format, method, seconds(n))
	if lifetimeReasonCount.Add(1) <= maxLifetimeReasons {
		lifetimeReasons.Store(k, r)
	}
	return r
}

type reasonKey struct {
	format string
	method AuthMethod
	n      int
}

var (
	lifetimeReasons     sync.Map // reasonKey -> string
	lifetimeReasonCount atomic.Int64
)

const maxLifetimeReasons = 1024

// seconds renders n seconds as a duration ("1h0m0s").
func seconds(n int) string { return (time.Duration(n) * time.Second).String() }
