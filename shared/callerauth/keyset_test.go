package callerauth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// gatedIssuer serves a ciIssuer in process, and can hold every request until released or
// fail them: for key-set tests inside a synctest bubble.
type gatedIssuer struct {
	*ciIssuer
	mu   sync.Mutex
	gate chan struct{} // non-nil: requests wait for it to close
	fail atomic.Bool
	// requests counts every request, failed or not.
	requests atomic.Int64
}

func newGatedIssuer(t *testing.T) *gatedIssuer {
	g := &gatedIssuer{ciIssuer: newCIHandler(t)}
	g.url, g.client = "https://ci.test", &http.Client{Transport: g}
	return g
}

func (g *gatedIssuer) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	g.requests.Add(1)
	if g.fail.Load() {
		return nil, errors.New("connection refused")
	}
	return handlerTransport{g.ciIssuer}.RoundTrip(r)
}

func (g *gatedIssuer) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
}

func (g *gatedIssuer) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gate)
	g.gate = nil
}

func (g *gatedIssuer) verifier() *Verifier {
	return New(Config{Audience: ciAudience, Issuers: []Issuer{g.config("ci", nil)}, Client: g.client,
		KeyTTL: time.Hour, MaxStale: 3 * time.Hour, MinRefetch: 10 * time.Second, MaxBackoff: 40 * time.Second})
}

// token signs a fresh token (on the bubble's clock) with kid.
func (g *gatedIssuer) token(t *testing.T, kid string) string {
	n := time.Now()
	return sign(t, testKeys(t)[2], map[string]any{"alg": "RS256", "kid": kid},
		with(g.ghClaims(), "iat", n.Unix(), "nbf", n.Unix(), "exp", n.Add(5*time.Minute).Unix()))
}

func kindAndRetry(err error) (connector.Kind, time.Duration) {
	var ce *connector.Error
	if errors.As(err, &ce) {
		return ce.Kind, ce.RetryAfter
	}
	return connector.KindOf(err), 0
}

// TestKeyFetchSingleFlight: many callers waiting for the first fetch share one, which runs
// outside the lock (a caller that gives up returns at once), under its own context (the
// caller that started it giving up does not cancel it).
func TestKeyFetchSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGatedIssuer(t)
		v := g.verifier()
		g.hold()
		starter, cancel := context.WithCancel(context.Background())
		startErr := make(chan error, 1)
		go func() { _, err := v.Verify(starter, g.token(t, "rsa1")); startErr <- err }()
		synctest.Wait()
		var wg sync.WaitGroup
		var ok atomic.Int64
		for range 20 {
			wg.Go(func() {
				if _, err := v.Verify(context.Background(), g.token(t, "rsa1")); err == nil {
					ok.Add(1)
				}
			})
		}
		synctest.Wait() // all 20 wait for the one fetch
		cancel()        // its starter gives up...
		if err := <-startErr; connector.KindOf(err) != connector.ErrUpstreamUnavailable {
			t.Errorf("Verify by a caller that gave up = %v; want upstream_unavailable", err)
		}
		short, cancelShort := context.WithTimeout(context.Background(), time.Second)
		defer cancelShort()
		if _, err := v.Verify(short, g.token(t, "rsa1")); connector.KindOf(err) != connector.ErrUpstreamUnavailable {
			t.Errorf("Verify with a 1 s deadline during the fetch = %v; want upstream_unavailable (not stuck behind a lock)", err)
		}
		g.release() // ...and the fetch goes on for the others
		wg.Wait()
		if ok.Load() != 20 || g.jwksHits.Load() != 1 || g.discovery.Load() != 1 {
			t.Errorf("verified %d of 20, with %d JWKS and %d discovery fetches; want 20, 1, 1", ok.Load(), g.jwksHits.Load(), g.discovery.Load())
		}
	})
}

// TestStaleKeysServedWhileOneRefreshRuns: past KeyTTL the cached keys answer at once while
// one refresh runs in the background; past MaxStale, with the issuer down, they are not
// trusted any more (503 with Retry-After).
func TestStaleKeysServedWhileOneRefreshRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGatedIssuer(t)
		v := g.verifier()
		if _, err := v.Verify(context.Background(), g.token(t, "rsa1")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour + time.Second)
		g.hold()
		for range 5 {
			if _, err := v.Verify(context.Background(), g.token(t, "rsa1")); err != nil {
				t.Fatalf("Verify with stale keys while the refresh hangs = %v; want the cached key", err)
			}
		}
		synctest.Wait()
		g.fail.Store(true)
		g.release()
		synctest.Wait()
		if n := g.jwksHits.Load(); n != 1 {
			t.Errorf("JWKS answers = %d; want 1 (the refresh failed before reaching the issuer)", n)
		}
		time.Sleep(2*time.Hour - 2*time.Second) // just under MaxStale: still served
		if _, err := v.Verify(context.Background(), g.token(t, "rsa1")); err != nil {
			t.Fatalf("Verify with keys just under MaxStale old = %v", err)
		}
		time.Sleep(2 * time.Second)
		_, err := v.Verify(context.Background(), g.token(t, "rsa1"))
		if k, wait := kindAndRetry(err); k != connector.ErrUpstreamUnavailable || wait <= 0 {
			t.Fatalf("Verify with keys past MaxStale, issuer down = %v; want upstream_unavailable with Retry-After", err)
		}
		g.fail.Store(false)
		time.Sleep(time.Minute) // past the backoff
		if _, err := v.Verify(context.Background(), g.token(t, "rsa1")); err != nil {
			t.Fatalf("Verify once the issuer is back = %v", err)
		}
	})
}

// TestFailedKeyFetchesBackOff: after consecutive failures the next fetch waits MinRefetch,
// then twice, four times... up to MaxBackoff, and callers meanwhile get 503 with the time
// left as Retry-After.
func TestFailedKeyFetchesBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGatedIssuer(t)
		g.fail.Store(true)
		v := g.verifier()
		var fetches []time.Duration // when each fetch was tried, from the start
		start := time.Now()
		for range 200 {
			before := g.requests.Load()
			_, err := v.Verify(context.Background(), g.token(t, "rsa1"))
			if k, _ := kindAndRetry(err); k != connector.ErrUpstreamUnavailable {
				t.Fatalf("Verify with the issuer down = %v; want upstream_unavailable", err)
			}
			if wait := retryOf(err); wait < time.Second {
				t.Fatalf("Retry-After = %s; want at least 1s", wait)
			}
			synctest.Wait()
			if g.requests.Load() > before {
				fetches = append(fetches, time.Since(start))
			}
			time.Sleep(time.Second)
		}
		want := []time.Duration{0, 10 * time.Second, 30 * time.Second, 70 * time.Second, 110 * time.Second, 150 * time.Second, 190 * time.Second}
		if len(fetches) != len(want) {
			t.Fatalf("fetches tried at %v; want %v", fetches, want)
		}
		for i := range want {
			if fetches[i] != want[i] {
				t.Fatalf("fetches tried at %v; want %v (10 s, doubling, at most 40 s)", fetches, want)
			}
		}
	})
}

func retryOf(err error) time.Duration {
	_, d := kindAndRetry(err)
	return d
}
