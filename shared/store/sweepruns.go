package store

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// ListIDs returns at most n connector ids after the cursor after, in ascending order (the
// sweep planner's listing: ids alone).
func (m *Memory) ListIDs(ctx context.Context, after string, n int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	ids := make([]string, 0, len(m.byID))
	for id := range m.byID {
		if id > after {
			ids = append(ids, id)
		}
	}
	m.mu.RUnlock()
	slices.Sort(ids)
	return ids[:min(len(ids), max(n, 1))], nil
}

// MemoryRuns is a upkeep.SweepRuns in process memory (the memory store's deployment,
// tests). The zero value is ready to use; it is safe for concurrent use.
type MemoryRuns struct {
	mu     sync.Mutex
	runs   map[string]upkeep.SweepRun
	shards map[string]map[int]upkeep.ShardRecord
}

// CreateRun stores a new run.
func (m *MemoryRuns) CreateRun(ctx context.Context, r upkeep.SweepRun) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runs == nil {
		m.runs, m.shards = map[string]upkeep.SweepRun{}, map[string]map[int]upkeep.ShardRecord{}
	}
	if _, ok := m.runs[r.ID]; ok {
		return connector.Errorf(connector.ErrAlreadyExists, "sweep run %s exists", r.ID)
	}
	m.runs[r.ID], m.shards[r.ID] = r, map[int]upkeep.ShardRecord{}
	return nil
}

// UpdateRun replaces the run's own record.
func (m *MemoryRuns) UpdateRun(ctx context.Context, r upkeep.SweepRun) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[r.ID]; !ok {
		return runNotFound(r.ID)
	}
	m.runs[r.ID] = r
	return nil
}

// GetRun returns the run and its shards by index.
func (m *MemoryRuns) GetRun(ctx context.Context, id string) (upkeep.SweepRun, []upkeep.ShardRecord, error) {
	if err := ctx.Err(); err != nil {
		return upkeep.SweepRun{}, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[id]
	if !ok {
		return r, nil, runNotFound(id)
	}
	shards := make([]upkeep.ShardRecord, 0, len(m.shards[id]))
	for _, sh := range m.shards[id] {
		sh.Unchecked = slices.Clone(sh.Unchecked)
		shards = append(shards, sh)
	}
	sort.Slice(shards, func(i, j int) bool { return shards[i].Index < shards[j].Index })
	return r, shards, nil
}

// LatestRunID returns the greatest run id (ids sort by start).
func (m *MemoryRuns) LatestRunID(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	latest := ""
	for id := range m.runs {
		latest = max(latest, id)
	}
	if latest == "" {
		return "", connector.Errorf(connector.ErrNotFound, "no sweep run")
	}
	return latest, nil
}

// BeginShard counts an attempt of a shard that is not finished.
func (m *MemoryRuns) BeginShard(ctx context.Context, run string, index int, now time.Time) (upkeep.ShardRecord, error) {
	if err := ctx.Err(); err != nil {
		return upkeep.ShardRecord{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	shards, ok := m.shards[run]
	if !ok {
		return upkeep.ShardRecord{}, runNotFound(run)
	}
	rec, ok := shards[index]
	if !ok {
		rec = upkeep.ShardRecord{Run: run, Index: index, State: upkeep.ShardRunning}
	}
	if rec.Finished() {
		return rec, nil
	}
	rec.Attempts++
	rec.UpdatedAt = now
	shards[index] = rec
	return rec, nil
}

// FinishShard stores rec unless its shard is finished.
func (m *MemoryRuns) FinishShard(ctx context.Context, rec upkeep.ShardRecord) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	shards, ok := m.shards[rec.Run]
	if !ok {
		return false, runNotFound(rec.Run)
	}
	if shards[rec.Index].Finished() {
		return false, nil
	}
	rec.Unchecked = slices.Clone(rec.Unchecked)
	shards[rec.Index] = rec
	return true, nil
}

func runNotFound(id string) error {
	return connector.Errorf(connector.ErrNotFound, "no sweep run %s", id)
}

// formatShard is a shard's document id: its index, zero-padded so that ids sort by index.
func formatShard(index int) string { return fmt.Sprintf("%06d", index) }
