package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestMapExpiry: an entry is served before its expiry and not at or after it, under every
// key it was put with.
func TestMapExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m Map[string]
		now := time.Now()
		m.Put(m.Snapshot("g"), "g", now, now.Add(time.Minute), "v", "a", "b")
		for _, tc := range []struct {
			after time.Duration
			want  bool
		}{{0, true}, {time.Minute - time.Nanosecond, true}, {time.Minute, false}, {time.Hour, false}} {
			for _, k := range []string{"a", "b"} {
				if v, ok := m.Get(k, now.Add(tc.after)); ok != tc.want || (ok && v != "v") {
					t.Errorf("Get(%s) %v after the put = %q, %v; want served %v", k, tc.after, v, ok, tc.want)
				}
			}
		}
		time.Sleep(2 * time.Minute) // the fake clock of the bubble
		if _, ok := m.GetBytes([]byte("a"), time.Now()); ok {
			t.Error("GetBytes serves an expired entry")
		}
	})
}

// TestMapGenerations: a Put with a snapshot taken before a Drop of its group, or before an
// Invalidate, stores nothing; other groups' snapshots survive a Drop; Drop removes only its
// group's entries.
func TestMapGenerations(t *testing.T) {
	now := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	var m Map[int]
	g1, g2 := m.Snapshot("c1"), m.Snapshot("c2")
	m.Put(g1, "c1", now, later, 1, "k1")
	m.Put(g2, "c2", now, later, 2, "k2")
	m.Drop("c1")
	if _, ok := m.Get("k1", now); ok {
		t.Error("Drop(c1) left c1's entry")
	}
	if _, ok := m.Get("k2", now); !ok {
		t.Error("Drop(c1) removed c2's entry")
	}
	if m.Put(g1, "c1", now, later, 1, "k1") {
		t.Error("Put with a snapshot of c1 taken before Drop(c1) stored")
	}
	if !m.Put(g2, "c2", now, later, 3, "k3") {
		t.Error("Put with a snapshot of c2 was refused after Drop(c1)")
	}
	m.Invalidate("k2")
	if _, ok := m.Get("k2", now); ok {
		t.Error("Invalidate(k2) left k2")
	}
	if _, ok := m.Get("k3", now); !ok {
		t.Error("Invalidate(k2) removed k3")
	}
	if m.Put(g2, "c2", now, later, 4, "k4") {
		t.Error("Put with a snapshot taken before Invalidate stored")
	}
	if !m.Put(m.Snapshot("c1"), "c1", now, later, 5, "k1") {
		t.Error("Put with a fresh snapshot was refused")
	}
}

// TestMapBounded: a map never holds more than Max keys, and drops expired entries before
// live ones when full.
func TestMapBounded(t *testing.T) {
	now := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	m := Map[int]{Max: 100}
	for i := range 100 {
		m.Put(m.Snapshot(""), "", now, now.Add(time.Second), i, fmt.Sprint("old-", i))
	}
	now = now.Add(time.Second)
	m.Put(m.Snapshot("live"), "live", now, now.Add(time.Hour), 1, "live")
	if n := m.Len(); n != 1 {
		t.Errorf("Len after a put into a map full of expired entries = %d; want 1", n)
	}
	for i := range 1000 {
		m.Put(m.Snapshot(""), "", now, now.Add(time.Hour), i, fmt.Sprint("new-", i))
		if m.Len() > 100 {
			t.Fatalf("Len = %d after %d puts; want at most 100", m.Len(), i+1)
		}
	}
}

// TestMapSweeps: with SweepEvery, a Put drops every expired entry at most once per period.
func TestMapSweeps(t *testing.T) {
	now := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	m := Map[int]{SweepEvery: time.Minute}
	m.Put(m.Snapshot(""), "", now, now.Add(time.Second), 0, "first") // sweeps (first put), then stores
	for i := range 10 {
		m.Put(m.Snapshot(""), "", now, now.Add(time.Second), i, fmt.Sprint("k", i))
	}
	now = now.Add(30 * time.Second)
	m.Put(m.Snapshot(""), "", now, now.Add(time.Hour), 0, "live")
	if n := m.Len(); n != 12 {
		t.Errorf("Len within the sweep period = %d; want 12 (nothing swept yet)", n)
	}
	now = now.Add(time.Minute)
	m.Put(m.Snapshot(""), "", now, now.Add(time.Hour), 0, "live2")
	if n := m.Len(); n != 2 {
		t.Errorf("Len after the sweep period = %d; want 2 (the expired entries swept)", n)
	}
}

// TestLoadSharedAndDetached: concurrent callers of one key and generation share one load;
// a caller that gives up gets its context's error while the load goes on for the others; the
// load is bounded by its timeout, not by a caller's cancellation.
func TestLoadSharedAndDetached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m Map[string]
		var loads atomic.Int64
		gate := make(chan struct{})
		load := func(ctx context.Context) (string, error) {
			loads.Add(1)
			select {
			case <-gate:
				return "v", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		g := m.Snapshot("")
		impatient, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		results := make([]string, 5)
		errs := make([]error, 5)
		for i := range 5 {
			ctx := context.Background()
			if i == 0 {
				ctx = impatient
			}
			wg.Go(func() { results[i], errs[i] = Load(ctx, &m, "k", g, time.Minute, load) })
		}
		synctest.Wait()
		cancel()
		synctest.Wait()
		if !errors.Is(errs[0], context.Canceled) {
			t.Errorf("the caller that gave up got %q, %v; want context.Canceled", results[0], errs[0])
		}
		close(gate)
		wg.Wait()
		for i := 1; i < 5; i++ {
			if results[i] != "v" || errs[i] != nil {
				t.Errorf("caller %d got %q, %v; want the shared load's v", i, results[i], errs[i])
			}
		}
		if n := loads.Load(); n != 1 {
			t.Errorf("%d loads for 5 concurrent callers; want 1", n)
		}
		start := time.Now()
		_, err := Load(context.Background(), &m, "slow", m.Snapshot(""), time.Minute,
			func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() })
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Minute {
			t.Errorf("a load that never ends returned %v after %s; want DeadlineExceeded after its 1m timeout", err, time.Since(start))
		}
	})
}

// TestLoadNewGenerationDoesNotJoin: a caller whose snapshot is newer than a load in flight
// (a Drop came between) runs its own load instead of joining the old one; Refresh joins the
// flight of its generation.
func TestLoadNewGenerationDoesNotJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m Map[string]
		var loads atomic.Int64
		gate := make(chan struct{})
		load := func(context.Context) (string, error) { loads.Add(1); <-gate; return "v", nil }
		old := m.Snapshot("c")
		go func() { _, _ = Load(context.Background(), &m, "k", old, time.Minute, load) }()
		synctest.Wait()
		go func() { _ = Refresh(context.Background(), &m, "k", old, load) }() // joins the old flight
		synctest.Wait()
		m.Drop("c")
		go func() { _, _ = Load(context.Background(), &m, "k", m.Snapshot("c"), time.Minute, load) }()
		synctest.Wait()
		if n := loads.Load(); n != 2 {
			t.Errorf("%d loads; want 2 (the old generation's, shared with Refresh, and the new one's)", n)
		}
		close(gate)
	})
}
