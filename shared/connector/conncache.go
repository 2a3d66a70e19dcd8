package connector

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/internal/cache"
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

// connCache is a Service's connector cache: connectors by id and by name, in the group of
// their id, and names that name nothing, in no group (the mechanics are
// shared/internal/cache's). Its zero value is ready to use.
type connCache struct {
	once sync.Once
	m    cache.Map[*Connector] // nil: cached as not found
}

// The cache keys of a connector: its id, and its name, each after a prefix of its own.
const idPrefix, namePrefix = "i\x00", "n\x00"

func idKey(id string) string     { return idPrefix + id }
func nameKey(name string) string { return namePrefix + name }

// get returns the connector cached under key, or loads it with load (one load shared by
// concurrent callers) and caches it for ttl; ErrNotFound is cached for min(ttl,
// negativeTTL), other errors are not cached. The connector is shared with the cache and every
// other caller, not copied: callers only read it (Mint does; TestCachedConnectorIsNotModified).
func (cc *connCache) get(ctx context.Context, now func() time.Time, ttl time.Duration, key string,
	load func(context.Context) (*Connector, error)) (*Connector, error) {
	cc.once.Do(func() { cc.m.Max = maxCachedConnectors })
	if c, ok := cc.m.Get(key, now()); ok {
		if c == nil {
			return nil, errCachedNotFound
		}
		return c, nil
	}
	gen := cc.m.Snapshot("")
	c, err := cache.Load(ctx, &cc.m, key, gen, loadTimeout, func(ctx context.Context) (*Connector, error) {
		c, err := load(ctx)
		if err != nil && KindOf(err) != ErrNotFound {
			return nil, err
		}
		t := now()
		if c == nil {
			cc.m.Put(gen, "", t, t.Add(min(ttl, negativeTTL)), nil, key)
			return nil, err
		}
		// under the other key too: a read by name serves reads by id and the other way round
		cc.m.Put(gen, c.ID, t, t.Add(ttl), c, key, idKey(c.ID), nameKey(c.Name))
		return c, nil
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return nil, &Error{Kind: ErrUpstreamUnavailable, Message: "the connector store did not answer in time", Err: err}
	}
	return c, err
}

// cached answers a lookup from the cache alone, the key built by the caller on its stack
// (idKey or nameKey's bytes: a hit allocates nothing); ok is false on a miss.
func (cc *connCache) cached(key []byte, now time.Time) (c *Connector, ok bool, err error) {
	c, ok = cc.m.GetBytes(key, now)
	if ok && c == nil {
		return nil, true, errCachedNotFound
	}
	return c, ok, nil
}

// errCachedNotFound answers a lookup that is cached as not found; lookup turns it into the
// caller's message.
var errCachedNotFound = Errorf(ErrNotFound, "connector not found")

// forget drops the connector id (under any name it is cached by) and the given names
// (which may be cached as not found), and makes reads in flight not store what they read.
func (cc *connCache) forget(id string, names ...string) {
	if id != "" {
		cc.m.Drop(id)
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = nameKey(n)
	}
	cc.m.Invalidate(keys...)
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
	return r.read(ctx, idPrefix, id)
}

func (r cachedReader) GetByName(ctx context.Context, name string) (*Connector, error) {
	return r.read(ctx, namePrefix, name)
}

// read serves the connector whose id (kind idPrefix) or name (namePrefix) is ref from the
// cache, or loads it from the store once for every concurrent caller. A hit builds its key on
// the stack.
func (r cachedReader) read(ctx context.Context, kind, ref string) (*Connector, error) {
	var buf [128]byte
	if c, ok, err := r.s.conns.cached(append(append(buf[:0], kind...), ref...), r.s.now()); ok {
		return c, err
	}
	return r.s.conns.get(ctx, r.s.now, r.s.RevocationWindow, kind+ref, func(ctx context.Context) (*Connector, error) {
		if kind == namePrefix {
			return tracedReader{r.s.Store}.GetByName(ctx, ref)
		}
		return tracedReader{r.s.Store}.Get(ctx, ref)
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
