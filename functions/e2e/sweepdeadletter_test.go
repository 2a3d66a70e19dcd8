package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
)

// TestSweepShardDeadLetter: a shard that cannot be finished (the fake answers every token
// grant of its connectors 503, so each check is inconclusive and the shard runs out of time)
// is delivered 5 times, recorded failed in the run record at the 5th attempt, with why, and
// Pub/Sub moves it to the dead-letter topic. The next run, with Google back, checks those
// connectors.
func TestSweepShardDeadLetter(t *testing.T) {
	// A 4 s function timeout: the shard's deadline is 3.5 s away.
	s := newSweepStack(t, 150*time.Second, "GCPCONN_TIMEOUT_SECONDS=4")
	names := s.register("dead", 4)
	s.fault(`{"endpoint":"oauth2.*","status":503}`)
	run, _ := s.admin.must("POST", "/sweep", map[string]any{"shard_size": 500, "concurrency": 1, "timeout_seconds": 1}, 200)
	id := run["run"].(string)
	got, raw := s.runDone(id)
	shards := got["shards"].(map[string]any)
	failed, _ := got["failed_shards"].([]any)
	if shards["failed"] != float64(1) || len(failed) != 1 || failed[0].(map[string]any)["attempts"] != float64(5) ||
		failed[0].(map[string]any)["error"] == "" {
		t.Fatalf("run with Google down = %s; want its one shard failed after 5 attempts, with the reason", raw)
	}
	msg := s.receiveDeadLetter()
	if msg.Attributes["run"] != id || msg.Attributes["shard"] != "0" || msg.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"] != "5" {
		t.Errorf("dead letter = %v; want run %s shard 0 after 5 deliveries", msg.Attributes, id)
	}
	if n := s.delivered(id, 0); n != 5 {
		t.Errorf("the shard was pushed %d times; want 5 (then dead-lettered)", n)
	}

	r, err := http.Post(s.fake["FAKEGCP_ADMIN_URL"]+"/admin/reset", "application/json", nil) // Google is back
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	started := time.Now().UTC()
	next, _ := s.admin.must("POST", "/sweep", map[string]any{"shard_size": 500}, 200)
	got, raw = s.runDone(next["run"].(string))
	if got["shards"].(map[string]any)["failed"] != float64(0) || got["checked"] != float64(len(names)) || got["ok"] != float64(len(names)) {
		t.Errorf("the next run = %s; want every connector checked ok", raw)
	}
	for _, n := range names {
		st := s.status(n)
		at, _ := time.Parse(time.RFC3339Nano, st["checked_at"].(string))
		if st["state"] != "ok" || at.Before(started.Add(-time.Second)) {
			t.Errorf("%s after the next run: status %v; want ok, checked by that run", n, st)
		}
	}
}

// receiveDeadLetter pulls one message from the dead-letter topic's subscription.
func (s *sweepStack) receiveDeadLetter() *pubsub.Message {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	var got *pubsub.Message
	err := s.deadLetter.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		if got == nil {
			got = m
		}
		cancel()
	})
	if got == nil {
		s.t.Fatalf("no message in the dead-letter topic: %v", err)
	}
	return got
}
