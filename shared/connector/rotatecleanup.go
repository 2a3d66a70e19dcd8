package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Cleanup after delete. A connector deleted while gcpconn holds keys it created for it
// leaves a KeyCleanup record (when the store keeps them): its pinned key, its retired keys
// and what a rotation in flight created, each deleted by sweep after its grace with the
// credentials of the version that held it. The connector's secret stays until then.

// deletedKeys is what Delete leaves for sweep of c, deleted at now: every key gcpconn
// created for it, with its account and version.
func (s *Service) deletedKeys(ctx context.Context, c *Connector, now time.Time) []RetiredKey {
	r := c.Rotation
	keys := slices.Clone(r.Clone().Retired)
	if r.KeyManaged && r.KeyID != "" {
		k := RetiredKey{KeyID: r.KeyID, Version: c.SecretVersion, Managed: true, RetiredAt: now, DeleteAfter: now.Add(RotationGrace)}
		if _, email, err := s.sourceGrant(ctx, c); err == nil {
			k.Email = email
		}
		keys = append(keys, k)
	}
	if p := r.Pending; p != nil {
		if k, ok := leftover(*p, p.KeyID == "", now); ok {
			k.DeleteAfter = maxTime(k.DeleteAfter, now.Add(RotationGrace))
			keys = append(keys, k)
		}
	}
	return keys
}

// recordCleanup writes the cleanup record of c before Delete removes it; false when there
// is nothing gcpconn created to delete, or the store keeps no such records (the keys are
// then left in place, as logged).
func (s *Service) recordCleanup(ctx context.Context, c *Connector) (bool, error) {
	keys := s.deletedKeys(ctx, c, s.now())
	if !slices.ContainsFunc(keys, func(k RetiredKey) bool { return k.Managed }) {
		return false, nil
	}
	kc, ok := s.Store.(KeyCleanups)
	if !ok {
		s.log().WarnContext(ctx, "delete: the store keeps no cleanup records; keys gcpconn created are left in place", "connector_id", c.ID)
		return false, nil
	}
	if err := kc.PutCleanup(ctx, KeyCleanup{ConnectorID: c.ID, Name: c.Name, Keys: keys}); err != nil {
		return false, fmt.Errorf("delete connector %q: record its keys for cleanup: %w", c.Name, err)
	}
	return true, nil
}

// sweepCleanups acts on the cleanup records of deleted connectors: their due keys are
// deleted (and versions destroyed); a record with nothing left goes with the connector's
// secret. A record whose connector still exists (a delete that failed) is dropped. It
// reports how many keys it deleted.
func (s *Service) sweepCleanups(ctx context.Context) (int, error) {
	kc, ok := s.Store.(KeyCleanups)
	if !ok || s.Keys == nil {
		return 0, nil
	}
	recs, err := kc.ListCleanups(ctx)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	recorded, err := s.recordedKeys(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, rec := range recs {
		k, err := s.cleanUp(ctx, kc, rec, recorded)
		n += k
		if err != nil {
			errs = append(errs, fmt.Errorf("connector %s (%s, deleted): %w", rec.ConnectorID, rec.Name, err))
		}
	}
	return n, errors.Join(errs...)
}

// cleanUp acts on one cleanup record (see sweepCleanups).
func (s *Service) cleanUp(ctx context.Context, kc KeyCleanups, rec KeyCleanup, recorded map[string]bool) (int, error) {
	_, err := s.Store.Get(ctx, rec.ConnectorID)
	if err == nil {
		return 0, kc.DeleteCleanup(ctx, rec.ConnectorID) // not deleted after all: its own records rule
	}
	if !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	gone := &Connector{ID: rec.ConnectorID, Name: rec.Name}
	now := s.now()
	n := 0
	var left []RetiredKey
	var errs []error
	for _, k := range rec.Keys {
		if now.Before(k.DeleteAfter) {
			left = append(left, k)
			continue
		}
		d, err := s.removeRetired(ctx, gone, k, recorded)
		n += d
		if err != nil {
			errs = append(errs, err)
			left = append(left, k)
		}
	}
	switch {
	case len(left) == len(rec.Keys):
	case len(left) > 0:
		rec.Keys = left
		errs = append(errs, kc.PutCleanup(ctx, rec))
	default:
		if err := s.Secrets.Delete(ctx, rec.ConnectorID); err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		errs = append(errs, kc.DeleteCleanup(ctx, rec.ConnectorID))
		s.log().InfoContext(ctx, "sweep: deleted the keys gcpconn created for a deleted connector", "connector_id", rec.ConnectorID, "connector", rec.Name)
	}
	return n, errors.Join(errs...)
}

// cleanupIDs returns the connectors whose cleanup records keep their secrets.
func (s *Service) cleanupIDs(ctx context.Context) (map[string]bool, error) {
	kc, ok := s.Store.(KeyCleanups)
	if !ok {
		return nil, nil
	}
	recs, err := kc.ListCleanups(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range recs {
		out[r.ConnectorID] = true
	}
	return out, nil
}
