package upkeep_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// readCounter counts Store.Get calls; before, when set, runs before each SetStatus (once per
// connector), as a concurrent writer would.
type readCounter struct {
	connector.Store
	gets   atomic.Int64
	mu     sync.Mutex
	raced  map[string]bool
	before func(ctx context.Context, id string)
}

func (r *readCounter) Get(ctx context.Context, id string) (*connector.Connector, error) {
	r.gets.Add(1)
	return r.Store.Get(ctx, id)
}

func (r *readCounter) SetStatus(ctx context.Context, c *connector.Connector, st connector.Status) error {
	r.mu.Lock()
	first := r.before != nil && !r.raced[c.ID]
	if first {
		r.raced[c.ID] = true
	}
	r.mu.Unlock()
	if first {
		r.before(ctx, c.ID)
	}
	return r.Store.SetStatus(ctx, c, st)
}

// TestShardReadsEachConnectorOnce: a worker reads each connector of its shard once; the
// status write is decided on that read (conditioned on its revision and status), not on a
// second one. Checked by breaking it: with Check reading the connector again before its
// status write, a shard of 20 makes 40 reads.
func TestShardReadsEachConnectorOnce(t *testing.T) {
	s, q := fanService(t, &swGoogle{})
	swRegister(t, s, "c", 20, swDefaultKey)
	rc := &readCounter{Store: s.Store}
	s.Store = rc
	ctx := context.Background()
	if _, err := s.StartSweep(ctx, upkeep.SweepOptions{}, 0); err != nil {
		t.Fatal(err)
	}
	rc.gets.Store(0)
	rec, err := s.SweepShard(ctx, q.shards[0], upkeep.SweepOptions{})
	if err != nil || rec.Report.OK != 20 {
		t.Fatalf("SweepShard = %+v, %v; want 20 ok", rec.Report, err)
	}
	if n := rc.gets.Load(); n != 20 {
		t.Errorf("a shard of 20 connectors read them %d times; want 20 (one read each)", n)
	}
}

// TestShardStatusWriteLosesToConcurrentWrites: the status write decided on the worker's read
// is conditioned on it, so a write that landed in between wins: a refresh that disabled the
// connector keeps it disabled, an update's edit is kept and the check is stored on top of it
// (read again once). Checked by breaking it: with the status write unconditioned, the
// disabled connectors come back "ok".
func TestShardStatusWriteLosesToConcurrentWrites(t *testing.T) {
	s, q := fanService(t, &swGoogle{})
	ids := swRegister(t, s, "c", 4, swDefaultKey)
	inner := s.Store
	rc := &readCounter{Store: inner, raced: map[string]bool{}}
	rc.before = func(ctx context.Context, id string) {
		cur, err := inner.Get(ctx, id)
		if err != nil {
			t.Error(err)
			return
		}
		if id == ids[0] || id == ids[1] { // a refresh disables it
			if err := inner.SetStatus(ctx, cur, connector.Status{State: connector.StateDisabled, Error: "disabled by refresh"}); err != nil {
				t.Error(err)
			}
			return
		}
		cur.Description = "edited meanwhile" // a user's update
		if err := inner.Update(ctx, cur); err != nil {
			t.Error(err)
		}
	}
	s.Store = rc
	ctx := context.Background()
	if _, err := s.StartSweep(ctx, upkeep.SweepOptions{}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SweepShard(ctx, q.shards[0], upkeep.SweepOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		c, _ := inner.Get(ctx, id)
		switch {
		case i < 2 && c.Status.State != connector.StateDisabled:
			t.Errorf("%s: status %+v; want the concurrent refresh's disabled kept", c.Name, c.Status)
		case i >= 2 && (c.Status.State != connector.StateOK || c.Description != "edited meanwhile"):
			t.Errorf("%s: status %+v, description %q; want ok over the concurrent edit", c.Name, c.Status, c.Description)
		}
	}
}

// TestPlannerFindsOrphansWithoutReadingConnectors: the planner's orphan search takes the ids
// it has just listed instead of reading each old secret's connector: it removes the secret
// whose connector is gone, keeps every other, and reads no connector. Checked by breaking it:
// without the listed ids it reads all 30 connectors (and the orphan's), one after another.
func TestPlannerFindsOrphansWithoutReadingConnectors(t *testing.T) {
	secrets := store.NewMemorySecrets()
	s, mem, clock := swClockedService(secrets, secrets)
	q := &queue{}
	s.Runs, s.Shards = &store.MemoryRuns{}, q
	ids := swRegister(t, s, "c", 30, swDefaultKey)
	ctx := context.Background()
	if _, err := secrets.AddVersion(ctx, "gone", connector.Secrets{ServiceAccountJSON: "{}"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(connector.OrphanGrace + time.Minute)
	rc := &readCounter{Store: mem}
	s.Store = rc
	v, err := s.StartSweep(ctx, upkeep.SweepOptions{}, 0)
	if err != nil || v.Run.OrphansRemoved != 1 {
		t.Fatalf("StartSweep = %+v, %v; want the orphan removed", v.Run, err)
	}
	if n := rc.gets.Load(); n != 0 {
		t.Errorf("the planner read %d connectors; want none", n)
	}
	left, err := secrets.ListConnectorIDs(ctx)
	if err != nil || len(left) != len(ids) || slices.Contains(left, "gone") {
		t.Errorf("secrets left = %d, %v (gone among them: %v); want the 30 connectors'", len(left), err, slices.Contains(left, "gone"))
	}
}
