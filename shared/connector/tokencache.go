package connector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/internal/cache"
)

// Token cache rules. A cached token is served only while at least MinTokenRemaining of its
// life is left; it is refreshed in the background a little before that floor, so that warm
// callers never wait for Google.
const (
	// MinTokenRemaining is the least remaining lifetime of a token the cache hands out.
	MinTokenRemaining = 5 * time.Minute
	// earlyRefresh is how long before the MinTokenRemaining floor a background refresh starts
	// (at most half of the token's usable life).
	earlyRefresh = 5 * time.Minute
	// fetchTimeout bounds one upstream mint made on behalf of the cache. Callers stop waiting
	// at their own deadline; the mint itself is not cancelled by one impatient caller because
	// others may share it.
	fetchTimeout = 30 * time.Second
	// refreshRetry is how long a failed background refresh waits before the next attempt.
	refreshRetry = 30 * time.Second
	// sweepEvery bounds how often expired entries are swept from the cache.
	sweepEvery = time.Minute
	// clusterTTL is how long a GKE cluster's endpoint and CA are reused for kubeconfigs.
	clusterTTL = 10 * time.Minute
)

// tokenKey names one cache entry: everything a minted token depends on. Two requests with
// equal keys may share a token; any difference (another secret version, scope, boundary,
// lifetime, subject token or token-relevant configuration) gets its own.
type tokenKey struct {
	ConnectorID   string
	SecretVersion string
	Config        string // fingerprint of the token-relevant configuration (see Connector.Fingerprint)
	ResourceType  ResourceType
	ResourceID    string
	Scopes        []string
	Boundary      *Boundary
	Lifetime      time.Duration
	SubjectToken  string // hashed into the key, never stored
}

// appendTo appends the key's encoding to b, the key of the cache's map and of its loads (the
// subject token appears only as a hash): every part as its length, ':' and its bytes,
// scopes sorted and deduplicated. The token cache builds it in a buffer on the stack, so a
// hit allocates nothing for its key.
func (k tokenKey) appendTo(b []byte) []byte {
	field := func(parts ...string) {
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		b = append(strconv.AppendInt(b, int64(n), 10), ':')
		for _, p := range parts {
			b = append(b, p...)
		}
	}
	field(k.ConnectorID)
	field(k.SecretVersion)
	field(k.Config)
	field(string(k.ResourceType))
	field(k.ResourceID)
	b = appendScopes(b, k.Scopes)
	if k.Boundary != nil {
		field("b:", k.Boundary.Bucket)
		field(k.Boundary.Prefix)
		field(strconv.FormatBool(k.Boundary.ReadOnly))
	} else {
		field()
	}
	var num [20]byte
	lifetime := strconv.AppendInt(num[:0], int64(k.Lifetime/time.Second), 10)
	b = append(strconv.AppendInt(b, int64(len(lifetime)), 10), ':')
	b = append(b, lifetime...)
	if k.SubjectToken == "" {
		return append(b, "0:"...)
	}
	sum := sha256.Sum256([]byte(k.SubjectToken))
	b = append(b, "64:"...)
	return hex.AppendEncode(b, sum[:])
}

// appendScopes appends scopes sorted and without repeats, space-separated, as one field.
func appendScopes(b []byte, scopes []string) []byte {
	for i := 1; i < len(scopes); i++ {
		if scopes[i-1] >= scopes[i] { // not sorted, or repeated: sort a copy
			scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
			break
		}
	}
	n := max(len(scopes)-1, 0)
	for _, s := range scopes {
		n += len(s)
	}
	b = append(strconv.AppendInt(b, int64(n), 10), ':')
	for i, s := range scopes {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, s...)
	}
	return b
}

// tokenCache is the per-process token cache of a Service: tokens by tokenKey and GKE
// cluster facts, each in the group of their connector (the mechanics are
// shared/internal/cache's). Its zero value is ready to use. Concurrent misses for one key
// share a single upstream mint; hits are served while the token has at least
// MinTokenRemaining left, and refreshed in the background before that floor.
type tokenCache struct {
	once     sync.Once
	tokens   cache.Map[*cacheEntry]
	clusters cache.Map[ClusterInfo]
	mu       sync.Mutex // guards the refresh state of entries
}

// cacheEntry is a cached token and when to refresh it.
type cacheEntry struct {
	tok        Token
	refreshAt  time.Time // guarded by tokenCache.mu
	refreshing bool      // guarded by tokenCache.mu
}

func (c *tokenCache) init() {
	c.once.Do(func() { c.tokens.SweepEvery, c.clusters.SweepEvery = sweepEvery, sweepEvery })
}

// servedUntil is when a token stops being served: MinTokenRemaining before it expires.
func servedUntil(tok Token) time.Time { return tok.Expiry.Add(-MinTokenRemaining + 1) }

// cluster returns the cluster info cached under key for up to clusterTTL, or describes the
// cluster with describe, sharing one call among concurrent callers. Errors are not cached.
func (c *tokenCache) cluster(ctx context.Context, now func() time.Time, connID, key string, describe func(context.Context) (ClusterInfo, error)) (ClusterInfo, error) {
	c.init()
	key = "cluster\x00" + key
	if info, ok := c.clusters.Get(key, now()); ok {
		return info, nil
	}
	gen := c.clusters.Snapshot(connID)
	return cache.Load(ctx, &c.clusters, key, gen, fetchTimeout, func(ctx context.Context) (ClusterInfo, error) {
		info, err := describe(ctx)
		if err == nil {
			t := now()
			c.clusters.Put(gen, connID, t, t.Add(clusterTTL), info, key)
		}
		return info, err
	})
}

// mintFunc mints a fresh token upstream.
type mintFunc func(ctx context.Context) (Token, error)

// get returns a token for key: a cached one with at least MinTokenRemaining left (hit = true),
// or a fresh one from mint, shared with every concurrent caller of the same key. now is the
// injected clock.
func (c *tokenCache) get(ctx context.Context, now func() time.Time, k tokenKey, mint mintFunc) (tok Token, hit bool, err error) {
	c.init()
	var buf [256]byte
	kb := k.appendTo(buf[:0])
	t := now()
	if e, ok := c.tokens.GetBytes(kb, t); ok {
		c.mu.Lock()
		if !t.Before(e.refreshAt) && !e.refreshing {
			e.refreshing = true
			go c.refresh(now, k.ConnectorID, string(kb), c.tokens.Snapshot(k.ConnectorID), mint)
		}
		c.mu.Unlock()
		return e.tok, true, nil
	}
	key, connID := string(kb), k.ConnectorID // the flight captures these, not k
	gen := c.tokens.Snapshot(connID)
	// The shared mint runs detached from this caller's cancellation (other callers may be
	// waiting on it) but within fetchTimeout; each caller stops waiting at its own deadline.
	tok, err = cache.Load(ctx, &c.tokens, key, gen, fetchTimeout, func(ctx context.Context) (Token, error) {
		return c.fill(ctx, now, connID, key, gen, mint)
	})
	return tok, false, err
}

// fill runs inside a flight: it re-checks the cache (a flight that just ended may have filled
// it), mints, and stores the result unless the connector was forgotten meanwhile.
func (c *tokenCache) fill(ctx context.Context, now func() time.Time, connID, key string, gen cache.Gen, mint mintFunc) (Token, error) {
	if e, ok := c.tokens.Get(key, now()); ok {
		return e.tok, nil
	}
	tok, err := mint(ctx)
	if err != nil {
		return Token{}, err
	}
	c.store(now(), connID, key, gen, tok)
	return tok, nil
}

// refresh re-mints key in the background while the old token is still being served.
func (c *tokenCache) refresh(now func() time.Time, connID, key string, gen cache.Gen, mint mintFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	err := cache.Refresh(ctx, &c.tokens, key, gen, func(ctx context.Context) (Token, error) {
		tok, err := mint(ctx)
		if err == nil {
			c.store(now(), connID, key, gen, tok)
		}
		return tok, err
	})
	if err != nil {
		if e, ok := c.tokens.Get(key, now()); ok {
			c.mu.Lock()
			e.refreshing, e.refreshAt = false, now().Add(refreshRetry)
			c.mu.Unlock()
		}
	}
}

// store caches tok under key unless it is already too short-lived to be served or the
// connector was forgotten since the mint started (generation changed).
func (c *tokenCache) store(t time.Time, connID, key string, gen cache.Gen, tok Token) {
	usable := tok.Expiry.Sub(t) - MinTokenRemaining
	if usable <= 0 {
		c.tokens.Delete(key)
		return
	}
	e := &cacheEntry{tok: tok, refreshAt: t.Add(usable - min(earlyRefresh, usable/2))}
	c.tokens.Put(gen, connID, t, servedUntil(tok), e, key)
}

// forget drops every token of connID, cached or being minted: later requests mint anew
// (a new generation: they neither join a mint in flight nor see its result stored).
func (c *tokenCache) forget(connID string) {
	c.tokens.Drop(connID)
	c.clusters.Drop(connID)
}

// len reports how many tokens are cached (for tests).
func (c *tokenCache) len() int { return c.tokens.Len() }

// Forget drops what this instance caches of a connector (its tokens and the connector
// itself), so that the next mint reads the connector from the store and goes to Google with
// its current configuration and secrets. Update, Delete and Disable call it; other instances
// notice a change when their revocation window ends, and a new secret version or
// configuration through the token cache key.
func (s *Service) Forget(connectorID string) {
	s.forgetConnector(connectorID)
}
