package e2e

import (
	"testing"
	"time"
)

// TestSweepWorkerKilledMidShard: a sweep run's shard goes through the Pub/Sub emulator's push
// subscription to the worker (functions/cmd/serve on the Firestore emulator), which is killed
// with SIGKILL in the middle of it. Pub/Sub delivers the shard again, to a new worker, which
// finishes it: the run ends done with no failed shard, and every connector has a whole,
// checked status; right after the kill each status is either the old one or a whole new one.
func TestSweepWorkerKilledMidShard(t *testing.T) {
	s := newSweepStack(t, 2*time.Minute)
	names := s.register("kill", 12)
	// Every Google call now takes 300 ms, so that the shard is still running when its worker dies.
	s.fault(`{"endpoint":"*","latency":"300ms"}`)
	started := time.Now().UTC()
	before := tokenGrants(t, s.fake["FAKEGCP_ADMIN_URL"])
	run, _ := s.admin.must("POST", "/sweep", map[string]any{"shard_size": 500, "concurrency": 2}, 200)
	id := run["run"].(string)

	for tokenGrants(t, s.fake["FAKEGCP_ADMIN_URL"]) < before+2 { // two checks under way: the shard is running
		select {
		case <-s.ctx.Done():
			t.Fatal("the first worker never started the shard")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := s.serve.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = s.serve.cmd.Wait()
	if done := tokenGrants(t, s.fake["FAKEGCP_ADMIN_URL"]) - before; done >= int64(len(names)) {
		t.Fatalf("the first worker checked %d connectors before it was killed; want it killed mid-shard", done)
	}

	s.startServe() // the next delivery reaches a new worker
	for _, n := range names {
		if st := s.status(n); st["checked_at"] != nil && (st["state"] != "ok" || st["inconclusive"] != nil) {
			t.Errorf("%s right after the kill: status %v; want the old one (never checked) or a whole new one", n, st)
		}
	}
	got, raw := s.runDone(id)
	shards := got["shards"].(map[string]any)
	if shards["failed"] != float64(0) || shards["done"] != shards["planned"] || got["checked"] != float64(len(names)) {
		t.Errorf("run after the kill = %s; want every shard done, none failed, %d checked", raw, len(names))
	}
	if n := s.delivered(id, 0); n < 2 {
		t.Errorf("the shard was pushed %d times; want at least 2 (Pub/Sub delivering it again after the kill)", n)
	}
	for _, n := range names {
		st := s.status(n)
		at, _ := time.Parse(time.RFC3339Nano, st["checked_at"].(string))
		if st["state"] != "ok" || at.Before(started.Add(-time.Second)) || st["inconclusive"] != nil {
			t.Errorf("%s after the run: status %v; want a whole ok status checked by this run", n, st)
		}
	}
}
