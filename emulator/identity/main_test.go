package identity_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/identity"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	adminSA   = "connectors-admin@zenml-core.iam.gserviceaccount.com"
	emptySA   = "empty-connectors@zenml-core.iam.gserviceaccount.com"
	bucketSA  = "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	runtimeSA = "gcpconn-runtime@zenml-core.iam.gserviceaccount.com"
	wifSA     = "wif-target@zenml-core.iam.gserviceaccount.com"
	poolAud   = "//iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/providers/ci-oidc"
)

// clock is a settable test clock for the fake's token expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fake is one identity service on a loopback listener, with the demo world.
type fake struct {
	URL    string
	World  *world.World
	Tokens *tokens.Registry
	Faults *faults.Faults
	Guard  *auth.Guard
	Svc    *identity.Service
	Clock  *clock
}

func newFake(t testing.TB) *fake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	w := world.Demo()
	reg := tokens.NewRegistry(c.Now)
	f := faults.New()
	g := &auth.Guard{World: w, Tokens: reg}
	base := "http://" + ln.Addr().String()
	svc := identity.New(identity.Config{BaseURL: base, World: w, Tokens: reg, Faults: f, Guard: g, Now: c.Now})
	mux := http.NewServeMux()
	mux.Handle("/", svc.Handler())
	mux.Handle("/admin/counts", f.Handler())
	mux.Handle("/admin/faults", f.Handler())
	mux.Handle("/admin/reset", f.Handler())
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { f.Close(); srv.Close() })
	return &fake{URL: base, World: w, Tokens: reg, Faults: f, Guard: g, Svc: svc, Clock: c}
}

// keyJSON returns a credential file with its token_uri pointed at the fake (tests only:
// gcpconn itself refuses non-Google token URIs and configures the endpoint).
func (f *fake) keyJSON(t *testing.T, email string) []byte {
	t.Helper()
	b, err := f.World.CredentialJSON(email)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["token_uri"] = f.URL + "/token"
	out, _ := json.Marshal(m)
	return out
}

// token issues an access token for an account directly.
func (f *fake) token(email string, scopes ...string) string {
	if len(scopes) == 0 {
		scopes = []string{identity.CloudPlatform}
	}
	return f.Tokens.Issue(tokens.Token{Member: f.World.MemberForEmail(email), Email: email, Scopes: scopes, Expiry: f.Clock.Now().Add(time.Hour)})
}

func (f *fake) postForm(t *testing.T, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(f.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body
}

// hostRewriter sends requests for Google hosts to the fake (for libraries whose
// endpoint is a constant, like downscope's STS URL).
type hostRewriter struct{ target *url.URL }

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = h.target.Scheme, h.target.Host
	r.Host = h.target.Host
	return http.DefaultTransport.RoundTrip(r)
}

func (f *fake) rewritingContext(t *testing.T) context.Context {
	u, _ := url.Parse(f.URL)
	return context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: hostRewriter{u}})
}

// signAssertion builds an RS256 JWT by hand, for assertions the libraries would refuse
// to make.
func signAssertion(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// verifyWithJWKS checks a JWT's RS256 signature against a JWKS URL and returns its claims.
func verifyWithJWKS(t *testing.T, jwksURL, token string) map[string]any {
	t.Helper()
	resp, err := http.Get(jwksURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts; want 3", len(parts))
	}
	var hdr struct{ Kid string }
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	_ = json.Unmarshal(hb, &hdr)
	for _, k := range set.Keys {
		if k.Kid != hdr.Kid {
			continue
		}
		nb, _ := base64.RawURLEncoding.DecodeString(k.N)
		eb, _ := base64.RawURLEncoding.DecodeString(k.E)
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			t.Fatalf("signature does not verify with the JWKS key %s: %v", k.Kid, err)
		}
		cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		if err := json.Unmarshal(cb, &claims); err != nil {
			t.Fatal(err)
		}
		return claims
	}
	t.Fatalf("no key %q in %s", hdr.Kid, jwksURL)
	return nil
}
