package connector

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// The connector cache and the revocation window (ARCHITECTURE.md, Production rules).
//
// Minting reads a connector on every request. With Firestore that read is a network round
// trip and a billed read, which would cost more than everything else a warm mint does, so
// each instance keeps the connectors it read for at most Service.RevocationWindow (by id and
// by name; a name that names nothing is remembered too, for at most negativeTTL) and reads
// the store again after that. Concurrent misses for one connector share a single store read.
//
// Only minting uses the cache. A write on this instance (update, delete, register, a status write of sweep or refresh)
// drops the connector from this instance's cache at once; other instances see it when their
// window ends. That window is the revocation window: removing a user, deleting a connector
// or disabling it takes effect everywhere within it. Everything that decides a state reads
// the store itself: the preconditions of update and delete, verify, sweep and refresh.

// DefaultRevocationWindow is the revocation window the deployment uses unless configured
// otherwise (GCPCONN_REVOCATION_WINDOW).
const DefaultRevocationWindow = 30 * time.Second

// MaxRevocationWindow bounds the configurable revocation window.
const MaxRevocationWindow = 5 * time.Minute

// Connector cache limits.
const (
	// negativeTTL bounds how long a lookup that found nothing is remembered (never longer
	// than the window): a caller hammering a wrong name does not hammer the store, and a
	// connector registered on another instance is found a few seconds later at most.
	negativeTTL = 5 * time.Second
	// maxCachedConnectors bounds the entries (ids and names) one instance keeps.
	maxCachedConnectors = 10000
	// loadTimeout bounds a store read shared by concurrent callers; each caller stops
	// waiting at its own deadline.
	loadTimeout = 10 * time.Second
)

// connCache is a Service's connector cache. Its zero value is ready to use.
type connCache struct {
	mu      sync.Mutex
	entries map[string]connEntry // "i\x00"+id or "n\x00"+name
	// gen counts invalidations: a read that started before one is not stored, so a write on
	// this instance is never undone by a read that raced it.
	gen     uint64
	flights singleflight.Group
}

// connEntry is one cached lookup: a connector, or nil for "not found".
type connEntry struct {
	c       *Connector
	expires time.Time
}

func idKey(id string) string     { return "i\x00" + id }
func nameKey(name string) string { return "n\x00" + name }

// get returns the connector cached under key, or loads it with load (one load shared by
// concurrent callers) and caches it for ttl; ErrNotFound is cached for min(ttl,
// negativeTTL), other errors are not cached. The connector is shared with the cache and every
// other caller, not copied: callers only read it (Mint does; TestCachedConnectorIsNotModified).
func (cc *connCache) get(ctx context.Context, now func() time.Time, ttl time.Duration, key string,
	load func(context.Context) (*Connector, error)) (*Connector, error) {
	cc.mu.Lock()
	if e, ok := cc.entries[key]; ok && now().Before(e.expires) {
		cc.mu.Unlock()
		if e.c == nil {
			return nil, errCachedNotFound
		}
		return e.c, nil
	}
	gen := cc.gen
	cc.mu.Unlock()
	ch := cc.flights.DoChan(key+"\x00"+strconv.FormatUint(gen, 10), func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		c, err := load(lctx)
		if err != nil && KindOf(err) != ErrNotFound {
			return nil, err
		}
		exp := ttl
		if c == nil {
			exp = min(ttl, negativeTTL)
		}
		t := now()
		cc.put(gen, key, c, t, t.Add(exp))
		return c, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Connector), nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &Error{Kind: ErrUpstreamUnavailable, Message: "the connector store did not answer in time", Err: ctx.Err()}
		}
		return nil, ctx.Err()
	}
}

// errCachedNotFound answers a lookup that is cached as not found; lookup turns it into the
// caller's message.
var errCachedNotFound = Errorf(ErrNotFound, "connector not found")

// put stores an entry unless an invalidation happened since gen, and also under the other
// key of a found connector (a read by name serves reads by id and the other way round).
func (cc *connCache) put(gen uint64, key string, c *Connector, now, expires time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.gen != gen {
		return
	}
	if cc.entries == nil {
		cc.entries = map[string]connEntry{}
	}
	if len(cc.entries) >= maxCachedConnectors {
		cc.evict(now)
	}
	e := connEntry{c: c, expires: expires}
	cc.entries[key] = e
	if c != nil {
		cc.entries[idKey(c.ID)] = e
		cc.entries[nameKey(c.Name)] = e
	}
}

// evict makes room: it drops what has expired by now, and if that is not enough, entries
// until half the limit is left. Callers hold mu.
func (cc *connCache) evict(now time.Time) {
	for k, e := range cc.entries {
		if !now.Before(e.expires) {
			delete(cc.entries, k)
		}
	}
	for k := range cc.entries {
		if len(cc.entries) < maxCachedConnectors/2 {
			return
		}
		delete(cc.entries, k)
	}
}

// forget drops the connector id (under any name it is cached by) and the given names
// (which may be cached as not found), and makes reads in flight not store what they read.
func (cc *connCache) forget(id string, names ...string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.gen++
	if id != "" {
		delete(cc.entries, idKey(id))
		maps.DeleteFunc(cc.entries, func(_ string, e connEntry) bool { return e.c != nil && e.c.ID == id })
	}
	for _, n := range names {
		delete(cc.entries, nameKey(n))
	}
}

// forgetConnector drops what this instance caches of connector id (its tokens and the
// connector itself, under any of names too); every write of the registry calls it.
func (s *Service) forgetConnector(id string, names ...string) {
	s.tokens.forget(id)
	s.conns.forget(id, names...)
}

// storeReader reads connectors for lookup: the store itself, or through the cache.
type storeReader interface {
	Get(ctx context.Context, id string) (*Connector, error)
	GetByName(ctx context.Context, name string) (*Connector, error)
}

// cachedReader reads through the Service's connector cache.
type cachedReader struct{ s *Service }

func (r cachedReader) Get(ctx context.Context, id string) (*Connector, error) {
	return r.s.conns.get(ctx, r.s.now, r.s.RevocationWindow, idKey(id), func(ctx context.Context) (*Connector, error) {
		return tracedReader{r.s.Store}.Get(ctx, id)
	})
}

func (r cachedReader) GetByName(ctx context.Context, name string) (*Connector, error) {
	return r.s.conns.get(ctx, r.s.now, r.s.RevocationWindow, nameKey(name), func(ctx context.Context) (*Connector, error) {
		return tracedReader{r.s.Store}.GetByName(ctx, name)
	})
}

// cached returns the reader of the paths that may serve a connector up to one revocation
// window old: the cache when the window is positive, else the store.
func (s *Service) cached() storeReader {
	if s.RevocationWindow <= 0 {
		return tracedReader{s.Store}
	}
	return cachedReader{s}
}
