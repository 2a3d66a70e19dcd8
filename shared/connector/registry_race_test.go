package connector_test

import (
	"context"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// rgRacingStore lets another writer change the stored connector just before the first Update
// that passes through it, as a sweep or refresh running at the same moment would.
type rgRacingStore struct {
	connector.Store
	race func(ctx context.Context, id string) // runs once, before the first Update
	done bool
}

func (s *rgRacingStore) Update(ctx context.Context, c *connector.Connector) error {
	if !s.done {
		s.done = true
		s.race(ctx, c.ID)
	}
	return s.Store.Update(ctx, c)
}

func TestUpdateOverConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		race     func(c *connector.Connector) // what the other writer changes
		wantKind connector.Kind               // "" means the update succeeds
	}{
		{"a status write (sweep, refresh) is kept and the update applied on top", func(c *connector.Connector) {
			c.Status = connector.Status{State: connector.StateError, CheckedAt: rgStart, Error: "swept"}
		}, ""},
		{"another user's change wins and the update conflicts", func(c *connector.Connector) {
			c.Labels = map[string]string{"team": "other"}
		}, connector.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := rgNew(t)
			c := e.register(t, rgAlice, rgReq("racy", "ya29.x"))
			racing := &rgRacingStore{Store: e.store}
			racing.race = func(ctx context.Context, id string) {
				cur, err := e.store.Get(ctx, id)
				if err != nil {
					t.Fatalf("Get(%q) = %v", id, err)
				}
				tt.race(cur)
				if err := e.store.Update(ctx, cur); err != nil {
					t.Fatalf("concurrent Update = %v", err)
				}
			}
			e.svc.Store = racing

			desc := "updated"
			got, err := e.svc.Update(ctx, rgP(rgAlice), c.Name, connector.UpdateRequest{Description: &desc})
			if tt.wantKind != "" {
				rgKind(t, "Update over a concurrent change", err, tt.wantKind)
				return
			}
			if err != nil {
				t.Fatalf("Update over a concurrent status write = %v; want success", err)
			}
			stored, err := e.store.Get(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Description != desc || got.Description != desc {
				t.Errorf("Description = %q (stored), %q (returned); want %q", stored.Description, got.Description, desc)
			}
			if stored.Status.Error != "swept" {
				t.Errorf("stored Status = %+v; want the concurrent status write kept", stored.Status)
			}
			if got.Revision != stored.Revision {
				t.Errorf("returned Revision = %d; want the stored %d", got.Revision, stored.Revision)
			}
		})
	}
}
