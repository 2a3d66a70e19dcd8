package upkeep

import (
	"context"
	"fmt"
	"slices"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Orphans returns the ids of connectors that have a secret but no longer exist (or never
// did), sorted, for sweep to delete with SecretStore.Delete. Only secrets older than
// OrphanGrace count, so a registration in flight keeps its secret, and a deleted
// connector's secret stays while it holds keys to delete (KeyCleanup records). It needs a SecretStore
// that implements SecretAges.
func (s *Keeper) Orphans(ctx context.Context) ([]string, error) {
	return s.orphans(ctx, nil)
}

// orphans is Orphans; listed, when not nil, holds every connector id listed after the
// secrets it looks at were created (the planner's listing): a secret older than OrphanGrace
// whose id it lacks is an orphan, without reading the connector. (Its connector, if any, was
// created within CreateBudget of its secret, before the listing began.) Without it, each
// old secret's connector is read: one read per connector, one after another.
func (s *Keeper) orphans(ctx context.Context, listed map[string]bool) ([]string, error) {
	ages, ok := s.Secrets.(SecretAges)
	if !ok {
		return nil, connector.Errorf(connector.ErrFailedPrecondition, "orphans: the secret store %T cannot tell when secrets were created", s.Secrets)
	}
	created, err := ages.SecretCreateTimes(ctx)
	if err != nil {
		return nil, fmt.Errorf("orphans: list secrets: %w", err)
	}
	cutoff := s.now().Add(-connector.OrphanGrace)
	kept, err := s.cleanupIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("orphans: list key cleanups: %w", err)
	}
	var out []string
	for id, t := range created {
		if t.After(cutoff) || kept[id] {
			continue // may belong to a registration in flight, or holds keys to delete
		}
		if listed != nil {
			if !listed[id] {
				out = append(out, id)
			}
			continue
		}
		_, err := s.Store.Get(ctx, id)
		switch connector.KindOf(err) {
		case connector.ErrNotFound:
			out = append(out, id)
		case "":
		default:
			return nil, fmt.Errorf("orphans: look up connector %q: %w", id, err)
		}
	}
	slices.Sort(out)
	return out, nil
}
