// Package cache holds the mechanics of gcpconn's in-process caches, without their meaning:
// entries that expire, a bound on their number, loads shared by concurrent callers (single
// flight), and invalidation by generation, so that a load which started before an
// invalidation never stores what it read. What is cached under which key, for how long and
// in which group is the owner's business (shared/connector: connectors for the revocation
// window, tokens while enough of their life is left, both grouped by connector).
//
// # Vocabulary
//
// An entry is a value stored under one or more keys until it expires, in a group (a
// connector's id; "" for none). A generation ([Gen]) is a snapshot taken before a load:
// [Map.Drop] of the group, or [Map.Invalidate] of anything, after the snapshot makes
// [Map.Put] with it store nothing. [Map.Load] runs one load per key and generation for every
// concurrent caller, detached from each caller's cancellation; each caller stops waiting at
// its own deadline.
//
// Time is the caller's (every method that needs it takes now), so that tests drive it.
package cache

import (
	"context"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Map is a bounded map of expiring entries with generations. Its zero value holds no bound
// and never sweeps; set the fields before first use. It is safe for concurrent use.
type Map[V any] struct {
	// Max bounds the keys held; a Put into a full map first drops what has expired, then
	// arbitrary entries until half of Max is left. 0 means no bound.
	Max int
	// SweepEvery is how often a Put also drops every expired entry; 0 means never (entries
	// are then dropped only when full, or replaced).
	SweepEvery time.Duration

	mu        sync.Mutex
	entries   map[string]entry[V]
	groups    map[string]map[string]struct{} // group -> its keys
	gens      map[string]uint64              // group -> generation, bumped by Drop
	all       uint64                         // bumped by Invalidate
	lastSweep time.Time
	flights   singleflight.Group
}

type entry[V any] struct {
	v       V
	group   string
	expires time.Time
}

// Gen is a snapshot of the generations a load started under (see the package doc).
type Gen struct {
	group string
	all   uint64
	gen   uint64
}

// Get returns the value under key if it has not expired at now.
func (m *Map[V]) Get(key string, now time.Time) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// GetBytes is Get for a key held in a byte slice (built on the caller's stack): the lookup
// does not allocate a string.
func (m *Map[V]) GetBytes(key []byte, now time.Time) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[string(key)]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Snapshot returns the current generation of group, to be given to Put after a load.
func (m *Map[V]) Snapshot(group string) Gen {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Gen{group: group, all: m.all, gen: m.gens[group]}
}

// Put stores v under every key, in group, until expires, unless g's group was dropped or the
// map invalidated since g was taken; it reports whether it stored.
func (m *Map[V]) Put(g Gen, group string, now, expires time.Time, v V, keys ...string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g.all != m.all || g.gen != m.gens[g.group] {
		return false
	}
	if m.entries == nil {
		m.entries, m.groups = map[string]entry[V]{}, map[string]map[string]struct{}{}
	}
	if m.SweepEvery > 0 && now.Sub(m.lastSweep) >= m.SweepEvery {
		m.lastSweep = now
		m.dropExpired(now)
	}
	if m.Max > 0 && len(m.entries)+len(keys) > m.Max {
		m.evict(now)
	}
	for _, k := range keys {
		m.remove(k)
		m.entries[k] = entry[V]{v: v, group: group, expires: expires}
		ks := m.groups[group]
		if ks == nil {
			ks = map[string]struct{}{}
			m.groups[group] = ks
		}
		ks[k] = struct{}{}
	}
	return true
}

// Drop removes every entry of group and makes the loads that started before it not store.
func (m *Map[V]) Drop(group string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.groups[group] {
		delete(m.entries, k)
	}
	delete(m.groups, group)
	if m.gens == nil {
		m.gens = map[string]uint64{}
	}
	m.gens[group]++
}

// Invalidate removes the entries under keys and makes every load that started before it,
// in any group, not store.
func (m *Map[V]) Invalidate(keys ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.all++
	for _, k := range keys {
		m.remove(k)
	}
}

// Delete removes the entry under key, if any, without touching generations.
func (m *Map[V]) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(key)
}

// Len reports how many keys are held (expired ones included until they are dropped).
func (m *Map[V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// remove deletes key's entry. Callers hold mu.
func (m *Map[V]) remove(key string) {
	if e, ok := m.entries[key]; ok {
		delete(m.entries, key)
		delete(m.groups[e.group], key)
		if len(m.groups[e.group]) == 0 {
			delete(m.groups, e.group)
		}
	}
}

// dropExpired removes every entry expired at now. Callers hold mu.
func (m *Map[V]) dropExpired(now time.Time) {
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			m.remove(k)
		}
	}
}

// evict makes room: what has expired by now, then entries until half of Max is left.
// Callers hold mu.
func (m *Map[V]) evict(now time.Time) {
	m.dropExpired(now)
	for k := range m.entries {
		if len(m.entries) < m.Max/2 {
			return
		}
		m.remove(k)
	}
}

// Load runs load for key once for every concurrent caller that took the same generation g,
// detached from the callers' cancellation but bounded by timeout, and returns its result
// to each caller that is still waiting; a caller whose ctx ends first gets ctx.Err(). A
// caller with a newer generation (after a Drop or Invalidate) never joins a load of an older
// one. load typically ends with Put(g, ...).
func Load[V, R any](ctx context.Context, m *Map[V], key string, g Gen, timeout time.Duration,
	load func(context.Context) (R, error)) (R, error) {
	fk := key + "\x00" + strconv.FormatUint(g.all, 10) + "." + strconv.FormatUint(g.gen, 10)
	ch := m.flights.DoChan(fk, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return load(lctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			var zero R
			return zero, r.Err
		}
		return r.Val.(R), nil
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

// Refresh runs load for key in the flight of generation g, as Load does, but waits for it
// under ctx alone: for a background refresh that callers of Load may join.
func Refresh[V, R any](ctx context.Context, m *Map[V], key string, g Gen, load func(context.Context) (R, error)) error {
	fk := key + "\x00" + strconv.FormatUint(g.all, 10) + "." + strconv.FormatUint(g.gen, 10)
	_, err, _ := m.flights.Do(fk, func() (any, error) { return load(ctx) })
	return err
}
