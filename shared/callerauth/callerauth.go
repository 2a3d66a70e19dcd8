// Package callerauth authenticates gcpconn's callers by their Google-signed ID tokens.
//
// # Vocabulary
//
// An ID token is a JWT (RS256) that Google signs for a caller, naming the caller (claim
// "email", with "email_verified"), who issued it ("iss": Google's issuer, or locally the fake
// issuer in emulator/) and for whom ("aud": the audience gcpconn is deployed under). Callers send
// it as "Authorization: Bearer TOKEN".
//
// A Verifier checks the signature with the issuer's public keys (a JWKS document fetched from
// JWKSURL and cached; an unknown key id triggers a rate-limited refetch, so key rotation just
// works), then the issuer, the audience, the time claims (exp, iat, nbf, with a small clock
// skew) and the email, and returns the caller as a [connector.Principal]. Every rejection is a
// connector error of kind ErrUnauthenticated whose message is safe to show the caller; a JWKS
// that cannot be fetched is ErrUpstreamUnavailable (retrying may help).
//
// Only RS256 is accepted: "none", HS256 (which would let a public key be used as an HMAC
// secret) and every other algorithm are refused before any key is looked at.
package callerauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Google's issuer and key set.
const (
	GoogleIssuer  = "https://accounts.google.com"
	GoogleJWKSURL = "https://www.googleapis.com/oauth2/v3/certs"
)

// Defaults for Config's zero values.
const (
	DefaultSkew       = 30 * time.Second
	DefaultKeyTTL     = time.Hour
	DefaultMinRefetch = 10 * time.Second
	maxTokenBytes     = 16 << 10
	maxJWKSBytes      = 1 << 20
)

// Config configures a Verifier.
type Config struct {
	// Issuer is the expected "iss"; "" means GoogleIssuer. For Google both
	// "https://accounts.google.com" and "accounts.google.com" are accepted.
	Issuer string
	// Audience is the expected "aud"; required (a Verifier without one rejects every token).
	Audience string
	// JWKSURL is where the issuer's keys are fetched; "" means GoogleJWKSURL.
	JWKSURL string
	// Client fetches the JWKS; nil means a client with a 10 s timeout.
	Client *http.Client
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Skew is the clock skew tolerated on exp, iat and nbf; 0 means DefaultSkew.
	Skew time.Duration
	// KeyTTL is how long fetched keys are trusted before a refetch; 0 means DefaultKeyTTL.
	KeyTTL time.Duration
	// MinRefetch is the least time between two fetches caused by unknown key ids; 0 means
	// DefaultMinRefetch.
	MinRefetch time.Duration
}

// Verifier verifies ID tokens. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	issuers []string

	mu        sync.Mutex // guards keys, fetchedAt; held during a fetch so fetches don't pile up
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time

	// verified remembers tokens whose signature and claims checked out, until they expire,
	// so that a caller's repeated requests cost a map lookup instead of an RSA verification.
	vmu      sync.RWMutex
	verified map[string]verifiedToken
}

// verifiedToken is a cached verification: the caller and when the token stops being valid.
type verifiedToken struct {
	p   connector.Principal
	exp time.Time // exp claim + skew
}

// maxVerified bounds the verified-token cache; when full it starts over.
const maxVerified = 10000

// New returns a Verifier for cfg.
func New(cfg Config) *Verifier {
	if cfg.Issuer == "" {
		cfg.Issuer = GoogleIssuer
	}
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = GoogleJWKSURL
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.KeyTTL == 0 {
		cfg.KeyTTL = DefaultKeyTTL
	}
	if cfg.MinRefetch == 0 {
		cfg.MinRefetch = DefaultMinRefetch
	}
	issuers := []string{cfg.Issuer}
	if trimmed := strings.TrimPrefix(cfg.Issuer, "https://"); cfg.Issuer == GoogleIssuer {
		issuers = append(issuers, trimmed)
	}
	return &Verifier{cfg: cfg, issuers: issuers}
}

// Authenticate returns the caller of r, from its "Authorization: Bearer" header.
func (v *Verifier) Authenticate(r *http.Request) (connector.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" {
		return connector.Principal{}, deny("missing Authorization header: send a Google-signed ID token as \"Authorization: Bearer TOKEN\"")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return connector.Principal{}, deny("Authorization header is not \"Bearer TOKEN\"")
	}
	return v.Verify(r.Context(), strings.TrimSpace(tok))
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

type claims struct {
	Iss           string          `json:"iss"`
	Aud           audience        `json:"aud"`
	Exp           *json.Number    `json:"exp"`
	Iat           *json.Number    `json:"iat"`
	Nbf           *json.Number    `json:"nbf"`
	Email         string          `json:"email"`
	EmailVerified json.RawMessage `json:"email_verified"`
}

// audience is "aud": a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errors.New("aud is neither a string nor a list of strings")
	}
	*a = ss
	return nil
}

// Verify checks the ID token raw and returns its caller.
func (v *Verifier) Verify(ctx context.Context, raw string) (connector.Principal, error) {
	if v.cfg.Audience == "" {
		return connector.Principal{}, deny("the service has no audience configured (GCPCONN_AUDIENCE), so no token can be accepted")
	}
	if len(raw) > maxTokenBytes {
		return connector.Principal{}, deny("ID token is too long")
	}
	v.vmu.RLock()
	hit, ok := v.verified[raw]
	v.vmu.RUnlock()
	if ok {
		if v.cfg.Now().Before(hit.exp) {
			return hit.p, nil
		}
		v.vmu.Lock()
		delete(v.verified, raw)
		v.vmu.Unlock()
	}
	p, exp, err := v.verify(ctx, raw)
	if err != nil {
		return connector.Principal{}, err
	}
	v.vmu.Lock()
	if v.verified == nil || len(v.verified) >= maxVerified {
		v.verified = map[string]verifiedToken{}
	}
	v.verified[raw] = verifiedToken{p: p, exp: exp.Add(v.cfg.Skew)}
	v.vmu.Unlock()
	return p, nil
}

// verify checks raw completely and returns its caller and expiry.
func (v *Verifier) verify(ctx context.Context, raw string) (connector.Principal, time.Time, error) {
	fail := func(err error) (connector.Principal, time.Time, error) {
		return connector.Principal{}, time.Time{}, err
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return fail(deny("ID token is not a JWT"))
	}
	var h header
	if err := decodeSegment(parts[0], &h); err != nil {
		return fail(deny("ID token header is malformed"))
	}
	if h.Alg != "RS256" {
		return fail(deny("ID token algorithm %q is not accepted (want RS256)", h.Alg))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) == 0 {
		return fail(deny("ID token signature is malformed"))
	}
	key, err := v.key(ctx, h.Kid)
	if err != nil {
		return fail(err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return fail(deny("ID token signature is invalid"))
	}

	var c claims
	if err := decodeSegment(parts[1], &c); err != nil {
		return fail(deny("ID token claims are malformed"))
	}
	if !slices.Contains(v.issuers, c.Iss) {
		return fail(deny("ID token issuer %q is not trusted (want %q)", c.Iss, v.cfg.Issuer))
	}
	if !slices.Contains(c.Aud, v.cfg.Audience) {
		return fail(deny("ID token audience %q does not match this service (want %q)", strings.Join(c.Aud, ","), v.cfg.Audience))
	}
	now := v.cfg.Now()
	exp, ok := unix(c.Exp)
	if !ok {
		return fail(deny("ID token has no valid exp claim"))
	}
	if !now.Before(exp.Add(v.cfg.Skew)) {
		return fail(deny("ID token expired at %s", exp.UTC().Format(time.RFC3339)))
	}
	if iat, ok := unix(c.Iat); c.Iat != nil && (!ok || iat.After(now.Add(v.cfg.Skew))) {
		return fail(deny("ID token is issued in the future"))
	}
	if nbf, ok := unix(c.Nbf); c.Nbf != nil && (!ok || nbf.After(now.Add(v.cfg.Skew))) {
		return fail(deny("ID token is not valid yet"))
	}
	if c.Email == "" {
		return fail(deny("ID token has no email claim: request it with the email scope (gcloud auth print-identity-token, or --include-email for service accounts)"))
	}
	if !verified(c.EmailVerified) {
		return fail(deny("ID token email %q is not verified", c.Email))
	}
	return connector.Principal{Email: strings.ToLower(c.Email)}, exp, nil
}

func verified(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == "true"
}

func unix(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}

func deny(format string, args ...any) error {
	return connector.Errorf(connector.ErrUnauthenticated, "callerauth: "+format, args...)
}

// key returns the public key kid, fetching the JWKS when the cache is empty or stale, or
// when kid is unknown and the last fetch is older than MinRefetch.
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.cfg.Now()
	age := now.Sub(v.fetchedAt)
	if k, ok := v.keys[kid]; ok && age < v.cfg.KeyTTL {
		return k, nil
	}
	if v.keys == nil || age >= v.cfg.KeyTTL || age >= v.cfg.MinRefetch || age < 0 {
		keys, err := v.fetch(ctx)
		if err != nil {
			if k, ok := v.keys[kid]; ok {
				return k, nil // keep using a known key while the issuer is unreachable
			}
			return nil, err
		}
		v.keys, v.fetchedAt = keys, now
	}
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	return nil, deny("ID token is signed with an unknown key %q", kid)
}

type jwks struct {
	Keys []struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
		N   string `json:"n"`
		E   string `json:"e"`
	} `json:"keys"`
}

func (v *Verifier) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	unavailable := func(err error) error {
		return &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "callerauth: the ID token issuer's keys cannot be fetched; try again later",
			RetryAfter: 5 * time.Second, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, unavailable(fmt.Errorf("callerauth: build JWKS request: %w", err))
	}
	resp, err := v.cfg.Client.Do(req)
	if err != nil {
		return nil, unavailable(fmt.Errorf("callerauth: fetch JWKS: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, unavailable(fmt.Errorf("callerauth: read JWKS: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, unavailable(fmt.Errorf("callerauth: fetch JWKS %s: status %d", v.cfg.JWKSURL, resp.StatusCode))
	}
	var set jwks
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, unavailable(fmt.Errorf("callerauth: parse JWKS: %w", err))
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Alg != "" && k.Alg != "RS256") || (k.Use != "" && k.Use != "sig") {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
			continue // malformed, or a modulus under 2048 bits
		}
		eInt := int(new(big.Int).SetBytes(e).Int64())
		if eInt < 3 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: eInt}
	}
	if len(keys) == 0 {
		return nil, unavailable(fmt.Errorf("callerauth: JWKS at %s holds no usable RS256 key", v.cfg.JWKSURL))
	}
	return keys, nil
}
