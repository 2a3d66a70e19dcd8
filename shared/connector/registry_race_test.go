package connector_test

import (
	"context"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
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

// TestUpdateOverConcurrentWrites: status is not configuration. A sweep that writes a
// connector's status between the read and the write of a user's update leaves the revision
// the update is conditioned on as it was, so the update succeeds at once (no retry) and keeps
// the sweep's status; another user's change of the configuration makes the update conflict.
func TestUpdateOverConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// race is what the other writer does to connector id in the stores of e.
		race     func(t *testing.T, e *rgEnv, id string)
		wantKind connector.Kind // "" means the update succeeds
	}{
		{"a sweep's status write is kept and the update applied on top", func(t *testing.T, e *rgEnv, id string) {
			sweeper := &connector.Service{Store: e.store, Secrets: e.secrets, Google: e.google, Now: e.clock.Now}
			e.google.ListFunc = func(context.Context, connector.Grant, connector.ResourceType, string) ([]string, error) {
				return nil, connector.Errorf(connector.ErrUpstreamDenied, "swept: denied")
			}
			before, _ := e.store.Get(ctx, id)
			if rep, err := keeper(sweeper).Sweep(ctx, upkeep.SweepOptions{KeepOrphans: true}); err != nil || rep.Failed != 1 {
				t.Fatalf("Sweep = %+v, %v; want one failed check", rep, err)
			}
			after, _ := e.store.Get(ctx, id)
			if after.Revision != before.Revision || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("sweep's status write changed Revision %d → %d, UpdatedAt %v → %v; want both kept",
					before.Revision, after.Revision, before.UpdatedAt, after.UpdatedAt)
			}
		}, ""},
		{"another user's change wins and the update conflicts", func(t *testing.T, e *rgEnv, id string) {
			cur, err := e.store.Get(ctx, id)
			if err != nil {
				t.Fatalf("Get(%q) = %v", id, err)
			}
			cur.Labels = map[string]string{"team": "other"}
			if err := e.store.Update(ctx, cur); err != nil {
				t.Fatalf("concurrent Update = %v", err)
			}
		}, connector.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := rgNew(t)
			c := e.register(t, rgAlice, rgReq("racy", "ya29.x"))
			racing := &rgRacingStore{Store: e.store}
			racing.race = func(ctx context.Context, id string) { tt.race(t, e, id) }
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
			if stored.Status.State != connector.StateError || stored.Status.Error == "" || got.Status != stored.Status {
				t.Errorf("Status = %+v (stored), %+v (returned); want the sweep's error status kept", stored.Status, got.Status)
			}
			if got.Revision != stored.Revision || stored.Revision != c.Revision+1 {
				t.Errorf("Revision = %d (returned), %d (stored); want %d: the update's write only", got.Revision, stored.Revision, c.Revision+1)
			}
		})
	}
}

// TestVerifiedUpdateRecordsStatus: an update that verifies records what it found as the
// connector's status (written apart from the configuration); a disabled connector whose
// credentials an update replaces is enabled again by it.
func TestVerifiedUpdateRecordsStatus(t *testing.T) {
	ctx := context.Background()
	e := rgNew(t)
	c := e.register(t, rgAlice, rgReq("repaired", "ya29.old"))
	if err := e.store.SetStatus(ctx, c, connector.Status{State: connector.StateDisabled, Error: "pinned version destroyed"}); err != nil {
		t.Fatal(err)
	}
	u := rgNewToken("ya29.new")
	yes := true
	u.Verify = &yes
	got, err := e.svc.Update(ctx, rgP(rgAlice), c.Name, u)
	if err != nil {
		t.Fatalf("Update with verification = %v; want nil", err)
	}
	stored, err := e.store.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status.State != connector.StateOK || stored.Status.CheckedAt.IsZero() || got.Status != stored.Status {
		t.Errorf("Status = %+v (stored), %+v (returned); want ok from the update's verification", stored.Status, got.Status)
	}
	if got.Revision != stored.Revision {
		t.Errorf("returned Revision = %d; want the stored %d", got.Revision, stored.Revision)
	}
}
