package connector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// fakeClock is a settable clock for cache tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingMint mints tokens "tok-N" that live for life, counting calls.
type countingMint struct {
	clock *fakeClock
	life  time.Duration
	calls atomic.Int64
	// gate, when non-nil, blocks each mint until it is closed.
	gate chan struct{}
	err  error
}

func (m *countingMint) mint(ctx context.Context) (Token, error) {
	n := m.calls.Add(1)
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	if m.err != nil {
		return Token{}, m.err
	}
	return Token{Value: fmt.Sprintf("tok-%d", n), Expiry: m.clock.Now().Add(m.life)}, nil
}

func testKey() tokenKey {
	return tokenKey{ConnectorID: "c1", SecretVersion: "1", ResourceType: resourceid.GCSBucket, ResourceID: "gs://b",
		Scopes: []string{resourcetype.ScopeCloudPlatform}, Boundary: &Boundary{Bucket: "b"}, Lifetime: time.Hour}
}

// TestTokenCacheConcurrentColdMissesShareOneMint: n callers miss at once. In the bubble,
// synctest.Wait returns only when every caller is blocked (one in the gated mint, the others
// waiting for it), so the mint count is taken after all of them asked: without coalescing it
// is n, not 1.
func TestTokenCacheConcurrentColdMissesShareOneMint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		m := &countingMint{clock: clock, life: time.Hour, gate: make(chan struct{})}
		var c tokenCache
		const n = 100
		var wg sync.WaitGroup
		values := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				tok, _, err := c.get(context.Background(), clock.Now, testKey(), m.mint)
				values[i], errs[i] = tok.Value, err
			})
		}
		synctest.Wait() // all n callers are blocked: in the mint or waiting for it
		if got := m.calls.Load(); got != 1 {
			t.Errorf("upstream mints started by %d concurrent cold gets = %d; want 1", n, got)
		}
		close(m.gate)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || values[i] != "tok-1" {
				t.Fatalf("get #%d = %q, %v; want tok-1, nil", i, values[i], errs[i])
			}
		}
		if got := m.calls.Load(); got != 1 {
			t.Errorf("upstream mints for %d concurrent cold gets = %d; want 1", n, got)
		}
	})
}

func TestTokenCacheServesUntilFloor(t *testing.T) {
	clock := newFakeClock()
	m := &countingMint{clock: clock, life: time.Hour}
	var c tokenCache
	ctx := context.Background()

	get := func() (string, bool) {
		t.Helper()
		tok, hit, err := c.get(ctx, clock.Now, testKey(), m.mint)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		return tok.Value, hit
	}
	if v, hit := get(); v != "tok-1" || hit {
		t.Fatalf("first get = %q, hit %v; want tok-1, miss", v, hit)
	}
	clock.Add(30 * time.Minute)
	if v, hit := get(); v != "tok-1" || !hit {
		t.Fatalf("get after 30m = %q, hit %v; want tok-1, hit", v, hit)
	}
	// 56 minutes in: 4 minutes left, under the 5-minute floor: a fresh mint, synchronously.
	clock.Add(26 * time.Minute)
	v, hit := get()
	if v == "tok-1" || hit {
		t.Fatalf("get with 4m left = %q, hit %v; want a fresh token, miss", v, hit)
	}
}

// TestTokenCacheRefreshesEarlyInBackground: inside the early-refresh window callers get the
// cached token at once, and one background mint (however many callers) replaces it.
func TestTokenCacheRefreshesEarlyInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		m := &countingMint{clock: clock, life: time.Hour, gate: make(chan struct{})}
		var c tokenCache
		ctx := context.Background()
		close(m.gate)
		if _, _, err := c.get(ctx, clock.Now, testKey(), m.mint); err != nil {
			t.Fatal(err)
		}
		// 52 minutes in: 8 minutes left, inside the early-refresh window (5 to 10 minutes left).
		clock.Add(52 * time.Minute)
		m.gate = make(chan struct{}) // the refresh blocks until released
		for range 10 {
			tok, hit, err := c.get(ctx, clock.Now, testKey(), m.mint)
			if err != nil || tok.Value != "tok-1" || !hit {
				t.Fatalf("get in refresh window = %q, hit %v, %v; want the cached tok-1 while refreshing", tok.Value, hit, err)
			}
		}
		synctest.Wait() // the background refresh is blocked in its mint
		if got := m.calls.Load(); got != 2 {
			t.Fatalf("mints after 10 gets in the refresh window = %d; want 2 (initial + one background refresh)", got)
		}
		close(m.gate)
		synctest.Wait() // the refresh stored its token
		tok, hit, err := c.get(ctx, clock.Now, testKey(), m.mint)
		if err != nil || tok.Value != "tok-2" || !hit {
			t.Errorf("get after refresh = %q, hit %v, %v; want the refreshed tok-2 from the cache", tok.Value, hit, err)
		}
		if got := m.calls.Load(); got != 2 {
			t.Errorf("mints = %d; want 2 (initial + one refresh)", got)
		}
	})
}

// TestTokenCacheMissDuringRefreshJoinsIt: when the cached token falls under the floor while
// its background refresh is still running, a caller waits for that refresh instead of
// minting a second token.
func TestTokenCacheMissDuringRefreshJoinsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		m := &countingMint{clock: clock, life: time.Hour}
		var c tokenCache
		ctx := context.Background()
		if _, _, err := c.get(ctx, clock.Now, testKey(), m.mint); err != nil {
			t.Fatal(err)
		}
		clock.Add(52 * time.Minute)
		m.gate = make(chan struct{})
		if _, hit, err := c.get(ctx, clock.Now, testKey(), m.mint); err != nil || !hit {
			t.Fatalf("get in the refresh window: hit %v, %v; want a hit", hit, err)
		}
		synctest.Wait()            // the refresh is blocked in its mint
		clock.Add(4 * time.Minute) // 4 minutes left: under the floor, a miss
		res := make(chan Token, 1)
		go func() {
			tok, _, _ := c.get(ctx, clock.Now, testKey(), m.mint)
			res <- tok
		}()
		synctest.Wait()
		if got := m.calls.Load(); got != 2 {
			t.Errorf("mints after a miss during the refresh = %d; want 2 (the miss joins the refresh)", got)
		}
		close(m.gate)
		if tok := <-res; tok.Value != "tok-2" {
			t.Errorf("the miss got %q; want the refreshed tok-2", tok.Value)
		}
	})
}

// TestTokenCacheFailedRefreshRetriesLater: a background refresh that fails keeps serving the
// cached token and tries again only after refreshRetry.
func TestTokenCacheFailedRefreshRetriesLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		m := &countingMint{clock: clock, life: time.Hour}
		var c tokenCache
		ctx := context.Background()
		if _, _, err := c.get(ctx, clock.Now, testKey(), m.mint); err != nil {
			t.Fatal(err)
		}
		clock.Add(52 * time.Minute)
		m.err = errors.New("upstream down")
		get := func() {
			t.Helper()
			if tok, hit, err := c.get(ctx, clock.Now, testKey(), m.mint); err != nil || tok.Value != "tok-1" || !hit {
				t.Fatalf("get = %q, hit %v, %v; want the cached tok-1", tok.Value, hit, err)
			}
			synctest.Wait() // any background refresh it started has finished
		}
		get()
		get()
		if got := m.calls.Load(); got != 2 {
			t.Fatalf("mints after a failed refresh and another get = %d; want 2 (no retry before refreshRetry)", got)
		}
		clock.Add(refreshRetry)
		get()
		if got := m.calls.Load(); got != 3 {
			t.Errorf("mints after refreshRetry = %d; want 3 (one retry)", got)
		}
	})
}

func TestTokenCacheKeys(t *testing.T) {
	base := testKey()
	base.Scopes = []string{resourcetype.ScopeUserinfoEmail, resourcetype.ScopeCloudPlatform}
	tests := []struct {
		name   string
		change func(k *tokenKey)
		same   bool
	}{
		{"nothing", func(k *tokenKey) {}, true},
		{"scope order is irrelevant", func(k *tokenKey) {
			k.Scopes = []string{resourcetype.ScopeCloudPlatform, resourcetype.ScopeUserinfoEmail}
		}, true},
		{"another scope", func(k *tokenKey) { k.Scopes = []string{resourcetype.ScopeCloudPlatform} }, false},
		{"secret version", func(k *tokenKey) { k.SecretVersion = "2" }, false},
		{"config", func(k *tokenKey) { k.Config = "impersonation\x00other" }, false},
		{"resource", func(k *tokenKey) { k.ResourceID = "gs://c" }, false},
		{"boundary prefix", func(k *tokenKey) { k.Boundary = &Boundary{Bucket: "b", Prefix: "p/"} }, false},
		{"boundary read-only", func(k *tokenKey) { k.Boundary = &Boundary{Bucket: "b", ReadOnly: true} }, false},
		{"no boundary", func(k *tokenKey) { k.Boundary = nil }, false},
		{"lifetime", func(k *tokenKey) { k.Lifetime = 15 * time.Minute }, false},
		{"subject token", func(k *tokenKey) { k.SubjectToken = "caller-a" }, false},
		{"field boundaries", func(k *tokenKey) { k.ConnectorID, k.SecretVersion = "c", "11" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := base
			tt.change(&k)
			if got := k.String() == base.String(); got != tt.same {
				t.Errorf("key equal after %s = %v; want %v", tt.name, got, tt.same)
			}
		})
	}
	k := base
	k.SubjectToken = "secret-subject-token"
	if s := k.String(); strings.Contains(s, "secret-subject-token") {
		t.Errorf("key %q contains the subject token; want only its hash", s)
	}
}

func TestTokenCacheForget(t *testing.T) {
	clock := newFakeClock()
	m := &countingMint{clock: clock, life: time.Hour}
	var c tokenCache
	ctx := context.Background()
	other := testKey()
	other.ConnectorID = "c2"
	for _, k := range []tokenKey{testKey(), other} {
		if _, _, err := c.get(ctx, clock.Now, k, m.mint); err != nil {
			t.Fatal(err)
		}
	}
	c.forget("c1")
	if got := c.len(); got != 1 {
		t.Errorf("entries after forget(c1) = %d; want 1 (c2's)", got)
	}
	if _, hit, _ := c.get(ctx, clock.Now, other, m.mint); !hit {
		t.Errorf("c2 after forget(c1): hit = false; want true")
	}
	tok, hit, err := c.get(ctx, clock.Now, testKey(), m.mint)
	if err != nil || hit || tok.Value != "tok-3" {
		t.Errorf("c1 after forget = %q, hit %v, %v; want a fresh tok-3", tok.Value, hit, err)
	}
}

func TestTokenCacheForgetDuringMintDoesNotStore(t *testing.T) {
	synctest.Test(t, testTokenCacheForgetDuringMintDoesNotStore)
}

func testTokenCacheForgetDuringMintDoesNotStore(t *testing.T) {
	clock := newFakeClock()
	m := &countingMint{clock: clock, life: time.Hour, gate: make(chan struct{})}
	var c tokenCache
	ctx := context.Background()
	res := make(chan error, 1)
	go func() {
		_, _, err := c.get(ctx, clock.Now, testKey(), m.mint)
		res <- err
	}()
	synctest.Wait() // the mint is running (blocked at its gate)
	c.forget("c1")  // the connector changed while its token was being minted
	close(m.gate)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if got := c.len(); got != 0 {
		t.Errorf("entries after a mint that raced forget = %d; want 0", got)
	}
}

func TestTokenCacheGetAfterForgetDoesNotJoinOlderMint(t *testing.T) {
	synctest.Test(t, testTokenCacheGetAfterForgetDoesNotJoinOlderMint)
}

func testTokenCacheGetAfterForgetDoesNotJoinOlderMint(t *testing.T) {
	clock := newFakeClock()
	old := &countingMint{clock: clock, life: time.Hour, gate: make(chan struct{})}
	var c tokenCache
	ctx := context.Background()
	res := make(chan string, 1)
	go func() {
		tok, _, _ := c.get(ctx, clock.Now, testKey(), old.mint)
		res <- tok.Value
	}()
	synctest.Wait() // the old mint is running (blocked at its gate)
	c.forget("c1")  // e.g. the connector was disabled while its old credentials were minting
	fresh := &countingMint{clock: clock, life: time.Hour}
	tok, hit, err := c.get(ctx, clock.Now, testKey(), fresh.mint)
	if err != nil || hit || fresh.calls.Load() != 1 {
		t.Errorf("get after forget = %q, hit %v, %v, %d fresh mints; want its own mint (1), not the older flight's",
			tok.Value, hit, err, fresh.calls.Load())
	}
	close(old.gate)
	if got := <-res; got != "tok-1" {
		t.Errorf("the caller from before forget got %q; want tok-1", got)
	}
	if tok, hit, _ := c.get(ctx, clock.Now, testKey(), fresh.mint); !hit || fresh.calls.Load() != 1 {
		t.Errorf("get after both mints = %q, hit %v; want the post-forget token from the cache", tok.Value, hit)
	}
}

func TestTokenCacheErrorsAndShortTokensAreNotCached(t *testing.T) {
	clock := newFakeClock()
	ctx := context.Background()
	var c tokenCache
	failing := &countingMint{clock: clock, life: time.Hour, err: errors.New("upstream down")}
	for range 2 {
		if _, _, err := c.get(ctx, clock.Now, testKey(), failing.mint); err == nil {
			t.Fatal("get with failing mint: err = nil; want the mint error")
		}
	}
	if got := failing.calls.Load(); got != 2 {
		t.Errorf("mints after two failures = %d; want 2 (errors are not cached)", got)
	}
	short := &countingMint{clock: clock, life: 4 * time.Minute}
	for range 2 {
		tok, hit, err := c.get(ctx, clock.Now, testKey(), short.mint)
		if err != nil || hit || tok.Value == "" {
			t.Fatalf("get of a 4-minute token = %q, hit %v, %v; want fresh tokens", tok.Value, hit, err)
		}
	}
	if got := short.calls.Load(); got != 2 {
		t.Errorf("mints of 4-minute tokens = %d; want 2 (never served from cache with < 5m left)", got)
	}
}

func TestTokenCacheCallerCancelDoesNotCancelSharedMint(t *testing.T) {
	synctest.Test(t, testTokenCacheCallerCancelDoesNotCancelSharedMint)
}

func testTokenCacheCallerCancelDoesNotCancelSharedMint(t *testing.T) {
	clock := newFakeClock()
	m := &countingMint{clock: clock, life: time.Hour, gate: make(chan struct{})}
	var c tokenCache
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, _, err := c.get(ctx, clock.Now, testKey(), m.mint)
		res <- err
	}()
	synctest.Wait() // the mint is running (blocked at its gate)
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("get with cancelled ctx = %v; want context.Canceled", err)
	}
	close(m.gate)
	synctest.Wait() // the mint finishes after the impatient caller left
	tok, hit, err := c.get(context.Background(), clock.Now, testKey(), m.mint)
	if err != nil || !hit || tok.Value != "tok-1" {
		t.Errorf("get after the shared mint finished = %q, hit %v, %v; want cached tok-1", tok.Value, hit, err)
	}
}

// TestTokenCacheHitAllocatesNothing: a hit builds its key on the stack and looks it up
// without converting it to a string, so serving a cached token allocates nothing (a key of
// several scopes in order, a boundary and a subject token included).
func TestTokenCacheHitAllocatesNothing(t *testing.T) {
	clock := newFakeClock()
	m := &countingMint{clock: clock, life: time.Hour}
	var c tokenCache
	ctx := context.Background()
	k := testKey()
	k.Scopes = []string{resourcetype.ScopeCloudPlatform, resourcetype.ScopeUserinfoEmail}
	k.SubjectToken = "subject"
	if _, _, err := c.get(ctx, clock.Now, k, m.mint); err != nil {
		t.Fatal(err)
	}
	now, mint := clock.Now, m.mint
	n := testing.AllocsPerRun(100, func() {
		if _, hit, err := c.get(ctx, now, k, mint); !hit || err != nil {
			t.Fatalf("get = hit %v, %v; want a hit", hit, err)
		}
	})
	if n > 0 {
		t.Errorf("a token cache hit allocates %v times; want 0", n)
	}
}
