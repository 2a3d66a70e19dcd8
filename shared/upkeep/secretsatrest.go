package upkeep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Secrets at rest. Only the pinned version of a connector's secret is ever read, so once sweep
// has run it is the only one left enabled: sweep destroys every other version that is not
// destroyed yet (update's policy for a version it replaces), whatever left it behind (a
// cleanup that failed, an update interrupted between its secret write and its metadata
// write). Versions a key rotation still holds (its pending version, retired versions within
// their grace) are repairRotation's: sweep leaves them to it. A version younger than
// VersionGrace may still be pinned by an update in flight (Update bounds its metadata write by
// a budget counted from its secret write, well within connector.OrphanGrace), so it is kept
// until a later sweep.
//
// Listing a secret's versions is a Secret Manager metadata read, of which a project gets a
// few hundred a minute, so sweep lists only the secrets of connectors that say they have
// something to clean (Connector.CleanupAfter, set before an update or a rotation adds a
// version and when refresh pins one) and clears the mark once only the pinned version (and
// rotation's) is left: a sweep over connectors with nothing pending lists no versions. The
// clear writes the mark alone ([CleanupMarks]), so it leaves the revision, as a status write
// does. (store.Firestore reads a document stored before the mark existed, which has no
// cleanup_after field, as marked when it pins a version: it is cleaned once.)

// VersionGrace is how old an unpinned secret version must be before sweep destroys it.
const VersionGrace = connector.OrphanGrace

// repairVersions destroys the unpinned versions of c's secret older than VersionGrace that
// are not destroyed yet, when c is marked for cleanup (CleanupAfter set and passed), and
// returns how many it destroyed. It re-reads c's pinned version before it destroys anything,
// then clears the mark (or moves it to when the youngest version left may go). A secret
// store that cannot list versions repairs nothing.
func (s *Keeper) repairVersions(ctx context.Context, c *connector.Connector) (int, error) {
	lister, ok := s.Secrets.(SecretVersions)
	now := s.now()
	if !ok || c.CleanupAfter.IsZero() || now.Before(c.CleanupAfter) {
		return 0, nil
	}
	vs, err := lister.ListVersions(ctx, c.ID)
	if err != nil {
		return 0, fmt.Errorf("list the secret versions of connector %s: %w", c.ID, err)
	}
	cur, err := s.Store.Get(ctx, c.ID) // the list may predate an update that pinned one of them
	if connector.KindOf(err) == connector.ErrNotFound {
		return 0, nil // gone: its whole secret is an orphan, removed as one
	}
	if err != nil {
		return 0, fmt.Errorf("load connector %s: %w", c.ID, err)
	}
	owned := rotationVersions(cur)
	cutoff := now.Add(-VersionGrace)
	var stale []string
	var next time.Time // when the youngest unpinned version left may go
	for _, v := range vs {
		switch {
		case v.State == VersionDestroyed || v.Name == cur.SecretVersion || owned[v.Name]:
		case v.CreatedAt.Before(cutoff):
			stale = append(stale, v.Name)
		case v.CreatedAt.Add(VersionGrace).After(next):
			next = v.CreatedAt.Add(VersionGrace)
		}
	}
	n, err := s.destroyStale(ctx, cur, stale)
	if err != nil {
		return n, err // marked still: the next sweep tries again
	}
	return n, s.moveMark(ctx, cur, next)
}

// moveMark sets c's cleanup mark, as read, to next (zero: clears it) unless it was marked
// again meanwhile, with the store's CleanupMarks when it has it: that write, like a status
// write, does not change the revision, so it never makes a user's update conflict. A write
// that loses to any other leaves the mark for the next sweep (one more listing).
func (s *Keeper) moveMark(ctx context.Context, c *connector.Connector, next time.Time) error {
	if marks, ok := s.Store.(CleanupMarks); ok {
		err := marks.SetCleanupAfter(ctx, c, next)
		if k := connector.KindOf(err); k == connector.ErrConflict || k == connector.ErrNotFound {
			return nil
		}
		return err
	}
	cur := c
	_, err := s.UpdateConnector(ctx, c.ID, func(d *connector.Connector) bool {
		if !d.CleanupAfter.Equal(cur.CleanupAfter) {
			return false // marked again meanwhile (an update or a rotation added a version)
		}
		d.CleanupAfter = next
		return true
	})
	return err
}

// destroyStale destroys the versions stale of c's secret and returns how many it destroyed.
func (s *Keeper) destroyStale(ctx context.Context, c *connector.Connector, stale []string) (int, error) {
	n := 0
	var errs []error
	for _, v := range stale {
		if err := s.Secrets.DestroyVersion(ctx, c.ID, v); err != nil {
			s.log().WarnContext(ctx, "sweep: could not destroy an unpinned secret version; left for the next sweep",
				"connector_id", c.ID, "secret_version", v, "error", connector.MessageOf(err))
			errs = append(errs, fmt.Errorf("destroy unpinned secret version %s of connector %s: %w", v, c.ID, err))
			continue
		}
		n++
		s.log().InfoContext(ctx, "sweep: destroyed an unpinned secret version",
			"connector_id", c.ID, "connector", c.Name, "secret_version", v, "pinned_version", c.SecretVersion)
	}
	return n, errors.Join(errs...)
}

// rotationVersions are the versions c's key rotation holds: the pending one and the retired
// ones, which repairRotation destroys when their time comes.
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
