package upkeep

import (
	"context"
	"errors"
	"fmt"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Cleanup after delete: sweep acts on the KeyCleanup records that Delete leaves in the
// Store (Store.ListCleanups), deleting each key after its grace with the credentials of the
// version that held it, then the connector's secret.

// sweepCleanups acts on the cleanup records of deleted connectors: their due keys are
// deleted (and versions destroyed); a record with nothing left goes with the connector's
// secret. A record whose connector still exists (a delete that failed) is dropped. It
// reports how many keys it deleted.
func (s *Keeper) sweepCleanups(ctx context.Context) (int, error) {
	if s.Keys == nil {
		return 0, nil
	}
	recs, err := s.Store.ListCleanups(ctx)
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
		k, err := s.cleanUp(ctx, rec, recorded)
		n += k
		if err != nil {
			errs = append(errs, fmt.Errorf("connector %s (%s, deleted): %w", rec.ConnectorID, rec.Name, err))
		}
	}
	return n, errors.Join(errs...)
}

// cleanUp acts on one cleanup record (see sweepCleanups).
func (s *Keeper) cleanUp(ctx context.Context, rec connector.KeyCleanup, recorded map[string]bool) (int, error) {
	_, err := s.Store.Get(ctx, rec.ConnectorID)
	if err == nil {
		return 0, s.Store.DeleteCleanup(ctx, rec.ConnectorID) // not deleted after all: its own records rule
	}
	if !errors.Is(err, connector.ErrNotFound) {
		return 0, err
	}
	gone := &connector.Connector{ID: rec.ConnectorID, Name: rec.Name}
	now := s.now()
	n := 0
	var left []rotation.RetiredKey
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
		errs = append(errs, s.Store.PutCleanup(ctx, rec))
	default:
		if err := s.Secrets.Delete(ctx, rec.ConnectorID); err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		errs = append(errs, s.Store.DeleteCleanup(ctx, rec.ConnectorID))
		s.log().InfoContext(ctx, "sweep: deleted the keys gcpconn created for a deleted connector", "connector_id", rec.ConnectorID, "connector", rec.Name)
	}
	return n, errors.Join(errs...)
}

// cleanupIDs returns the connectors whose cleanup records keep their secrets.
func (s *Keeper) cleanupIDs(ctx context.Context) (map[string]bool, error) {
	recs, err := s.Store.ListCleanups(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range recs {
		out[r.ConnectorID] = true
	}
	return out, nil
}
