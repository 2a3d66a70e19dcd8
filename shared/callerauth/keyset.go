package callerauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

const (
	maxJWKSBytes = 1 << 20
	maxJWKSKeys  = 100
)

// publicKey is one usable key of a JWKS: an *rsa.PublicKey or a P-256 *ecdsa.PublicKey, and
// the algorithm the JWKS pins it to ("" when it does not say).
type publicKey struct {
	key any
	alg string
}

// keySet is one issuer's keys, fetched from its JWKS URL.
//
//   - Fresh keys (fetched less than ttl ago) are used as they are.
//   - Stale keys (older than ttl, younger than maxStale) are still used while one fetch
//     refreshes them in the background; past maxStale they are not trusted any more and
//     tokens wait for a fetch that succeeds (503 until one does).
//   - A token with an unknown key id waits for a fetch when one may start (the issuer may
//     have published a new key) and is refused (401) if the fetched set lacks the key too.
//     Fetches start at most once per minRefetch, so within that limit the unknown key is a
//     503 with Retry-After: the key may be new, and the caller should come back; a flood of
//     made-up key ids costs the issuer one request per minRefetch.
//   - One fetch runs at a time (single flight), outside the lock, under its own context
//     bounded by fetchTimeout, never the caller's: a caller that gives up does not cancel the
//     fetch others wait for. A failed fetch backs off: the next may start after minRefetch,
//     doubling per failure up to maxBackoff.
type keySet struct {
	name         string                                    // the issuer, for logs
	jwksURL      func(ctx context.Context) (string, error) // where the keys are (fixed, or from discovery)
	algs         []string                                  // the algorithms this issuer's keys may be for
	client       *http.Client                              // follows no redirects
	now          func() time.Time
	ttl          time.Duration
	maxStale     time.Duration
	minRefetch   time.Duration
	maxBackoff   time.Duration
	fetchTimeout time.Duration

	mu        sync.Mutex // guards the fields below; never held during a fetch
	keys      map[string]publicKey
	fetchedAt time.Time     // when the fetch of keys started
	triedAt   time.Time     // when the last fetch started, failed or not
	failures  int           // consecutive failed fetches
	lastErr   error         // of the last fetch, nil when it succeeded
	flight    chan struct{} // non-nil while a fetch runs; closed when it ends
}

// key returns the key kid, as the rules of keySet say.
func (s *keySet) key(ctx context.Context, kid string) (publicKey, error) {
	s.mu.Lock()
	now := s.now()
	k, known := s.keys[kid]
	fresh, usable := s.ageLocked(now)
	switch {
	case known && fresh:
		s.mu.Unlock()
		return k, nil
	case known && usable:
		if s.mayFetchLocked(now) {
			s.startLocked(now)
		}
		s.mu.Unlock()
		return k, nil
	case s.flight == nil && !s.mayFetchLocked(now):
		wait, err := s.nextTryLocked().Sub(now), s.lastErr
		s.mu.Unlock()
		if usable {
			return publicKey{}, s.unavailable(wait, fmt.Errorf("callerauth: %s keys: unknown key id %s, and the keys were fetched less than %s ago", s.name, quoteClip(kid), s.minRefetch))
		}
		return publicKey{}, s.unavailable(wait, fmt.Errorf("callerauth: %s keys: the last fetch failed (%v); the next may start in %s", s.name, err, wait))
	}
	done := s.startLocked(now)
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return publicKey{}, s.unavailable(0, fmt.Errorf("callerauth: %s keys: gave up waiting for the fetch: %w", s.name, ctx.Err()))
	}
	s.mu.Lock()
	k, known = s.keys[kid]
	_, usable = s.ageLocked(s.now())
	err := s.lastErr
	wait := s.nextTryLocked().Sub(s.now())
	s.mu.Unlock()
	switch {
	case known && usable:
		return k, nil
	case err != nil || !usable: // the fetch failed: the key may well be published
		return publicKey{}, s.unavailable(wait, fmt.Errorf("callerauth: %s keys: %w", s.name, err))
	}
	return publicKey{}, deny("token is signed with an unknown key %s: %s does not publish it", quoteClip(kid), s.name)
}

// ageLocked says whether the keys are fresh (younger than ttl) and usable (younger than
// maxStale).
func (s *keySet) ageLocked(now time.Time) (fresh, usable bool) {
	if s.keys == nil {
		return false, false
	}
	age := now.Sub(s.fetchedAt)
	return age >= 0 && age < s.ttl, age >= 0 && age < s.maxStale
}

// nextTryLocked is when the next fetch may start: minRefetch after the last, doubled per
// consecutive failure up to maxBackoff.
func (s *keySet) nextTryLocked() time.Time {
	wait := s.minRefetch
	for i := 1; i < s.failures && wait < s.maxBackoff; i++ {
		wait *= 2
	}
	return s.triedAt.Add(min(wait, s.maxBackoff))
}

// mayFetchLocked reports whether a fetch may start now.
func (s *keySet) mayFetchLocked(now time.Time) bool {
	return s.flight == nil && (s.triedAt.IsZero() || !now.Before(s.nextTryLocked()) || now.Before(s.triedAt))
}

// startLocked starts a fetch unless one runs, and returns the channel closed when it ends.
func (s *keySet) startLocked(now time.Time) chan struct{} {
	if s.flight != nil {
		return s.flight
	}
	done := make(chan struct{})
	s.flight, s.triedAt = done, now
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.fetchTimeout)
		keys, err := s.fetch(ctx)
		cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.failures, s.lastErr = s.failures+1, err
		} else {
			s.keys, s.fetchedAt, s.failures, s.lastErr = keys, now, 0, nil
		}
		s.flight = nil
		close(done)
	}()
	return done
}

// unavailable is the caller's 503: the keys cannot be had right now; retry after wait (at
// least a second). The cause names the issuer; the message does not.
func (s *keySet) unavailable(wait time.Duration, cause error) error {
	return &connector.Error{Kind: connector.ErrUpstreamUnavailable,
		Message:    "callerauth: the signing keys of the token's issuer are not available right now; try again later",
		RetryAfter: max(wait, time.Second), Err: cause}
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func (s *keySet) fetch(ctx context.Context) (map[string]publicKey, error) {
	u, err := s.jwksURL(ctx)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := getJSON(ctx, s.client, u, &set); err != nil {
		return nil, fmt.Errorf("JWKS of %s: %w", s.name, err)
	}
	keys := map[string]publicKey{}
	for _, k := range set.Keys {
		if len(keys) == maxJWKSKeys {
			break
		}
		if pk, ok := k.parse(s.algs); ok && k.Kid != "" {
			keys[k.Kid] = pk
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS of %s at %s holds no usable %v key", s.name, u, s.algs)
	}
	return keys, nil
}

// parse returns k as a verification key for one of algs, or false when it is not one: a
// malformed key, an RSA modulus under 2048 bits, a curve other than P-256, a key for
// encryption, or one pinned to another algorithm.
func (k jwk) parse(algs []string) (publicKey, bool) {
	if k.Use != "" && k.Use != "sig" {
		return publicKey{}, false
	}
	b64 := base64.RawURLEncoding.DecodeString
	switch {
	case k.Kty == "RSA" && slices.Contains(algs, algRS256) && (k.Alg == "" || k.Alg == algRS256):
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
			return publicKey{}, false
		}
		eInt := int(new(big.Int).SetBytes(e).Int64())
		if eInt < 3 || eInt%2 == 0 {
			return publicKey{}, false
		}
		return publicKey{key: &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: eInt}, alg: algRS256}, true
	case k.Kty == "EC" && k.Crv == "P-256" && slices.Contains(algs, algES256) && (k.Alg == "" || k.Alg == algES256):
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return publicKey{}, false
		}
		// ParseUncompressedPublicKey refuses a point that is not on the curve.
		pt := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return publicKey{}, false
		}
		return publicKey{key: pub, alg: algES256}, true
	}
	return publicKey{}, false
}

// getJSON GETs u and decodes a 200 JSON answer of at most maxJWKSBytes into v.
func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", u, err)
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("%s answered more than %d bytes", u, maxJWKSBytes)
	}
	if resp.StatusCode != http.StatusOK {
		if loc := resp.Header.Get("Location"); loc != "" {
			return fmt.Errorf("GET %s: status %d to %s: redirects are not followed", u, resp.StatusCode, loc)
		}
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("parse %s: %w", u, err)
	}
	return nil
}
