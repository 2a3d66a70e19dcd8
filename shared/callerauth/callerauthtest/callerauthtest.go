// Package callerauthtest is a stand-in ID token issuer for tests: an RSA key served as a JWKS
// on a loopback httptest server, and a Token method that signs whatever claims a test needs
// (expired, wrong audience, no email...). Tests that want Google's real shapes use the fake
// in emulator/fakegcp instead; this one exists for claims the fake would never issue.
package callerauthtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/callerauth"
)

// IssuerURL is the "iss" of the tokens an Issuer signs.
const IssuerURL = "https://issuer.test"

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

// Issuer signs ID tokens and serves its key set.
type Issuer struct {
	JWKSURL string
	srv     *httptest.Server
}

// New starts an Issuer; it stops when tb's test ends.
func New(tb testing.TB) *Issuer {
	tb.Helper()
	sharedKey()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "test-key", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	tb.Cleanup(srv.Close)
	return &Issuer{JWKSURL: srv.URL, srv: srv}
}

// Verifier returns a callerauth.Verifier that trusts i for audience, with clock now (nil
// means time.Now).
func (i *Issuer) Verifier(audience string, now func() time.Time) *callerauth.Verifier {
	return callerauth.New(callerauth.Config{Issuer: IssuerURL, Audience: audience, JWKSURL: i.JWKSURL, Client: i.srv.Client(), Now: now})
}

// Token signs an ID token for email and audience that expires at exp. Extra claims override
// the defaults (a nil value deletes the claim).
func (i *Issuer) Token(tb testing.TB, email, audience string, exp time.Time, extra map[string]any) string {
	tb.Helper()
	claims := map[string]any{
		"iss": IssuerURL, "aud": audience, "sub": "sub-" + email, "email": email, "email_verified": true,
		"iat": exp.Add(-time.Hour).Unix(), "exp": exp.Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "test-key", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	in := b64(h) + "." + b64(c)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return in + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
