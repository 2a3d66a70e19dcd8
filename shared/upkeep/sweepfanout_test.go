package upkeep_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// queue is a ShardPublisher that keeps what is published, for the test to deliver.
type queue struct {
	mu     sync.Mutex
	shards []upkeep.SweepShard
	err    error // returned by PublishShard once set
}

func (q *queue) PublishShard(_ context.Context, sh upkeep.SweepShard) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.shards = append(q.shards, sh)
	return nil
}

// countingGoogle is swGoogle counting token calls per connector.
func countingGoogle() (*swGoogle, func() map[string]int) {
	var mu sync.Mutex
	n := map[string]int{}
	g := &swGoogle{TokenFunc: func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
		mu.Lock()
		n[gr.Connector.Name]++
		mu.Unlock()
		return connector.Token{Value: "ya29.ok", Expiry: time.Now().Add(time.Hour)}, nil
	}}
	return g, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range n {
			out[k] = v
		}
		return out
	}
}

func fanService(t *testing.T, g connector.Google) (*upkeep.Keeper, *queue) {
	t.Helper()
	s, _ := swService(t, g)
	q := &queue{}
	s.Runs, s.Shards = &store.MemoryRuns{}, q
	return s, q
}

// TestSweepRunFansOutInShards: the planner publishes every connector id exactly once, in
// shards of the size asked, and returns; the workers' shards together check every connector
// exactly once, and the run says so.
func TestSweepRunFansOutInShards(t *testing.T) {
	g, calls := countingGoogle()
	s, q := fanService(t, g)
	swRegister(t, s, "c", 250, swDefaultKey)
	ctx := context.Background()
	v, err := s.StartSweep(ctx, upkeep.SweepOptions{Concurrency: 8}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != "running" || v.Run.Shards != 3 || v.Run.Connectors != 250 || len(calls()) != 0 {
		t.Fatalf("after planning: %+v, %d connectors checked; want running, 3 shards of 250 ids, nothing checked by the planner", v, len(calls()))
	}
	seen := map[string]bool{}
	slices.SortFunc(q.shards, func(a, b upkeep.SweepShard) int { return a.Index - b.Index }) // published 16 at once
	for i, sh := range q.shards {
		if sh.Index != i || len(sh.IDs) > 100 || sh.Concurrency != 8 {
			t.Errorf("shard %d = index %d, %d ids, concurrency %d; want index %d, at most 100, 8", i, sh.Index, len(sh.IDs), sh.Concurrency, i)
		}
		for _, id := range sh.IDs {
			if seen[id] {
				t.Errorf("connector %s is in two shards", id)
			}
			seen[id] = true
		}
		if _, err := s.SweepShard(ctx, sh, upkeep.SweepOptions{}); err != nil {
			t.Fatalf("SweepShard(%d) = %v", i, err)
		}
	}
	for name, n := range calls() {
		if n != 1 {
			t.Errorf("%s checked %d times; want once", name, n)
		}
	}
	v, err = s.SweepRunStatus(ctx, "")
	if err != nil || v.State != "done" || v.ShardsDone != 3 || v.Report.Checked != 250 || v.Report.OK != 250 || len(calls()) != 250 {
		t.Errorf("latest run = %+v, %v (%d connectors checked); want done, 3 shards, 250 checked ok", v, err, len(calls()))
	}
}

// TestShardDeliveredTwiceChangesNothingTwice: Pub/Sub delivers at least once; a shard that is
// finished is acknowledged without checking or writing anything again.
func TestShardDeliveredTwiceChangesNothingTwice(t *testing.T) {
	g, calls := countingGoogle()
	s, q := fanService(t, g)
	ids := swRegister(t, s, "c", 5, swDefaultKey)
	ctx := context.Background()
	if _, err := s.StartSweep(ctx, upkeep.SweepOptions{}, 0); err != nil {
		t.Fatal(err)
	}
	sh := q.shards[0]
	if _, err := s.SweepShard(ctx, sh, upkeep.SweepOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Store.Get(ctx, ids[0])
	rec, err := s.SweepShard(ctx, sh, upkeep.SweepOptions{})
	if err != nil || rec.State != upkeep.ShardDone || rec.Attempts != 1 {
		t.Fatalf("second delivery = %+v, %v; want the finished record (1 attempt), no error", rec, err)
	}
	after, _ := s.Store.Get(ctx, ids[0])
	if calls()["c-0"] != 1 || !after.Status.CheckedAt.Equal(before.Status.CheckedAt) {
		t.Errorf("second delivery checked c-0 again (%d checks, checked_at %v then %v)", calls()["c-0"], before.Status.CheckedAt, after.Status.CheckedAt)
	}
	if v, _ := s.SweepRunStatus(ctx, rec.Run); v.Report.Checked != 5 {
		t.Errorf("run report = %+v; want 5 checked, counted once", v.Report)
	}
}

// flakyStore fails Get for the connectors in down.
type flakyStore struct {
	connector.Store
	mu   sync.Mutex
	down map[string]bool
}

func (f *flakyStore) Get(ctx context.Context, id string) (*connector.Connector, error) {
	f.mu.Lock()
	down := f.down[id]
	f.mu.Unlock()
	if down {
		return nil, connector.Errorf(connector.ErrUpstreamUnavailable, "Firestore is unavailable")
	}
	return f.Store.Get(ctx, id)
}

// TestShardThatKeepsFailingIsReported: a shard that cannot be finished is delivered again
// (an error each time) and, at the MaxShardAttempts-th attempt, recorded failed in the run
// with the reason and the connectors it could not read; the next run checks them.
func TestShardThatKeepsFailingIsReported(t *testing.T) {
	g, calls := countingGoogle()
	s, q := fanService(t, g)
	ids := swRegister(t, s, "c", 3, swDefaultKey)
	fs := &flakyStore{Store: s.Store, down: map[string]bool{ids[1]: true}}
	s.Store = fs
	ctx := context.Background()
	v, err := s.StartSweep(ctx, upkeep.SweepOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= upkeep.MaxShardAttempts; attempt++ {
		rec, err := s.SweepShard(ctx, q.shards[0], upkeep.SweepOptions{})
		if err == nil || rec.Attempts != attempt {
			t.Fatalf("attempt %d = %+v, %v; want an error (deliver again)", attempt, rec, err)
		}
		if got, _ := s.SweepRunStatus(ctx, v.Run.ID); (attempt < upkeep.MaxShardAttempts) != (got.State == "running") {
			t.Errorf("after attempt %d the run is %s", attempt, got.State)
		}
	}
	got, _ := s.SweepRunStatus(ctx, v.Run.ID)
	if got.State != "done" || got.ShardsFailed != 1 || len(got.FailedShards) != 1 ||
		!strings.Contains(got.FailedShards[0].Error, "failed 5 times") || !strings.Contains(got.FailedShards[0].Error, "Firestore is unavailable") {
		t.Fatalf("run = %+v; want done with the shard failed and why", got)
	}
	if got.UncheckedCount != 1 || got.Unchecked[0].ID != ids[1] || !strings.Contains(got.Unchecked[0].Reason, "could not be read") {
		t.Errorf("unchecked = %+v; want %s and why", got.Unchecked, ids[1])
	}
	fs.down = nil
	q.shards = nil
	if _, err := s.StartSweep(ctx, upkeep.SweepOptions{}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SweepShard(ctx, q.shards[0], upkeep.SweepOptions{}); err != nil || calls()["c-1"] != 1 {
		t.Errorf("next run: %v, c-1 checked %d times; want it checked", err, calls()["c-1"])
	}
}

// TestShardCutOffMidwayLosesNothing: a worker that dies in the middle of a shard (here its
// context ends while connectors are being checked) does not finish the shard, which is
// delivered again; the second delivery checks every connector and no status is half-written.
func TestShardCutOffMidwayLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &swGoogle{TokenFunc: func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
			if err := slowly(ctx); err != nil {
				return connector.Token{}, err
			}
			return connector.Token{Value: "ya29.ok", Expiry: time.Now().Add(time.Hour)}, nil
		}}
		s, q := fanService(t, g)
		ids := swRegister(t, s, "c", 20, swDefaultKey)
		if _, err := s.StartSweep(context.Background(), upkeep.SweepOptions{}, 0); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*googleLatency+googleLatency/2)
		defer cancel()
		rec, err := s.SweepShard(ctx, q.shards[0], upkeep.SweepOptions{Concurrency: 4})
		if !errors.Is(err, context.DeadlineExceeded) || rec.Finished() {
			t.Fatalf("cut-off attempt = %+v, %v; want the deadline error and the shard not finished", rec, err)
		}
		rec, err = s.SweepShard(context.Background(), q.shards[0], upkeep.SweepOptions{Concurrency: 4})
		if err != nil || rec.State != upkeep.ShardDone || rec.Attempts != 2 || rec.Report.Checked != 20 {
			t.Fatalf("redelivery = %+v, %v; want done on attempt 2 with 20 checked", rec, err)
		}
		for _, id := range ids {
			c, _ := s.Store.Get(context.Background(), id)
			if c.Status.State != connector.StateOK || c.Status.CheckedAt.IsZero() || c.Status.Inconclusive != "" {
				t.Errorf("%s status = %+v; want ok, checked", c.Name, c.Status)
			}
		}
	})
}

// TestLocalShardsRunTheSameWorker: with LocalShards, starting a sweep runs every shard in
// the process and returns the finished run.
func TestLocalShardsRunTheSameWorker(t *testing.T) {
	g, calls := countingGoogle()
	s, _ := swService(t, g)
	s.Runs = &store.MemoryRuns{}
	s.Shards = upkeep.LocalShards{Keeper: s}
	swRegister(t, s, "c", 12, swDefaultKey)
	v, err := s.StartSweep(context.Background(), upkeep.SweepOptions{}, 5)
	if err != nil || v.State != "done" || v.Run.Shards != 3 || v.ShardsDone != 3 || v.Report.OK != 12 || len(calls()) != 12 {
		t.Errorf("StartSweep = %+v, %v; want done, 3 shards, 12 ok", v, err)
	}
}

// TestPlanningFailureIsRecorded: a shard that cannot be published stops planning; the run
// says why, and the shards published before still count.
func TestPlanningFailureIsRecorded(t *testing.T) {
	s, q := fanService(t, &swGoogle{})
	swRegister(t, s, "c", 3, swDefaultKey)
	q.err = connector.Errorf(connector.ErrUpstreamUnavailable, "Pub/Sub is unavailable")
	v, err := s.StartSweep(context.Background(), upkeep.SweepOptions{}, 1)
	if err == nil || v.Run.Shards != 0 || !strings.Contains(v.Run.PlanError, "Pub/Sub is unavailable") || v.State != "done" {
		t.Errorf("StartSweep = %+v, %v; want the publish failure recorded", v, err)
	}
}

func TestShardCheck(t *testing.T) {
	many := make([]string, upkeep.MaxShardSize+1)
	for i := range many {
		many[i] = "x"
	}
	for _, tt := range []struct {
		sh    upkeep.SweepShard
		field string
	}{
		{upkeep.SweepShard{IDs: []string{"a"}}, "run"},
		{upkeep.SweepShard{Run: "r", Index: -1, IDs: []string{"a"}}, "index"},
		{upkeep.SweepShard{Run: "r"}, "ids"},
		{upkeep.SweepShard{Run: "r", IDs: many}, "ids"},
		{upkeep.SweepShard{Run: "r", IDs: []string{"a", ""}}, "ids[1]"},
		{upkeep.SweepShard{Run: "r", IDs: []string{"a"}, Concurrency: -1}, "concurrency"},
	} {
		err := tt.sh.Check()
		var e *connector.Error
		if !errors.As(err, &e) || e.Kind != connector.ErrInvalid || e.Field != tt.field {
			t.Errorf("Check(%+v) = %v; want invalid %s", tt.sh, err, tt.field)
		}
	}
}

// TestShardBacksOffWhenGoogleThrottles: while Google throttles (or cannot answer) the checks,
// the whole shard slows down, waiting 1 s, 2 s, 4 s... before its next connector, and goes on
// at full speed once a check succeeds again (on the bubble's clock).
func TestShardBacksOffWhenGoogleThrottles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu    sync.Mutex
			calls []time.Duration
		)
		start := time.Now()
		g := &swGoogle{TokenFunc: func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, time.Since(start))
			if len(calls) <= 3 {
				return connector.Token{}, &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "Google is unavailable or throttling (HTTP 429)"}
			}
			return connector.Token{Value: "ya29.ok", Expiry: time.Now().Add(time.Hour)}, nil
		}}
		s, q := fanService(t, g)
		swRegister(t, s, "c", 6, swDefaultKey)
		if _, err := s.StartSweep(context.Background(), upkeep.SweepOptions{}, 0); err != nil {
			t.Fatal(err)
		}
		rec, err := s.SweepShard(context.Background(), q.shards[0], upkeep.SweepOptions{Concurrency: 1})
		if err != nil || rec.Report.Inconclusive != 3 || rec.Report.OK != 3 || len(rec.Unchecked) != 3 ||
			!strings.Contains(rec.Unchecked[0].Reason, "HTTP 429") {
			t.Fatalf("SweepShard = %+v, %v; want 3 inconclusive (listed, with Google's reason) and 3 ok", rec, err)
		}
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 7 * time.Second, 7 * time.Second}
		if fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Errorf("checks at %v; want %v (1, 2, 4 s of backoff, then full speed)", calls, want)
		}
	})
}

// TestFannedOutRunLogsItsEnd: a run fanned out in shards writes one sweep_run event, when its
// last shard finishes, with the shards' counts summed (the "sweep failed or did not run"
// alert counts these events); a shard that fails for good makes the run's event failed.
func TestFannedOutRunLogsItsEnd(t *testing.T) {
	g, _ := countingGoogle()
	s, q := fanService(t, g)
	var logs strings.Builder
	var mu sync.Mutex
	s.Log = slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))
	swRegister(t, s, "c", 5, swDefaultKey)
	ctx := context.Background()
	if _, err := s.StartSweep(ctx, upkeep.SweepOptions{Concurrency: 2}, 2); err != nil {
		t.Fatal(err)
	}
	runEvents := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"event":"sweep_run"`) {
				out = append(out, l)
			}
		}
		return out
	}
	for i, sh := range q.shards {
		if n := len(runEvents()); n != 0 {
			t.Fatalf("before shard %d of %d finished: %d sweep_run events; want none yet", i, len(q.shards), n)
		}
		if _, err := s.SweepShard(ctx, sh, upkeep.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ev := runEvents()
	if len(ev) != 1 || !strings.Contains(ev[0], `"outcome":"ok"`) || !strings.Contains(ev[0], `"checked":5`) {
		t.Fatalf("after the last shard: sweep_run events %q; want one, ok, checked 5", ev)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// slowQueue is a queue whose publishes take a second of the bubble's clock each, tracking
// how many are in flight at once; the publish of shard failIndex (when not negative) fails.
type slowQueue struct {
	queue
	failIndex           int
	inFlight, maxFlight int
}

func (q *slowQueue) PublishShard(ctx context.Context, sh upkeep.SweepShard) error {
	q.mu.Lock()
	q.inFlight++
	q.maxFlight = max(q.maxFlight, q.inFlight)
	q.mu.Unlock()
	time.Sleep(time.Second)
	q.mu.Lock()
	q.inFlight--
	q.mu.Unlock()
	if sh.Index == q.failIndex {
		return connector.Errorf(connector.ErrUpstreamUnavailable, "Pub/Sub is unavailable")
	}
	return q.queue.PublishShard(ctx, sh)
}

// TestPlannerPublishesConcurrently: the planner keeps DefaultPublishConcurrency publishes
// in flight, never more, and publishes every shard once. Checked by breaking it: with one
// slot, 40 shards take 40 s of the bubble's clock and at most 1 is in flight.
func TestPlannerPublishesConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := fanService(t, &swGoogle{})
		q := &slowQueue{failIndex: -1}
		s.Shards = q
		swRegister(t, s, "c", 40, swDefaultKey)
		start := time.Now()
		v, err := s.StartSweep(context.Background(), upkeep.SweepOptions{}, 1)
		if err != nil || v.Run.Shards != 40 || v.Run.Connectors != 40 || len(q.shards) != 40 {
			t.Fatalf("StartSweep = %+v, %v (%d published); want 40 shards", v.Run, err, len(q.shards))
		}
		if q.maxFlight != upkeep.DefaultPublishConcurrency {
			t.Errorf("%d publishes in flight at most; want %d", q.maxFlight, upkeep.DefaultPublishConcurrency)
		}
		if took := time.Since(start); took != 3*time.Second {
			t.Errorf("planning 40 shards of 1 s each took %s; want 3s (16 at once)", took)
		}
	})
}

// TestPublishFailureMidwayKeepsTheRunRight: a publish that fails part-way stops planning; the
// run counts exactly the shards whose publish succeeded (those in flight included) and their
// connectors, says why planning stopped, and is done once those shards are; every connector
// published is checked once. Checked by breaking it: counting a shard when its publish
// starts makes Shards exceed what the queue holds, and the run never gets done.
func TestPublishFailureMidwayKeepsTheRunRight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, calls := countingGoogle()
		s, _ := fanService(t, g)
		q := &slowQueue{failIndex: 20}
		s.Shards = q
		swRegister(t, s, "c", 100, swDefaultKey)
		ctx := context.Background()
		v, err := s.StartSweep(ctx, upkeep.SweepOptions{}, 2)
		if err == nil || !strings.Contains(v.Run.PlanError, "Pub/Sub is unavailable") {
			t.Fatalf("StartSweep = %+v, %v; want the publish failure recorded", v.Run, err)
		}
		ids := 0
		for _, sh := range q.shards {
			ids += len(sh.IDs)
			if sh.Index == 20 {
				t.Errorf("shard 20 failed to publish but is queued")
			}
		}
		if v.Run.Shards != len(q.shards) || v.Run.Connectors != ids || len(q.shards) >= 50 || len(q.shards) < 20 {
			t.Fatalf("run = %d shards, %d connectors; published %d shards of %d ids (of 50 planned); want them equal, fewer than 50",
				v.Run.Shards, v.Run.Connectors, len(q.shards), ids)
		}
		for _, sh := range q.shards {
			if _, err := s.SweepShard(ctx, sh, upkeep.SweepOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		v, err = s.SweepRunStatus(ctx, v.Run.ID)
		if err != nil || v.State != "done" || v.Report.Checked != ids || len(calls()) != ids {
			t.Errorf("run = %+v, %v, %d connectors checked; want done with the %d published checked", v, err, len(calls()), ids)
		}
	})
}
