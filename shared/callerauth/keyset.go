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

// keySet is one issuer's keys: fetched from a JWKS URL, cached for ttl, and refetched when a
// token names an unknown key id, at most once per minRefetch. A flood of tokens with made-up
// key ids therefore costs the issuer one request per minRefetch, never one per token.
type keySet struct {
	name       string                                    // the issuer, for messages
	jwksURL    func(ctx context.Context) (string, error) // where the keys are (fixed, or from discovery)
	algs       []string                                  // the algorithms this issuer's keys may be for
	client     *http.Client
	now        func() time.Time
	ttl        time.Duration
	minRefetch time.Duration

	mu        sync.Mutex // guards the fields below; held during a fetch so fetches don't pile up
	keys      map[string]publicKey
	fetchedAt time.Time // of keys
	triedAt   time.Time // of the last fetch, failed or not
}

// key returns the key kid, fetching the JWKS when the cache is empty or stale, or when kid
// is unknown and the last fetch is older than minRefetch.
func (s *keySet) key(ctx context.Context, kid string) (publicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	age := now.Sub(s.fetchedAt)
	if k, ok := s.keys[kid]; ok && age < s.ttl && age >= 0 {
		return k, nil
	}
	sinceTry := now.Sub(s.triedAt)
	if s.triedAt.IsZero() || age >= s.ttl || sinceTry >= s.minRefetch || sinceTry < 0 {
		s.triedAt = now
		keys, err := s.fetch(ctx)
		if err != nil {
			if k, ok := s.keys[kid]; ok {
				return k, nil // keep using a known key while the issuer is unreachable
			}
			return publicKey{}, err
		}
		s.keys, s.fetchedAt = keys, now
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	if s.keys == nil {
		return publicKey{}, s.unavailable(fmt.Errorf("callerauth: %s keys: last fetch failed less than %s ago", s.name, s.minRefetch))
	}
	return publicKey{}, deny("token is signed with an unknown key %s: %s does not publish it", quoteClip(kid), s.name)
}

func (s *keySet) unavailable(err error) error {
	return &connector.Error{Kind: connector.ErrUpstreamUnavailable,
		Message:    fmt.Sprintf("callerauth: the keys of %s cannot be fetched; try again later", s.name),
		RetryAfter: 5 * time.Second, Err: err}
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
		return nil, s.unavailable(fmt.Errorf("callerauth: JWKS of %s: %w", s.name, err))
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
		return nil, s.unavailable(fmt.Errorf("callerauth: JWKS of %s at %s holds no usable %v key", s.name, u, s.algs))
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
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("parse %s: %w", u, err)
	}
	return nil
}
