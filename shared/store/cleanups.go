package store

import (
	"context"
	"maps"
	"slices"
	"time"

	"google.golang.org/api/iterator"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Key cleanup records (connector.KeyCleanup, Store.PutCleanup): what is left to delete of deleted
// connectors' keys. Memory keeps them in a map; Firestore in a third collection, named after
// the connectors' with a "_key_cleanups" suffix, one document per connector id.

func cloneCleanup(k connector.KeyCleanup) connector.KeyCleanup {
	k.Keys = rotation.State{Retired: k.Keys}.Clone().Retired
	return k
}

// PutCleanup stores k, replacing the record of the same connector.
func (m *Memory) PutCleanup(ctx context.Context, k connector.KeyCleanup) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cleanups == nil {
		m.cleanups = map[string]connector.KeyCleanup{}
	}
	m.cleanups[k.ConnectorID] = cloneCleanup(k)
	return nil
}

// ListCleanups returns every cleanup record.
func (m *Memory) ListCleanups(ctx context.Context) ([]connector.KeyCleanup, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []connector.KeyCleanup
	for _, id := range slices.Sorted(maps.Keys(m.cleanups)) {
		out = append(out, cloneCleanup(m.cleanups[id]))
	}
	return out, nil
}

// DeleteCleanup removes the record of a connector.
func (m *Memory) DeleteCleanup(ctx context.Context, connectorID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cleanups, connectorID)
	return nil
}

// fsCleanup is the stored form of a connector.KeyCleanup.
type fsCleanup struct {
	ConnectorID string      `firestore:"connector_id"`
	Name        string      `firestore:"name"`
	Keys        []fsRetired `firestore:"keys"`
	UpdatedAt   time.Time   `firestore:"updated_at"`
}

// PutCleanup stores k, replacing the record of the same connector.
func (f *Firestore) PutCleanup(ctx context.Context, k connector.KeyCleanup) error {
	if !validID(k.ConnectorID) {
		return &connector.Error{Kind: connector.ErrInvalid, Message: "store: bad connector id " + k.ConnectorID}
	}
	d := fsCleanup{ConnectorID: k.ConnectorID, Name: k.Name, UpdatedAt: time.Now().UTC()}
	for _, r := range k.Keys {
		d.Keys = append(d.Keys, toRetired(r))
	}
	if _, err := f.cleanups.Doc(k.ConnectorID).Set(ctx, d); err != nil {
		return fsError("put key cleanup", err)
	}
	return nil
}

// ListCleanups returns every cleanup record.
func (f *Firestore) ListCleanups(ctx context.Context) ([]connector.KeyCleanup, error) {
	it := f.cleanups.Documents(ctx)
	defer it.Stop()
	var out []connector.KeyCleanup
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, fsError("list key cleanups", err)
		}
		var d fsCleanup
		if err := snap.DataTo(&d); err != nil {
			return nil, &connector.Error{Kind: connector.ErrInternal, Message: "store: decode key cleanup " + snap.Ref.ID, Err: err}
		}
		k := connector.KeyCleanup{ConnectorID: d.ConnectorID, Name: d.Name}
		for _, r := range d.Keys {
			k.Keys = append(k.Keys, fromRetired(r))
		}
		out = append(out, k)
	}
}

// DeleteCleanup removes the record of a connector.
func (f *Firestore) DeleteCleanup(ctx context.Context, connectorID string) error {
	if !validID(connectorID) {
		return nil
	}
	if _, err := f.cleanups.Doc(connectorID).Delete(ctx); err != nil {
		return fsError("delete key cleanup", err)
	}
	return nil
}
