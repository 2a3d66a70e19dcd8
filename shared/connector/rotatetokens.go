package connector

import (
	"context"
	"time"
)

// Tokens minted from keys gcpconn created. Before a token is minted from such a key, the
// connector's status records that tokens of its version expire by TokensUntil (rounded up
// to leaseStep, so a connector's status is written about once per leaseStep); once the key
// is retired, a mint from an instance that still serves it extends the retired record
// instead. A retired key whose tokens were all recorded (RetiredKey.TokensTracked) may be
// deleted as soon as they have expired and no instance can still serve it (retiredGone),
// which lets manual rotations stay under Google's key limit.

// leaseStep rounds up recorded token expiries.
const leaseStep = 10 * time.Minute

// HandsOutKey reports whether c gives callers its stored credentials themselves
// (generate_temporary_tokens false): no expiry bounds their use.
func (c *Connector) HandsOutKey() bool {
	g := c.Config.GenerateTemporaryTokens
	return g != nil && !*g
}

// leaseTokens records, before a token lasting until until is minted from c's pinned key,
// that tokens of c's version may live that long. It does nothing for keys gcpconn did not
// create. A key retired meanwhile has its retired record extended; one already deleted is
// refused (the mint reads the connector again).
func (s *Service) leaseTokens(ctx context.Context, c *Connector, until time.Time) error {
	if !c.Rotation.KeyManaged || c.SecretVersion == "" || c.HandsOutKey() {
		return nil
	}
	until = until.Add(leaseStep - 1).Truncate(leaseStep)
	if c.Status.TokensVersion == c.SecretVersion && !c.Status.TokensUntil.Before(until) {
		return nil
	}
	retired := false
	_, err := s.updateStatus(ctx, c.ID, func(cur *Connector) bool {
		if cur.SecretVersion != c.SecretVersion {
			retired = true
			return false
		}
		if cur.Status.TokensVersion == c.SecretVersion && !cur.Status.TokensUntil.Before(until) {
			return false
		}
		cur.Status.TokensVersion, cur.Status.TokensUntil = c.SecretVersion, until
		return true
	})
	if err != nil || !retired {
		return err
	}
	found := false
	_, err = s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
		for i, r := range cur.Rotation.Retired {
			if r.Version == c.SecretVersion && r.KeyID == c.Rotation.KeyID {
				found = true
				if r.TokensUntil.Before(until) {
					cur.Rotation.Retired[i].TokensUntil = until
					return true
				}
			}
		}
		return false
	})
	if err == nil && !found {
		s.Forget(c.ID)
		return Errorf(ErrUpstreamUnavailable, "connector %q changed its key meanwhile; try again", c.Name)
	}
	return err
}
