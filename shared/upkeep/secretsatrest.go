package upkeep

import (
	"context"
	"errors"
	"fmt"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Secrets at rest. Only the pinned version of a connector's secret is ever read, so once sweep
// has run it is the only one left enabled: sweep destroys every other version that is not
// destroyed yet (update's policy for a version it replaces), whatever left it behind (a
// cleanup that failed, an update interrupted between its secret write and its metadata
// write). Versions a key rotation still holds (its pending version, retired versions within
// their grace) are RepairRotation's: sweep leaves them to it. A version younger than VersionGrace may still be pinned by an update in flight
// (Update bounds its metadata write by CreateBudget from its secret write), so it is kept
// until a later sweep.

// VersionGrace is how old an unpinned secret version must be before sweep destroys it.
const VersionGrace = connector.OrphanGrace

// repairVersions destroys the unpinned versions of c's secret older than VersionGrace that
// are not destroyed yet, and returns how many it destroyed. It re-reads c's pinned version
// before it destroys anything. A secret store that cannot list versions repairs nothing.
func (s *Keeper) repairVersions(ctx context.Context, c *connector.Connector) (int, error) {
	lister, ok := s.Secrets.(SecretVersions)
	if !ok {
		return 0, nil
	}
	vs, err := lister.ListVersions(ctx, c.ID)
	if err != nil {
		return 0, fmt.Errorf("list the secret versions of connector %s: %w", c.ID, err)
	}
	cutoff := s.now().Add(-VersionGrace)
	var stale []string
	for _, v := range vs {
		if v.State != VersionDestroyed && v.Name != c.SecretVersion && v.CreatedAt.Before(cutoff) {
			stale = append(stale, v.Name)
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	cur, err := s.Store.Get(ctx, c.ID) // the list may predate an update that pinned one of them
	if connector.KindOf(err) == connector.ErrNotFound {
		return 0, nil // gone: its whole secret is an orphan, removed as one
	}
	if err != nil {
		return 0, fmt.Errorf("load connector %s: %w", c.ID, err)
	}
	n := 0
	var errs []error
	owned := rotationVersions(cur)
	for _, v := range stale {
		if v == cur.SecretVersion || owned[v] {
			continue
		}
		if err := s.Secrets.DestroyVersion(ctx, c.ID, v); err != nil {
			s.log().WarnContext(ctx, "sweep: could not destroy an unpinned secret version; left for the next sweep",
				"connector_id", c.ID, "secret_version", v, "error", connector.MessageOf(err))
			errs = append(errs, fmt.Errorf("destroy unpinned secret version %s of connector %s: %w", v, c.ID, err))
			continue
		}
		n++
		s.log().InfoContext(ctx, "sweep: destroyed an unpinned secret version",
			"connector_id", c.ID, "connector", c.Name, "secret_version", v, "pinned_version", cur.SecretVersion)
	}
	return n, errors.Join(errs...)
}

// rotationVersions are the versions c's key rotation holds: the pending one and the retired
// ones, which RepairRotation destroys when their time comes.
func rotationVersions(c *connector.Connector) map[string]bool {
	out := map[string]bool{}
	if p := c.Rotation.Pending; p != nil && p.Version != "" {
		out[p.Version] = true
	}
	for _, r := range c.Rotation.Retired {
		if r.Version != "" {
			out[r.Version] = true
		}
	}
	return out
}
