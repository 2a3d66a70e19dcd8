package upkeep_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// overdueFleet registers one rotating connector per overdue amount (how long past due plus
// the hour sweep waits for the schedule's event) and returns their ids in that order.
func overdueFleet(t *testing.T, s *upkeep.Keeper, overdue []time.Duration) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, len(overdue))
	for i, late := range overdue {
		c, _, err := s.Register(ctx, connector.Principal{Email: swOwner}, connector.RegisterRequest{
			Name: fmt.Sprintf("rot-%d", i), AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCPGeneric,
			Configuration:  map[string]any{"project_id": "demo-project", "service_account_json": credjsontest.ServiceAccountKey(map[string]any{"private_key_id": "k0"})},
			RotationPeriod: 24 * time.Hour,
		})
		if err != nil {
			t.Fatalf("Register: %v", err)
		}
		c.Rotation.KeyCreatedAt = time.Now().Add(-24*time.Hour - time.Hour - late)
		if err := s.Store.Update(ctx, c); err != nil {
			t.Fatal(err)
		}
		ids[i] = c.ID
	}
	return ids
}

// rotated returns the indexes (into ids) of the connectors whose key is no longer k0.
func rotated(t *testing.T, s *upkeep.Keeper, ids []string) []int {
	t.Helper()
	var out []int
	for i, id := range ids {
		c, err := s.Store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Rotation.KeyID != "k0" {
			out = append(out, i)
		}
	}
	return out
}

// TestOverdueRotationsCappedMostOverdueFirst: a shard starts at most MaxRotations overdue
// rotations, the most overdue first, and counts the others as deferred in its record; the
// next run (here a one-request sweep, which caps the same way) picks up the next most
// overdue. Checked by breaking it: without the cap all five rotate in the first run; sorted
// the other way round the least overdue ones rotate first.
func TestOverdueRotationsCappedMostOverdueFirst(t *testing.T) {
	keys := &rsKeys{live: map[string]time.Time{"k0": time.Now().Add(-100 * time.Hour)}}
	g := &swGoogle{TokenFunc: func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
		if err := keys.usable(gr); err != nil {
			return connector.Token{}, err
		}
		return connector.Token{Value: "ya29.x", Expiry: time.Now().Add(time.Hour)}, nil
	}}
	s := upkeep.New(&connector.Service{Store: store.NewMemory(), Secrets: store.NewMemorySecrets(), Google: g,
		Policy: connector.Policy{Admins: []string{"admin@example.com"}}}, keys)
	s.Runs = &store.MemoryRuns{}
	s.Shards = upkeep.LocalShards{Keeper: s}
	ids := overdueFleet(t, s, []time.Duration{3 * time.Hour, 10 * time.Hour, 2 * time.Hour, 7 * time.Hour, 5 * time.Hour})
	ctx := context.Background()

	v, err := s.StartSweep(ctx, upkeep.SweepOptions{MaxRotations: 2}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != "done" || v.Report.KeysRotated != 2 || v.Report.RotationsDeferred != 3 {
		t.Errorf("run = %s, rotated %d, deferred %d; want done, 2 rotated, 3 deferred", v.State, v.Report.KeysRotated, v.Report.RotationsDeferred)
	}
	_, shards, err := s.Runs.GetRun(ctx, v.Run.ID)
	if err != nil || len(shards) != 1 || shards[0].Report.RotationsDeferred != 3 {
		t.Errorf("shard records = %+v, %v; want one recording 3 deferred rotations", shards, err)
	}
	if got := rotated(t, s, ids); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("after the first run, rotated %v; want [1 3] (10h and 7h overdue)", got)
	}

	rep, err := s.Sweep(ctx, upkeep.SweepOptions{MaxRotations: 2, KeepOrphans: true})
	if err != nil || rep.KeysRotated != 2 || rep.RotationsDeferred != 1 {
		t.Errorf("second run = %+v, %v; want 2 rotated, 1 deferred", rep, err)
	}
	if got := rotated(t, s, ids); !slices.Equal(got, []int{0, 1, 3, 4}) {
		t.Errorf("after the second run, rotated %v; want [0 1 3 4] (then 5h and 3h overdue)", got)
	}
}
