package callerauth

import (
	"errors"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/principal"
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
	labelGoogle    = principal.GoogleIssuer
	labelUntrusted = "untrusted"
)

// refused turns the detailed refusal err of a token (of the issuer labelled label) into the
// caller's generic error, logging the detail sampled. Errors of other kinds pass unchanged.
func (v *Verifier) refused(label string, err error) error {
	if connector.KindOf(err) != connector.ErrUnauthenticated {
		return err
	}
	if ok, suppressed := v.sample.Allow(label, v.cfg.Now()); ok && v.cfg.Log != nil {
		v.cfg.Log.Warn("callerauth: token refused", "issuer", label, "reason", connector.MessageOf(err), "suppressed", suppressed)
	}
	return &connector.Error{Kind: connector.ErrUnauthenticated, Message: RefusedMessage, Err: errors.New(connector.MessageOf(err))}
}
