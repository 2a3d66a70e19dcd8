package upkeep

import (
	"context"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// retiredByPin is the retired record of cur's pinned key when the rotation p replaces it
// at now. It is not tracked yet: settleTokens reads the leases after the pin.
func retiredByPin(cur *connector.Connector, p rotation.Pending, now time.Time) rotation.RetiredKey {
	r := cur.Rotation
	return rotation.RetiredKey{KeyID: r.KeyID, Version: p.FromVersion, Email: p.Email, Managed: r.KeyManaged,
		RetiredAt: now, DeleteAfter: now.Add(rotation.Grace)}
}

// settleTokens completes the retired record of version after the pin that retired it: a
// status write does not conflict with the pin's, so only a read after the pin sees every
// lease taken while version was pinned (later ones extend the record itself). The record
// becomes tracked when eligible (every token of the key was leased: KeyTracked, and the
// connector hands out no key). Until this is written the record is untracked: it is never
// deleted early.
func (s *Keeper) settleTokens(ctx context.Context, id, version string, eligible bool) {
	if !eligible {
		return
	}
	_, err := s.UpdateConnector(ctx, id, func(cur *connector.Connector) bool {
		for i, r := range cur.Rotation.Retired {
			if r.Version != version || r.TokensTracked {
				continue
			}
			if cur.Status.TokensVersion == version && r.TokensUntil.Before(cur.Status.TokensUntil) {
				cur.Rotation.Retired[i].TokensUntil = cur.Status.TokensUntil
			}
			cur.Rotation.Retired[i].TokensTracked = true
			return true
		}
		return false
	})
	if err != nil {
		s.log().WarnContext(ctx, "rotation: the retired key's tokens are not settled; it is deleted after the full grace", "connector_id", id, "error", connector.MessageOf(err))
	}
}
