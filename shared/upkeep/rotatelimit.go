package upkeep

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Google's limit of MaxKeysPerAccount keys per service account. A connector rotated by hand
// several times within rotation.Grace holds several retired keys gcpconn created; when the
// account has all its keys, the oldest of them is deleted early, once no token minted from
// it can still be in use and no instance can still serve it (retiredGone). Otherwise the
// rotation is refused before it claims anything, saying how many of the account's keys are
// gcpconn's own retired ones and when the next one may go.

// retiredGone is when no token minted from the retired key r can still be in use: its
// tokens minted up to when it stopped being pinned (r.TokensUntil when tokens were
// recorded, else the longest lifetime a token may have) and the revocation window in which
// other instances may still have minted from it.
func retiredGone(r rotation.RetiredKey) time.Time {
	retired := r.RetiredAt
	if retired.IsZero() {
		retired = r.DeleteAfter.Add(-rotation.Grace)
	}
	served := retired.Add(connector.MaxRevocationWindow)
	if r.TokensTracked {
		return maxTime(served, r.TokensUntil)
	}
	return served.Add(configschema.MaxLifetimeSeconds * time.Second)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// makeRoom frees one of the MaxKeysPerAccount keys of email (known, as listed) for a
// rotation of c, by deleting the oldest key gcpconn retired from c if retiredGone allows;
// otherwise it records and returns the refusal. It returns the account's keys after.
func (s *Keeper) makeRoom(ctx context.Context, c *connector.Connector, g connector.Grant, email string, known []KeyInfo) ([]KeyInfo, error) {
	live := map[string]bool{}
	for _, k := range known {
		live[k.ID] = true
	}
	var mine []rotation.RetiredKey
	for _, r := range c.Rotation.Retired {
		if r.Managed && r.KeyID != "" && live[r.KeyID] && (r.Email == "" || r.Email == email) {
			mine = append(mine, r)
		}
	}
	slices.SortFunc(mine, func(a, b rotation.RetiredKey) int { return retiredGone(a).Compare(retiredGone(b)) })
	now := s.now()
	if len(mine) == 0 {
		return nil, s.recordRotationFailure(ctx, c, keyLimitProblem(email), nil)
	}
	if next := retiredGone(mine[0]); now.Before(next) {
		why := fmt.Sprintf("%s; %d of them are keys gcpconn retired from this connector, the next of which may be deleted at %s (when no token minted from it can still be in use)",
			keyLimitProblem(email), len(mine), next.UTC().Format(time.RFC3339))
		return nil, s.recordRotationFailure(ctx, c, why, nil)
	}
	oldest := mine[0]
	if _, err := s.UpdateConnector(ctx, c.ID, func(cur *connector.Connector) bool {
		i := slices.IndexFunc(cur.Rotation.Retired, func(r rotation.RetiredKey) bool { return sameRetired(r, oldest) })
		if i < 0 || !cur.Rotation.Retired[i].DeleteAfter.After(now) {
			return false
		}
		cur.Rotation.Retired[i].DeleteAfter = now
		return true
	}); err != nil {
		return nil, err
	}
	if _, err := s.deleteRetired(ctx, c.ID); err != nil {
		return nil, fmt.Errorf("rotate key of connector %q: delete its oldest retired key %s to make room: %w", c.Name, oldest.KeyID, err)
	}
	s.log().InfoContext(ctx, "rotation: deleted the oldest retired key early to stay under Google's key limit", "connector_id", c.ID, "key_id", oldest.KeyID)
	return s.Keys.ListKeys(ctx, g, email)
}
