package connector

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Cleanup after delete. A connector deleted while gcpconn holds keys it created for it
// leaves a KeyCleanup record: its pinned key, its retired keys
// and what a rotation in flight created, each deleted by sweep after its grace with the
// credentials of the version that held it. The connector's secret stays until then.

// deletedKeys is what Delete leaves for sweep of c, deleted at now: every key gcpconn
// created for it, with its account and version.
func (s *Service) deletedKeys(ctx context.Context, c *Connector, now time.Time) []rotation.RetiredKey {
	r := c.Rotation
	keys := slices.Clone(r.Clone().Retired)
	if r.KeyManaged && r.KeyID != "" {
		k := rotation.RetiredKey{KeyID: r.KeyID, Version: c.SecretVersion, Managed: true, RetiredAt: now, DeleteAfter: now.Add(rotation.Grace)}
		if g, err := s.grant(ctx, c, readFresh); err == nil {
			if key, err := g.Secrets.ServiceAccountKey(); err == nil {
				k.Email = key.ClientEmail
			}
		}
		keys = append(keys, k)
	}
	if p := r.Pending; p != nil {
		if k, ok := p.Leftover(p.KeyID == "", now); ok {
			if grace := now.Add(rotation.Grace); grace.After(k.DeleteAfter) {
				k.DeleteAfter = grace
			}
			keys = append(keys, k)
		}
	}
	return keys
}

// recordCleanup writes the cleanup record of c before Delete removes it; false when there
// is nothing gcpconn created to delete.
func (s *Service) recordCleanup(ctx context.Context, c *Connector) (bool, error) {
	keys := s.deletedKeys(ctx, c, s.now())
	if !slices.ContainsFunc(keys, func(k rotation.RetiredKey) bool { return k.Managed }) {
		return false, nil
	}
	if err := s.Store.PutCleanup(ctx, KeyCleanup{ConnectorID: c.ID, Name: c.Name, Keys: keys}); err != nil {
		return false, fmt.Errorf("delete connector %q: record its keys for cleanup: %w", c.Name, err)
	}
	return true, nil
}
