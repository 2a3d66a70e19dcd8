package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

func TestMemoryRuns(t *testing.T) { testRuns(t, &store.MemoryRuns{}) }

func TestFirestoreRuns(t *testing.T) {
	c := emulatorClient(t)
	coll := fmt.Sprintf("sweep-runs-%s-%d", fsRun, fsCounter.Add(1))
	testRuns(t, store.NewFirestoreRuns(c, coll))
	// Every document carries expire_at for the TTL policy that deletes old runs.
	const run = "20261206T200000Z-aaaaaa"
	for _, path := range []string{coll + "/" + run, coll + "/" + run + "/shards/000001"} {
		snap, err := c.Doc(path).Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		exp, err := snap.DataAt("expire_at")
		if at, ok := exp.(time.Time); err != nil || !ok || !at.Equal(time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC).Add(store.SweepRunRetention)) {
			t.Errorf("%s expire_at = %v (%v); want 30 days after it was written", path, exp, err)
		}
	}
}

// testRuns is the contract of upkeep.SweepRuns: runs are found by id and the latest by
// start; a shard's attempts are counted atomically, and a finished shard is neither counted
// again nor overwritten.
func testRuns(t *testing.T, runs upkeep.SweepRuns) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	if _, err := runs.LatestRunID(ctx); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("LatestRunID with no runs = %v; want not_found", err)
	}
	for i, id := range []string{"20261206T200000Z-aaaaaa", "20261206T210000Z-000000"} {
		if err := runs.CreateRun(ctx, upkeep.SweepRun{ID: id, StartedAt: now.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := runs.CreateRun(ctx, upkeep.SweepRun{ID: "20261206T200000Z-aaaaaa"}); connector.KindOf(err) != connector.ErrAlreadyExists {
		t.Errorf("CreateRun twice = %v; want already_exists", err)
	}
	if id, err := runs.LatestRunID(ctx); err != nil || id != "20261206T210000Z-000000" {
		t.Errorf("LatestRunID = %q, %v; want the later run", id, err)
	}
	const run = "20261206T200000Z-aaaaaa"
	if err := runs.UpdateRun(ctx, upkeep.SweepRun{ID: run, StartedAt: now, PlannedAt: now, Shards: 2, Connectors: 150}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := runs.BeginShard(ctx, run, 1, now); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	rec, err := runs.BeginShard(ctx, run, 1, now)
	if err != nil || rec.Attempts != 5 || rec.State != upkeep.ShardRunning {
		t.Fatalf("fifth BeginShard = %+v, %v; want 5 attempts, running", rec, err)
	}
	rec.State, rec.Report = upkeep.ShardDone, upkeep.SweepReport{Checked: 50, OK: 49, Failed: 1, Duration: 3 * time.Second}
	rec.Unchecked = []upkeep.Unchecked{{ID: "x", Name: "n", Reason: "why"}}
	if ok, err := runs.FinishShard(ctx, rec); !ok || err != nil {
		t.Fatalf("FinishShard = %v, %v", ok, err)
	}
	again := rec
	again.Report.Checked = 99
	if ok, err := runs.FinishShard(ctx, again); ok || err != nil {
		t.Errorf("FinishShard of a finished shard = %v, %v; want not stored", ok, err)
	}
	if r, err := runs.BeginShard(ctx, run, 1, now); err != nil || r.Attempts != 5 || r.State != upkeep.ShardDone {
		t.Errorf("BeginShard of a finished shard = %+v, %v; want it unchanged", r, err)
	}
	got, shards, err := runs.GetRun(ctx, run)
	if err != nil || got.Shards != 2 || got.Connectors != 150 || !got.PlannedAt.Equal(now) || len(shards) != 1 {
		t.Fatalf("GetRun = %+v, %+v, %v", got, shards, err)
	}
	if sh := shards[0]; sh.Index != 1 || sh.Report.Checked != 50 || sh.Report.Duration != 3*time.Second ||
		len(sh.Unchecked) != 1 || sh.Unchecked[0].Reason != "why" {
		t.Errorf("shard = %+v; want the first finish kept", sh)
	}
	if _, _, err := runs.GetRun(ctx, "nope"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("GetRun(nope) = %v; want not_found", err)
	}
	if _, err := runs.BeginShard(ctx, "nope", 0, now); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("BeginShard of an unknown run = %v; want not_found", err)
	}
}

// TestListIDs: the planner's listing pages every id once, in order, from a cursor.
func TestListIDs(t *testing.T) {
	for name, s := range map[string]func(t *testing.T) connector.Store{
		"memory":    func(*testing.T) connector.Store { return store.NewMemory() },
		"firestore": func(t *testing.T) connector.Store { return newFirestore(t) },
	} {
		t.Run(name, func(t *testing.T) {
			st := s(t)
			ctx := context.Background()
			for i := range 7 {
				c := &connector.Connector{ID: fmt.Sprintf("id-%02d", 6-i), Name: fmt.Sprintf("n-%d", i), AuthMethod: configschema.ServiceAccount,
					ResourceTypes: []connector.ResourceType{resourceid.GCPGeneric}, Owner: "o@example.com"}
				if err := st.Create(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			var all []string
			after := ""
			for {
				page, err := st.(upkeep.ConnectorIDs).ListIDs(ctx, after, 3)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, page...)
				if len(page) < 3 {
					break
				}
				after = page[len(page)-1]
			}
			if fmt.Sprint(all) != "[id-00 id-01 id-02 id-03 id-04 id-05 id-06]" {
				t.Errorf("ListIDs pages = %v; want every id once, in order", all)
			}
		})
	}
}
