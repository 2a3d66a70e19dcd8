package callerauth

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// issuer is a stand-in for Google's OIDC issuer: an RSA key set served as a JWKS.
type issuer struct {
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey
	fetches atomic.Int64
	srv     *httptest.Server
}

var (
	keyOnce sync.Once
	keyPool []*rsa.PrivateKey
)

func testKeys(t *testing.T) []*rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keyPool = append(keyPool, k)
		}
	})
	return keyPool
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	is := &issuer{keys: map[string]*rsa.PrivateKey{"k1": testKeys(t)[0]}}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		var set struct {
			Keys []jwk `json:"keys"`
		}
		for kid, k := range is.keys {
			set.Keys = append(set.Keys, jwk{Kty: "RSA", Kid: kid, Alg: "RS256", Use: "sig", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())})
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func sign(t *testing.T, k *rsa.PrivateKey, hdr, cl map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(hdr)
	c, _ := json.Marshal(cl)
	in := b64(h) + "." + b64(c)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}

var now = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func goodClaims() map[string]any {
	return map[string]any{
		"iss": "https://accounts.google.com", "aud": "https://gcpconn.example", "sub": "123",
		"email": "Alice@Example.com", "email_verified": true,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func (is *issuer) verifier() *Verifier {
	return New(Config{Audience: "https://gcpconn.example", JWKSURL: is.srv.URL, Client: is.srv.Client(), Now: func() time.Time { return now }})
}

func TestVerify(t *testing.T) {
	is := newIssuer(t)
	keys := testKeys(t)
	rs := map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}
	good := sign(t, keys[0], rs, goodClaims())
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + b64([]byte(`{"iss":"https://accounts.google.com","aud":"https://gcpconn.example","email":"mallory@example.com","email_verified":true,"exp":9999999999}`)) + "." + parts[2]
	hsHeader := b64([]byte(`{"alg":"HS256","kid":"k1"}`))
	hsBody := parts[1]
	mac := hmac.New(sha256.New, []byte("k1"))
	mac.Write([]byte(hsHeader + "." + hsBody))
	hs256 := hsHeader + "." + hsBody + "." + b64(mac.Sum(nil))
	none := b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."

	for _, tc := range []struct {
		name    string
		token   string
		want    string // email, or "" when the token must be refused
		wantMsg string // part of the refusal message
	}{
		{"good", good, "alice@example.com", ""},
		{"issuer without scheme", sign(t, keys[0], rs, with(goodClaims(), "iss", "accounts.google.com")), "alice@example.com", ""},
		{"audience list", sign(t, keys[0], rs, with(goodClaims(), "aud", []string{"other", "https://gcpconn.example"})), "alice@example.com", ""},
		{"email_verified string", sign(t, keys[0], rs, with(goodClaims(), "email_verified", "true")), "alice@example.com", ""},
		{"expired within skew", sign(t, keys[0], rs, with(goodClaims(), "exp", now.Add(-10*time.Second).Unix())), "alice@example.com", ""},
		{"tampered claims", tampered, "", "signature is invalid"},
		{"signed by another key", sign(t, keys[1], rs, goodClaims()), "", "signature is invalid"},
		{"alg none", none, "", `algorithm "none"`},
		{"alg HS256", hs256, "", `algorithm "HS256"`},
		{"alg RS512", sign(t, keys[0], map[string]any{"alg": "RS512", "kid": "k1"}, goodClaims()), "", "algorithm"},
		{"unknown kid", sign(t, keys[0], map[string]any{"alg": "RS256", "kid": "nope"}, goodClaims()), "", "unknown key"},
		{"wrong audience", sign(t, keys[0], rs, with(goodClaims(), "aud", "https://other.example")), "", "audience"},
		{"no audience", sign(t, keys[0], rs, with(goodClaims(), "aud", nil)), "", "audience"},
		{"wrong issuer", sign(t, keys[0], rs, with(goodClaims(), "iss", "https://evil.example")), "", "issuer"},
		{"expired", sign(t, keys[0], rs, with(goodClaims(), "exp", now.Add(-time.Minute).Unix())), "", "expired"},
		{"no exp", sign(t, keys[0], rs, with(goodClaims(), "exp", nil)), "", "exp"},
		{"issued in the future", sign(t, keys[0], rs, with(goodClaims(), "iat", now.Add(time.Hour).Unix())), "", "future"},
		{"not yet valid", sign(t, keys[0], rs, with(goodClaims(), "nbf", now.Add(time.Hour).Unix())), "", "not valid yet"},
		{"missing email", sign(t, keys[0], rs, with(goodClaims(), "email", nil)), "", "no email"},
		{"unverified email", sign(t, keys[0], rs, with(goodClaims(), "email_verified", false)), "", "not verified"},
		{"missing email_verified", sign(t, keys[0], rs, with(goodClaims(), "email_verified", nil)), "", "not verified"},
		{"not a jwt", "abc", "", "not a JWT"},
		{"garbage header", "!!.!!.!!", "", "header"},
		{"empty signature", parts[0] + "." + parts[1] + ".", "", "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := is.verifier().Verify(context.Background(), tc.token)
			if tc.want != "" {
				if err != nil || p.Email != tc.want {
					t.Fatalf("Verify = %+v, %v; want %s", p, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify = %+v, nil; want an error", p)
			}
			if k := connector.KindOf(err); k != connector.ErrUnauthenticated {
				t.Errorf("KindOf(err) = %s; want unauthenticated (err %v)", k, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("err = %q; want it to contain %q", msg, tc.wantMsg)
			}
			if strings.Contains(err.Error(), tc.token) && len(tc.token) > 10 {
				t.Errorf("error echoes the token: %v", err)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	is := newIssuer(t)
	good := sign(t, testKeys(t)[0], map[string]any{"alg": "RS256", "kid": "k1"}, goodClaims())
	for _, tc := range []struct {
		name, header string
		ok           bool
	}{
		{"bearer", "Bearer " + good, true},
		{"lowercase scheme", "bearer " + good, true},
		{"missing", "", false},
		{"basic", "Basic dXNlcjpwYXNz", false},
		{"empty bearer", "Bearer ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			p, err := is.verifier().Authenticate(r)
			if (err == nil) != tc.ok {
				t.Fatalf("Authenticate(%q) = %+v, %v; want ok=%v", tc.name, p, err, tc.ok)
			}
			if err != nil && connector.KindOf(err) != connector.ErrUnauthenticated {
				t.Errorf("KindOf = %s; want unauthenticated", connector.KindOf(err))
			}
		})
	}
}

func TestKeyRotationAndRefetchLimit(t *testing.T) {
	is := newIssuer(t)
	keys := testKeys(t)
	clock := now
	v := New(Config{Audience: "https://gcpconn.example", JWKSURL: is.srv.URL, Now: func() time.Time { return clock },
		MinRefetch: 10 * time.Second})
	cl := goodClaims()
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, keys[0], map[string]any{"alg": "RS256", "kid": "k1"}, cl)); err != nil {
		t.Fatalf("Verify(k1) = %v", err)
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("fetches after first verify = %d; want 1", n)
	}
	// Cached: a second verification fetches nothing.
	if _, err := v.Verify(ctx, sign(t, keys[0], map[string]any{"alg": "RS256", "kid": "k1"}, cl)); err != nil {
		t.Fatalf("Verify(k1) again = %v", err)
	}
	// The issuer rotates in k2. Within MinRefetch an unknown kid is refused without a fetch.
	is.mu.Lock()
	is.keys["k2"] = keys[1]
	is.mu.Unlock()
	k2 := sign(t, keys[1], map[string]any{"alg": "RS256", "kid": "k2"}, cl)
	for range 5 {
		_, err := v.Verify(ctx, k2)
		var ce *connector.Error
		if !errors.As(err, &ce) || ce.Kind != connector.ErrUpstreamUnavailable || ce.RetryAfter != 10*time.Second {
			t.Fatalf("Verify(k2) within MinRefetch = %v; want upstream_unavailable, retry after 10s (the key may be new)", err)
		}
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("fetches after unknown kids within MinRefetch = %d; want 1", n)
	}
	clock = clock.Add(11 * time.Second)
	if p, err := v.Verify(ctx, k2); err != nil || p.Email != "alice@example.com" {
		t.Fatalf("Verify(k2) after MinRefetch = %+v, %v; want alice", p, err)
	}
	if n := is.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d; want 2", n)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	v := New(Config{Audience: "https://gcpconn.example", JWKSURL: srv.URL, Now: func() time.Time { return now }})
	_, err := v.Verify(context.Background(), sign(t, testKeys(t)[0], map[string]any{"alg": "RS256", "kid": "k1"}, goodClaims()))
	if k := connector.KindOf(err); k != connector.ErrUpstreamUnavailable {
		t.Fatalf("KindOf(Verify with JWKS down) = %s (%v); want upstream_unavailable", k, err)
	}
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.RetryAfter == 0 {
		t.Errorf("error has no RetryAfter: %v", err)
	}
}

func TestNoAudienceConfigured(t *testing.T) {
	is := newIssuer(t)
	v := New(Config{JWKSURL: is.srv.URL, Now: func() time.Time { return now }})
	if _, err := v.Verify(context.Background(), sign(t, testKeys(t)[0], map[string]any{"alg": "RS256", "kid": "k1"}, goodClaims())); connector.KindOf(err) != connector.ErrUnauthenticated {
		t.Fatalf("Verify without audience = %v; want unauthenticated", err)
	}
	if is.fetches.Load() != 0 {
		t.Errorf("fetched keys without an audience configured")
	}
}

func TestCustomIssuerIsExact(t *testing.T) {
	is := newIssuer(t)
	v := New(Config{Issuer: "http://127.0.0.1:1234", Audience: "https://gcpconn.example", JWKSURL: is.srv.URL, Now: func() time.Time { return now }})
	rs := map[string]any{"alg": "RS256", "kid": "k1"}
	if _, err := v.Verify(context.Background(), sign(t, testKeys(t)[0], rs, with(goodClaims(), "iss", "http://127.0.0.1:1234"))); err != nil {
		t.Fatalf("Verify(custom issuer) = %v", err)
	}
	if _, err := v.Verify(context.Background(), sign(t, testKeys(t)[0], rs, goodClaims())); err == nil {
		t.Fatalf("Verify(Google issuer with a custom issuer configured) = nil; want an error")
	}
}

func TestVerifiedTokenCacheExpires(t *testing.T) {
	is := newIssuer(t)
	clock := now
	v := New(Config{Audience: "https://gcpconn.example", JWKSURL: is.srv.URL, Now: func() time.Time { return clock }})
	tok := sign(t, testKeys(t)[0], map[string]any{"alg": "RS256", "kid": "k1"}, with(goodClaims(), "exp", now.Add(5*time.Minute).Unix()))
	for range 3 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("Verify = %v", err)
		}
	}
	clock = clock.Add(6 * time.Minute) // past exp + skew
	if _, err := v.Verify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Verify of a cached token after its expiry = %v; want expired", err)
	}
	// A tampered copy of a cached token is not a cache hit.
	parts := strings.Split(tok, ".")
	if _, err := v.Verify(context.Background(), parts[0]+"."+parts[1]+"."+parts[2][:len(parts[2])-4]+"AAAA"); err == nil {
		t.Fatalf("Verify(tampered copy of a cached token) = nil; want an error")
	}
}
