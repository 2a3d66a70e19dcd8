package callerauthtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Federated is a trusted issuer of federated callers on loopback, shaped like GitHub
// Actions' token service: discovery at URL/.well-known/openid-configuration naming URL as
// the issuer and URL/jwks as its key set. It signs whatever header and claims a test writes
// (raw JSON, so tests can send duplicate or case-folded keys), publishes new keys on
// request (key rotation), and can be made to fail, or redirect, its key set answers.
type Federated struct {
	URL    string // the "iss" of its tokens
	Client *http.Client

	mu       sync.Mutex
	keys     map[string]*rsa.PrivateKey // published, by kid
	pending  map[string]*rsa.PrivateKey // signing, not published yet
	jwksCode int                        // 0: 200; else the status the key set answers
	redirect string                     // when set, the key set answers 302 to here

	JWKSHits      atomic.Int64
	DiscoveryHits atomic.Int64
	OtherHits     atomic.Int64 // of URL/other-jwks, where RedirectJWKS points
}

// NewFederated starts a Federated issuer publishing one key, "k1"; it stops when tb's test
// ends.
func NewFederated(tb testing.TB) *Federated {
	tb.Helper()
	f := &Federated{keys: map[string]*rsa.PrivateKey{}, pending: map[string]*rsa.PrivateKey{}}
	f.keys["k1"] = sharedKey()
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(srv.Close)
	f.URL, f.Client = srv.URL, srv.Client()
	return f
}

func sharedKey() *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return key
}

func (f *Federated) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		f.DiscoveryHits.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": f.URL, "jwks_uri": f.URL + "/jwks"})
	case "/jwks":
		f.JWKSHits.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.redirect != "" {
			http.Redirect(w, r, f.redirect, http.StatusFound)
			return
		}
		if f.jwksCode != 0 {
			w.WriteHeader(f.jwksCode)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": jwks(f.keys)})
	case "/other-jwks": // where a redirect may point: the current keys
		f.OtherHits.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": jwks(f.keys)})
	default:
		http.NotFound(w, r)
	}
}

func jwks(keys map[string]*rsa.PrivateKey) []map[string]string {
	var out []map[string]string
	for kid, k := range keys {
		out = append(out, map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())})
	}
	return out
}

// NewKey creates the signing key kid, not yet published (the issuer's next key).
func (f *Federated) NewKey(tb testing.TB, kid string) {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending[kid] = k
}

// Publish puts the pending key kid into the key set.
func (f *Federated) Publish(kid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[kid] = f.pending[kid]
}

// FailJWKS makes the key set answer status (0: answer normally again).
func (f *Federated) FailJWKS(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jwksCode = status
}

// RedirectJWKS makes the key set answer a redirect to URL/other-jwks, which serves the keys
// ("" stops).
func (f *Federated) RedirectJWKS(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redirect = ""
	if on {
		f.redirect = f.URL + "/other-jwks"
	}
}

// Config returns the GCPCONN_TRUSTED_ISSUERS entry of this issuer as name, for audience,
// bound to repository_owner_id "1001".
func (f *Federated) Config(name, audience string) string {
	b, _ := json.Marshal([]map[string]any{{"name": name, "issuer": f.URL, "audiences": []string{audience},
		"bound_claims": map[string]string{"repository_owner_id": "1001"}, "max_token_age": "15m"}})
	return string(b)
}

// Claims returns the claims JSON of a job in acme/pipelines (owner id 1001) on main, issued
// at now for audience, with extra raw members appended (`,"IAT":123`); "" adds none.
func (f *Federated) Claims(audience string, now time.Time, extra string) string {
	b, _ := json.Marshal(map[string]any{
		"iss": f.URL, "aud": audience, "sub": "repo:acme/pipelines:ref:refs/heads/main",
		"repository": "acme/pipelines", "repository_owner": "acme", "repository_owner_id": "1001",
		"ref": "refs/heads/main", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	return string(b[:len(b)-1]) + extra + "}"
}

// Sign signs claims (raw JSON) with the key kid (published or pending) under the header
// {"alg":"RS256","kid":kid,"typ":"JWT"}.
func (f *Federated) Sign(tb testing.TB, kid, claims string) string {
	tb.Helper()
	return f.SignHeader(tb, kid, `{"alg":"RS256","kid":"`+kid+`","typ":"JWT"}`, claims)
}

// SignHeader signs claims with the key kid under header, both raw JSON.
func (f *Federated) SignHeader(tb testing.TB, kid, header, claims string) string {
	tb.Helper()
	f.mu.Lock()
	k := f.keys[kid]
	if k == nil {
		k = f.pending[kid]
	}
	f.mu.Unlock()
	if k == nil {
		tb.Fatalf("callerauthtest: no key %q", kid)
	}
	in := b64([]byte(header)) + "." + b64([]byte(claims))
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return in + "." + b64(sig)
}
