package callerauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// ciIssuer is a stand-in for a CI system's OIDC issuer (GitHub Actions' shapes): discovery at
// /.well-known/openid-configuration, an RSA and a P-256 key at /jwks.
type ciIssuer struct {
	url       string
	client    *http.Client
	ec        *ecdsa.PrivateKey
	rsa       *rsa.PrivateKey
	jwksHits  atomic.Int64
	discovery atomic.Int64
	issuerDoc atomic.Value // the "issuer" the discovery document names; "" means the URL
}

var (
	ecOnce sync.Once
	ecKey  *ecdsa.PrivateKey
)

func newCIIssuer(t *testing.T) *ciIssuer {
	t.Helper()
	c := newCIHandler(t)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	c.url, c.client = srv.URL, srv.Client()
	return c
}

// newCIIssuerInProcess serves the issuer at https://ci.test through a client that calls its
// handler directly: no sockets, so it can run inside a synctest bubble.
func newCIIssuerInProcess(t *testing.T) *ciIssuer {
	t.Helper()
	c := newCIHandler(t)
	c.url, c.client = "https://ci.test", &http.Client{Transport: handlerTransport{c}}
	return c
}

type handlerTransport struct{ h http.Handler }

func (h handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	return w.Result(), nil
}

func newCIHandler(t *testing.T) *ciIssuer {
	t.Helper()
	ecOnce.Do(func() {
		var err error
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	c := &ciIssuer{ec: ecKey}
	c.issuerDoc.Store("")
	c.rsa = testKeys(t)[2]
	return c
}

func (c *ciIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		c.discovery.Add(1)
		iss := c.issuerDoc.Load().(string)
		if iss == "" {
			iss = c.url
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": c.url + "/jwks"})
	case "/jwks":
		c.jwksHits.Add(1)
		x, y := ecPoint(c.ec)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []jwk{
			{Kty: "RSA", Kid: "rsa1", Alg: "RS256", Use: "sig", N: b64(c.rsa.N.Bytes()), E: b64(big.NewInt(int64(c.rsa.E)).Bytes())},
			{Kty: "EC", Kid: "ec1", Alg: "ES256", Use: "sig", Crv: "P-256", X: b64(x), Y: b64(y)},
		}})
	default:
		http.NotFound(w, r)
	}
}

func ecPoint(k *ecdsa.PrivateKey) (x, y []byte) {
	b, err := k.PublicKey.Bytes()
	if err != nil {
		panic(err)
	}
	return b[1:33], b[33:]
}

// signES256 signs claims with k (r||s, as JWS wants).
func signES256(t *testing.T, k *ecdsa.PrivateKey, hdr, cl map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(hdr)
	c, _ := json.Marshal(cl)
	in := b64(h) + "." + b64(c)
	d := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64(sig)
}

const ciAudience = "https://gcpconn.example"

// ghClaims are GitHub-Actions-shaped claims of a job in acme/pipelines on main.
func (c *ciIssuer) ghClaims() map[string]any {
	return map[string]any{
		"iss": c.url, "aud": ciAudience,
		"sub":        "repo:acme/pipelines:ref:refs/heads/main",
		"repository": "acme/pipelines", "repository_owner": "acme", "ref": "refs/heads/main",
		"workflow": "deploy", "environment": "prod",
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
}

func (c *ciIssuer) config(name string, extra func(*Issuer)) Issuer {
	is := Issuer{Name: name, URL: c.url, Audiences: []string{ciAudience},
		BoundClaims: map[string]string{"repository_owner": "acme", "ref": "refs/heads/*"}, MaxTokenAge: "15m"}
	if extra != nil {
		extra(&is)
	}
	return is
}

func federatedVerifier(t *testing.T, clock func() time.Time, issuers ...Issuer) *Verifier {
	t.Helper()
	v := New(Config{Audience: ciAudience, JWKSURL: newIssuer(t).srv.URL, Issuers: issuers, Now: clock,
		Client: &http.Client{Timeout: 10 * time.Second}})
	if v.err != nil {
		t.Fatalf("New: %v", v.err)
	}
	return v
}

func TestVerifyFederated(t *testing.T) {
	ci := newCIIssuer(t)
	other := newCIIssuer(t) // a second trusted issuer with the same keys
	rsaKey := testKeys(t)[2]
	rs := map[string]any{"alg": "RS256", "kid": "rsa1", "typ": "JWT"}
	es := map[string]any{"alg": "ES256", "kid": "ec1"}
	good := sign(t, rsaKey, rs, ci.ghClaims())
	parts := strings.Split(good, ".")
	// HS256 "signed" with the issuer's public key as the HMAC secret.
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hsHeader := b64([]byte(`{"alg":"HS256","kid":"rsa1"}`))
	mac := hmac.New(sha256.New, pubPEM)
	mac.Write([]byte(hsHeader + "." + parts[1]))
	hs256 := hsHeader + "." + parts[1] + "." + b64(mac.Sum(nil))
	google := ci.ghClaims()
	google["iss"], google["email"], google["email_verified"] = "https://accounts.google.com", "admin@example.com", true

	for _, tc := range []struct {
		name    string
		token   string
		want    string // the principal, or "" when refused
		wantMsg string
	}{
		{"RS256", good, "ci:repo:acme/pipelines:ref:refs/heads/main", ""},
		{"ES256", signES256(t, ci.ec, es, ci.ghClaims()), "ci:repo:acme/pipelines:ref:refs/heads/main", ""},
		{"audience list", sign(t, rsaKey, rs, with(ci.ghClaims(), "aud", []string{"x", ciAudience})), "ci:repo:acme/pipelines:ref:refs/heads/main", ""},
		{"bound glob on ref", sign(t, rsaKey, rs, with(ci.ghClaims(), "ref", "refs/heads/feature/x", "sub", "repo:acme/pipelines:ref:refs/heads/feature/x")), "ci:repo:acme/pipelines:ref:refs/heads/feature/x", ""},
		{"email claim is ignored", sign(t, rsaKey, rs, with(ci.ghClaims(), "email", "admin@example.com", "email_verified", true)), "ci:repo:acme/pipelines:ref:refs/heads/main", ""},
		{"subject that is an email", sign(t, rsaKey, rs, with(ci.ghClaims(), "sub", "admin@example.com")), "ci:admin@example.com", ""},
		{"the other issuer's own token", sign(t, rsaKey, rs, with(ci.ghClaims(), "iss", other.url)), "other:repo:acme/pipelines:ref:refs/heads/main", ""},
		{"expired", sign(t, rsaKey, rs, with(ci.ghClaims(), "exp", now.Add(-time.Minute).Unix())), "", "expired"},
		{"wrong audience", sign(t, rsaKey, rs, with(ci.ghClaims(), "aud", "https://other.example")), "", "audience"},
		{"wrong issuer", sign(t, rsaKey, rs, with(ci.ghClaims(), "iss", "https://token.actions.githubusercontent.com")), "", "not trusted"},
		{"unknown kid", sign(t, rsaKey, map[string]any{"alg": "RS256", "kid": "rotated-away"}, ci.ghClaims()), "", "unknown key"},
		{"no kid", sign(t, rsaKey, map[string]any{"alg": "RS256"}, ci.ghClaims()), "", "no key id"},
		{"signed by a key not in the JWKS", sign(t, testKeys(t)[0], rs, ci.ghClaims()), "", "signature is invalid"},
		{"ES256 header on the RSA key", signES256(t, ci.ec, map[string]any{"alg": "ES256", "kid": "rsa1"}, ci.ghClaims()), "", "does not match its key"},
		{"alg none", b64([]byte(`{"alg":"none","kid":"rsa1"}`)) + "." + parts[1] + ".", "", `algorithm "none"`},
		{"HS256 signed with the public key", hs256, "", `algorithm "HS256"`},
		{"crit header", sign(t, rsaKey, map[string]any{"alg": "RS256", "kid": "rsa1", "crit": []string{"exp"}}, ci.ghClaims()), "", "crit"},
		{"bound claim mismatch", sign(t, rsaKey, rs, with(ci.ghClaims(), "repository_owner", "evil")), "", `"repository_owner" = "evil" does not match`},
		{"bound claim missing", sign(t, rsaKey, rs, with(ci.ghClaims(), "ref", nil)), "", `no "ref" claim`},
		{"bound claim not a string", sign(t, rsaKey, rs, with(ci.ghClaims(), "repository_owner", []string{"acme"})), "", "not a string"},
		{"no iat", sign(t, rsaKey, rs, with(ci.ghClaims(), "iat", nil)), "", "iat"},
		{"older than max_token_age", sign(t, rsaKey, rs, with(ci.ghClaims(), "iat", now.Add(-20*time.Minute).Unix(), "exp", now.Add(time.Hour).Unix())), "", "max_token_age"},
		{"not yet valid", sign(t, rsaKey, rs, with(ci.ghClaims(), "nbf", now.Add(time.Hour).Unix())), "", "not valid yet"},
		{"no subject", sign(t, rsaKey, rs, with(ci.ghClaims(), "sub", nil)), "", `no "sub" claim`},
		{"subject with a space", sign(t, rsaKey, rs, with(ci.ghClaims(), "sub", "repo:acme x")), "", "whitespace"},
		{"duplicate claim", parts[0] + "." + b64([]byte(`{"sub":"a","sub":"b"}`)) + "." + parts[2], "", "appears twice"},
		{"too long", parts[0] + "." + strings.Repeat("A", maxTokenBytes) + "." + parts[2], "", "longer than"},
		// A trusted issuer's key never vouches for a Google caller.
		{"Google email spoofed by a trusted issuer", sign(t, rsaKey, rs, google), "", "unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := federatedVerifier(t, func() time.Time { return now }, ci.config("ci", nil),
				other.config("other", func(is *Issuer) { is.JWKSURL = other.url + "/jwks" }))
			p, err := v.Verify(context.Background(), tc.token)
			if tc.want != "" {
				if err != nil || p.String() != tc.want || p.Email != "" {
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
			if strings.Contains(err.Error(), parts[2]) {
				t.Errorf("error echoes the token's signature: %v", err)
			}
		})
	}
}

// TestOneIssuerNeverAnother: a token signed by one trusted issuer's key but naming another
// trusted issuer is refused (the other's keys are the only ones consulted), and a token of
// issuer A is never A's caller under B's name.
func TestOneIssuerNeverAnother(t *testing.T) {
	a, b := newCIIssuer(t), newCIIssuer(t)
	bKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b.ec = bKey // b publishes a different P-256 key under the same kid
	v := federatedVerifier(t, func() time.Time { return now }, a.config("a", nil), b.config("b", nil))
	es := map[string]any{"alg": "ES256", "kid": "ec1"}
	if p, err := v.Verify(context.Background(), signES256(t, a.ec, es, a.ghClaims())); err != nil || p.Issuer != "a" {
		t.Fatalf("Verify(a's token) = %+v, %v; want a caller of a", p, err)
	}
	forged := signES256(t, a.ec, es, with(a.ghClaims(), "iss", b.url))
	if p, err := v.Verify(context.Background(), forged); err == nil {
		t.Fatalf("Verify(a-signed token naming b) = %+v; want refused", p)
	}
}

func TestDiscovery(t *testing.T) {
	ci := newCIIssuer(t)
	tok := sign(t, testKeys(t)[2], map[string]any{"alg": "RS256", "kid": "rsa1"}, ci.ghClaims())
	v := federatedVerifier(t, func() time.Time { return now }, ci.config("ci", nil))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify via discovery = %v", err)
	}
	if ci.discovery.Load() != 1 || ci.jwksHits.Load() != 1 {
		t.Errorf("discovery, jwks fetches = %d, %d; want 1, 1", ci.discovery.Load(), ci.jwksHits.Load())
	}
	// A discovery document naming another issuer is not trusted.
	ci2 := newCIIssuer(t)
	ci2.issuerDoc.Store("https://evil.example")
	v = federatedVerifier(t, func() time.Time { return now }, ci2.config("ci", nil))
	_, err := v.Verify(context.Background(), sign(t, testKeys(t)[2], map[string]any{"alg": "RS256", "kid": "rsa1"}, ci2.ghClaims()))
	if connector.KindOf(err) != connector.ErrUpstreamUnavailable || ci2.jwksHits.Load() != 0 {
		t.Fatalf("Verify with a discovery document for another issuer = %v (jwks fetched %d times); want upstream_unavailable, no JWKS fetch", err, ci2.jwksHits.Load())
	}
}

// TestUnknownKidFloodFetchesOncePerInterval: a flood of tokens with made-up key ids makes at
// most one JWKS fetch per MinRefetch; after the interval one more fetch is allowed.
func TestUnknownKidFloodFetchesOncePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ci := newCIIssuerInProcess(t)
		v := New(Config{Audience: ciAudience, Issuers: []Issuer{ci.config("ci", nil)},
			MinRefetch: 10 * time.Second, Client: ci.client})
		key := testKeys(t)[2]
		claims := func() map[string]any {
			n := time.Now()
			return with(ci.ghClaims(), "iat", n.Unix(), "nbf", n.Unix(), "exp", n.Add(5*time.Minute).Unix())
		}
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				tok := sign(t, key, map[string]any{"alg": "RS256", "kid": "bogus-" + string(rune('a'+i%26))}, claims())
				// Those that joined the one fetch are refused; those after it, within
				// MinRefetch, are told to come back (the key may be new).
				if _, err := v.Verify(context.Background(), tok); connector.KindOf(err) != connector.ErrUnauthenticated && connector.KindOf(err) != connector.ErrUpstreamUnavailable {
					t.Errorf("Verify(bogus kid) = %v; want unauthenticated or upstream_unavailable", err)
				}
			})
		}
		wg.Wait()
		if n := ci.jwksHits.Load(); n != 1 {
			t.Fatalf("JWKS fetches after 50 unknown kids = %d; want 1", n)
		}
		time.Sleep(5 * time.Second) // fake time: still within MinRefetch
		if _, err := v.Verify(context.Background(), sign(t, key, map[string]any{"alg": "RS256", "kid": "bogus-z2"}, claims())); err == nil {
			t.Fatal("Verify(bogus kid) = nil")
		}
		if n := ci.jwksHits.Load(); n != 1 {
			t.Fatalf("JWKS fetches 5 s later = %d; want 1", n)
		}
		time.Sleep(6 * time.Second) // fake time: past MinRefetch
		if _, err := v.Verify(context.Background(), sign(t, key, map[string]any{"alg": "RS256", "kid": "bogus-z3"}, claims())); err == nil {
			t.Fatal("Verify(bogus kid) = nil")
		}
		if n := ci.jwksHits.Load(); n != 2 {
			t.Fatalf("JWKS fetches after MinRefetch = %d; want 2", n)
		}
		// The known key still verifies without another fetch.
		if _, err := v.Verify(context.Background(), sign(t, key, map[string]any{"alg": "RS256", "kid": "rsa1"}, claims())); err != nil {
			t.Fatalf("Verify(known kid) = %v", err)
		}
		if n := ci.jwksHits.Load(); n != 2 {
			t.Fatalf("JWKS fetches after a known kid = %d; want 2", n)
		}
	})
}

func TestParseIssuers(t *testing.T) {
	good := `[{"name":"github","issuer":"https://token.actions.githubusercontent.com","audiences":["https://gcpconn.example"],
		"bound_claims":{"repository_owner":"acme"},"max_token_age":"10m"},
		{"name":"k8s","issuer":"https://kubernetes.default.svc","jwks_url":"https://k8s.example/openid/v1/jwks","audiences":["gcpconn"],
		"subject_claim":"/kubernetes.io/serviceaccount/name","allow_unbound":true}]`
	list, err := ParseIssuers(good)
	if err != nil {
		t.Fatalf("ParseIssuers(good) = %v", err)
	}
	if len(list) != 2 || list[0].maxAge != 10*time.Minute || list[1].maxAge != DefaultMaxTokenAge || list[0].SubjectClaim != "sub" {
		t.Errorf("ParseIssuers(good) = %+v", list)
	}
	if list, err := ParseIssuers("  "); err != nil || list != nil {
		t.Errorf("ParseIssuers(blank) = %v, %v; want none", list, err)
	}
	one := func(fields string) string {
		return `[{"name":"ci","issuer":"https://ci.example","audiences":["a"],"bound_claims":{"repository_owner_id":"1"}` + fields + `}]`
	}
	for _, tc := range []struct{ in, want string }{
		{`{}`, "JSON array"},
		{`[{"name":"ci","name":"x"}]`, `"name" appears twice`},
		{one(`,"audience":"a"`), `unknown object member name "audience"`},
		{one(`,"Allow_Unbound":true`), `unknown object member name "Allow_Unbound"`}, // names are exact
		{one(`,"AUDIENCES":["b"]`), `differ only in case`},
		{`[{"name":"CI","issuer":"https://ci.example","audiences":["a"]}]`, `name "CI"`},
		{`[{"name":"google","issuer":"https://ci.example","audiences":["a"]}]`, `names Google's own callers`},
		{`[{"name":"ci","issuer":"http://ci.example","audiences":["a"]}]`, "want https"},
		{`[{"name":"ci","issuer":"https://ci.example?x=1","audiences":["a"]}]`, "query"},
		{`[{"name":"ci","issuer":"ci.example","audiences":["a"]}]`, "not an absolute URL"},
		{`[{"name":"ci","issuer":"https://accounts.google.com","audiences":["a"],"allow_unbound":true}]`, "issuer of Google ID tokens"},
		{`[{"name":"ci","issuer":"https://ci.example"}]`, "audiences"},
		{one(`,"jwks_url":"http://keys.example"`), "jwks_url"},
		{one(`,"max_token_age":"2d"`), "max_token_age"},
		{one(`,"max_token_age":"48h"`), "max_token_age"},
		{`[{"name":"ci","issuer":"https://ci.example","audiences":["a"],"bound_claims":{"ref":""}}]`, "bound_claims"},
		{`[{"name":"ci","issuer":"https://ci.example","audiences":["a"]}]`, `bound_claims: bind at least one claim`},
		{`[{"name":"ci","issuer":"https://ci.example","audiences":["a"],"bound_claims":{}}]`, `bound_claims: bind at least one claim`},
		{`[{"name":"ci","issuer":"https://ci.example","audiences":["a"],"bound_claims":{"ref":"**"}}]`, `bound_claims: bind at least one claim`},
		{`[{"name":"ci","issuer":"https://ci.example","audiences":["a"],"allow_unbound":"yes"}]`, `allow_unbound`},
		{one(``)[:len(one(``))-1] + `,` + one(``)[1:], `name is also the name of [0]`},
		{one(``)[:len(one(``))-1] + `,{"name":"ci2","issuer":"https://ci.example","audiences":["a"],"allow_unbound":true}]`, "one issuer's tokens would be taken as another's"},
	} {
		if _, err := ParseIssuers(tc.in, "http://127.0.0.1:9"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseIssuers(%s) = %v; want an error containing %q", tc.in, err, tc.want)
		}
	}
	if _, err := ParseIssuers(`[{"name":"ci","issuer":"https://ci.example","audiences":["a"],"allow_unbound":true}]`); err != nil {
		t.Errorf("ParseIssuers(unbound with allow_unbound) = %v", err)
	}
	if _, err := ParseIssuers(`[{"name":"ci","issuer":"http://127.0.0.1:9","audiences":["a"],"allow_unbound":true}]`, "http://127.0.0.1:9"); err == nil {
		t.Error("ParseIssuers accepted the configured Google issuer as a trusted issuer")
	}
	if _, err := ParseIssuers(`[{"name":"ci","issuer":"http://127.0.0.1:9/issuers/ci","audiences":["a"],"allow_unbound":true}]`, "http://127.0.0.1:9"); err != nil {
		t.Errorf("ParseIssuers(loopback http issuer) = %v", err)
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"acme", "acme", true}, {"acme", "acme2", false}, {"*", "", true}, {"*", "a/b", true},
		{"refs/heads/*", "refs/heads/feature/x", true}, {"refs/heads/*", "refs/tags/v1", false},
		{"repo:acme/*:ref:*", "repo:acme/x:ref:main", true}, {"repo:acme/*:ref:*", "repo:evil/x:ref:main", false},
		{"a*a", "a", false}, {"a*a", "aa", true}, {"*.prod", "x.prod", true}, {"*.prod", "x.prod.evil", false},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v; want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestGoogleEmailMustBeAnEmail(t *testing.T) {
	is := newIssuer(t)
	tok := sign(t, testKeys(t)[0], map[string]any{"alg": "RS256", "kid": "k1"}, with(goodClaims(), "email", "ci:repo:acme/pipelines:ref:refs/heads/main"))
	if p, err := is.verifier().Verify(context.Background(), tok); err == nil {
		t.Fatalf("Verify(Google token whose email is a federated principal) = %+v; want refused", p)
	}
}
