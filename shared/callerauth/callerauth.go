// Package callerauth authenticates gcpconn's callers by their OIDC tokens: Google-signed ID
// tokens, and the tokens of the deployment's trusted issuers (CI systems, Kubernetes clusters).
//
// # Vocabulary
//
// An ID token is a JWT that an issuer signs for a caller: who issued it ("iss"), for whom
// ("aud": the audience gcpconn is deployed under), until when ("exp"), and who the caller is.
// Callers send it as "Authorization: Bearer TOKEN".
//
// A Google caller's token is signed by Google (locally, the fake issuer in emulator/) with
// RS256 and names the caller by its verified "email"; the caller is that email, lowercase.
//
// A federated caller's token is signed by a trusted issuer ([Issuer], configured in
// GCPCONN_TRUSTED_ISSUERS): a GitHub Actions job, a GitLab CI job, a Kubernetes pod with a
// projected service-account token. It is signed with RS256 or ES256, names the caller by its
// subject claim (default "sub") and must carry the issuer's bound claims; the caller is
// NAME:SUBJECT (see connector.Principal).
//
// The token's "iss" picks the issuer, exactly; the signature is then checked with that
// issuer's own keys only, so a token can never be taken as another issuer's, and the kind of
// caller follows from the issuer: a Google token is always an email, a trusted issuer's
// always NAME:SUBJECT.
//
// Each issuer's keys (a JWKS document, for trusted issuers found through their discovery
// document at the configured issuer URL unless jwks_url is set) are cached for KeyTTL, then
// refreshed in the background while still used, and trusted at most MaxStale after the last
// successful fetch. One fetch runs at a time, outside any lock, under its own bounded context
// (never a caller's), follows no redirects, and backs off after failures. An unknown key id
// waits for a fetch when one may start and is refused if the issuer does not publish it;
// within MinRefetch of the last fetch it is a 503 with Retry-After (the key may be new), so
// key rotation just works and a flood of made-up key ids cannot make gcpconn hammer the
// issuer. See keySet.
//
// Every rejection is a connector error of kind ErrUnauthenticated whose message is the
// generic RefusedMessage: an anonymous caller learns nothing of the configuration (issuer
// URLs, audiences, bound values). The reason is the error's cause, and it is logged (never
// the token) at most Config.RefusalLogsPerMinute times per issuer per minute. Keys that
// cannot be fetched are ErrUpstreamUnavailable (retrying may help). "none", HS256 (which would let a public key be
// used as an HMAC secret) and every algorithm other than RS256 (and ES256 for trusted
// issuers) are refused before any key is looked at.
package callerauth

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/principal"
)

// Google's issuer and key set.
const (
	GoogleIssuer  = "https://accounts.google.com"
	GoogleJWKSURL = "https://www.googleapis.com/oauth2/v3/certs"
)

// Defaults for Config's zero values.
const (
	DefaultSkew         = 30 * time.Second
	DefaultKeyTTL       = time.Hour
	DefaultMaxStale     = 6 * time.Hour
	DefaultMinRefetch   = 10 * time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultFetchTimeout = 10 * time.Second
)

// Config configures a Verifier.
type Config struct {
	// Issuer is the expected "iss" of Google ID tokens; "" means GoogleIssuer. For Google both
	// "https://accounts.google.com" and "accounts.google.com" are accepted.
	Issuer string
	// Audience is the expected "aud" of Google ID tokens; required (a Verifier without one
	// rejects every Google token).
	Audience string
	// JWKSURL is where Google's keys are fetched; "" means GoogleJWKSURL.
	JWKSURL string
	// Issuers are the trusted issuers of federated callers, as ParseIssuers returns them.
	Issuers []Issuer
	// Client fetches keys and discovery documents; nil means a client with a 10 s timeout.
	// The Verifier uses a copy that follows no redirects.
	Client *http.Client
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Skew is the clock skew tolerated on exp, iat and nbf; 0 means DefaultSkew.
	Skew time.Duration
	// KeyTTL is how long fetched keys are used before they are refreshed (in the background,
	// while they are still used); 0 means DefaultKeyTTL.
	KeyTTL time.Duration
	// MaxStale caps how long after a successful fetch keys are trusted while refreshes fail;
	// past it tokens are answered 503 until a fetch succeeds. 0 means DefaultMaxStale; it is
	// never less than KeyTTL.
	MaxStale time.Duration
	// MaxBackoff caps the wait after consecutive failed fetches (MinRefetch, doubled per
	// failure); 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// FetchTimeout bounds one fetch of a key set (with its discovery document), which runs
	// under its own context, not a caller's; 0 means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// MinRefetch is the least time between two fetches of one issuer's keys caused by
	// unknown key ids (or failures); 0 means DefaultMinRefetch.
	MinRefetch time.Duration
	// Log receives the reasons tokens are refused (never the tokens), sampled; nil means
	// they are not logged.
	Log *slog.Logger
	// RefusalLogsPerMinute bounds the refusals logged per issuer per minute; 0 means
	// DefaultRefusalLogsPerMinute.
	RefusalLogsPerMinute int
}

// Verifier verifies ID tokens. It is safe for concurrent use.
type Verifier struct {
	cfg           Config
	googleIssuers []string
	google        *keySet
	federated     map[string]*federated // by issuer URL
	err           error                 // a configuration error: every token is refused
	sample        cloudlog.Sampler      // of refusal logs

	// verified remembers tokens whose signature and claims checked out, until they expire,
	// so that a caller's repeated requests cost a map lookup instead of a signature check.
	vmu      sync.RWMutex
	verified map[string]verifiedToken
}

// federated is one trusted issuer and its keys.
type federated struct {
	is   Issuer
	keys *keySet
}

// verifiedToken is a cached verification: the caller and when the token stops being valid.
type verifiedToken struct {
	p   connector.Principal
	exp time.Time // exp claim + skew, or the end of the issuer's max token age
}

// maxVerified bounds the verified-token cache; when full it starts over.
const maxVerified = 10000

// New returns a Verifier for cfg. Issuers that do not pass ParseIssuers' checks make every
// token fail with ErrInternal (check them at startup with ParseIssuers).
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
	client := *cfg.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.Client = &client
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
	cfg.MaxStale = max(cmp.Or(cfg.MaxStale, DefaultMaxStale), cfg.KeyTTL)
	cfg.MaxBackoff = max(cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff), cfg.MinRefetch)
	cfg.FetchTimeout = cmp.Or(cfg.FetchTimeout, DefaultFetchTimeout)
	if cfg.RefusalLogsPerMinute <= 0 {
		cfg.RefusalLogsPerMinute = DefaultRefusalLogsPerMinute
	}
	v := &Verifier{cfg: cfg, googleIssuers: []string{cfg.Issuer}, federated: map[string]*federated{},
		sample: cloudlog.Sampler{PerMinute: cfg.RefusalLogsPerMinute}}
	if cfg.Issuer == GoogleIssuer {
		v.googleIssuers = append(v.googleIssuers, strings.TrimPrefix(GoogleIssuer, "https://"))
	}
	v.google = v.keySet("Google", func(context.Context) (string, error) { return cfg.JWKSURL, nil }, algRS256)
	if raw, err := json.Marshal(cfg.Issuers); err != nil || len(cfg.Issuers) == 0 {
		v.err = err
	} else if checked, err := ParseIssuers(string(raw), v.googleIssuers...); err != nil {
		v.err = fmt.Errorf("callerauth: trusted issuers: %w", err)
	} else {
		for _, is := range checked {
			f := &federated{is: is}
			get := func(ctx context.Context, u string, out any) error { return getJSON(ctx, cfg.Client, u, out) }
			f.keys = v.keySet("trusted issuer "+is.Name, func(ctx context.Context) (string, error) {
				return f.is.jwksURL(ctx, get)
			}, algRS256, algES256)
			v.federated[is.URL] = f
		}
	}
	return v
}

func (v *Verifier) keySet(name string, jwksURL func(context.Context) (string, error), algs ...string) *keySet {
	return &keySet{name: name, jwksURL: jwksURL, algs: algs, client: v.cfg.Client, now: v.cfg.Now,
		ttl: v.cfg.KeyTTL, maxStale: v.cfg.MaxStale, minRefetch: v.cfg.MinRefetch, maxBackoff: v.cfg.MaxBackoff,
		fetchTimeout: v.cfg.FetchTimeout}
}

// Issuers returns the names of the trusted issuers, in configuration order.
func (v *Verifier) Issuers() []string {
	var names []string
	for _, is := range v.cfg.Issuers {
		names = append(names, is.Name)
	}
	return names
}

// Authenticate returns the caller of r, from its "Authorization: Bearer" header.
func (v *Verifier) Authenticate(r *http.Request) (connector.Principal, error) {
	return v.AuthenticateContext(r.Context(), r)
}

// AuthenticateContext is Authenticate under ctx rather than the request's context (a server
// that puts a deadline or a trace on the request's context need not copy the request to pass
// it).
func (v *Verifier) AuthenticateContext(ctx context.Context, r *http.Request) (connector.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" {
		return connector.Principal{}, deny("missing Authorization header: send an ID token (Google's, or a trusted issuer's) as \"Authorization: Bearer TOKEN\"")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return connector.Principal{}, deny("Authorization header is not \"Bearer TOKEN\"")
	}
	return v.Verify(ctx, strings.TrimSpace(tok))
}

// Verify checks the ID token raw and returns its caller.
func (v *Verifier) Verify(ctx context.Context, raw string) (connector.Principal, error) {
	if v.err != nil {
		return connector.Principal{}, connector.Errorf(connector.ErrInternal, "%v", v.err)
	}
	if len(raw) > maxTokenBytes {
		return connector.Principal{}, v.refused(labelUntrusted, deny("token is longer than %d bytes", maxTokenBytes))
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
	p, until, label, err := v.verify(ctx, raw)
	if err != nil {
		return connector.Principal{}, v.refused(label, err)
	}
	v.vmu.Lock()
	if v.verified == nil || len(v.verified) >= maxVerified {
		v.verified = map[string]verifiedToken{}
	}
	v.verified[raw] = verifiedToken{p: p, exp: until}
	v.vmu.Unlock()
	return p, nil
}

// verify checks raw completely and returns its caller and until when the verdict holds, and
// the label of its issuer for the refusal log. The issuer the token names picks the keys
// and the rules; nothing else does.
func (v *Verifier) verify(ctx context.Context, raw string) (p connector.Principal, until time.Time, label string, err error) {
	t, err := parseJWS(raw)
	if err != nil {
		return p, until, labelUntrusted, err
	}
	iss, ok := stringClaim(t.claims, "iss")
	if !ok {
		return p, until, labelUntrusted, deny("token has no iss string")
	}
	if slices.Contains(v.googleIssuers, iss) {
		p, until, err = v.verifyGoogle(ctx, t)
		return p, until, labelGoogle, err
	}
	if f, ok := v.federated[iss]; ok {
		p, until, err = v.verifyFederated(ctx, f, t)
		return p, until, f.is.Name, err
	}
	return p, until, labelUntrusted, deny("token issuer %s is not trusted (want %q%s)", quoteClip(iss), v.cfg.Issuer, v.trustedList())
}

func (v *Verifier) trustedList() string {
	var b strings.Builder
	for _, is := range v.cfg.Issuers {
		fmt.Fprintf(&b, " or %q", is.URL)
	}
	return b.String()
}

// verifyGoogle checks a token whose iss is Google's: RS256 with Google's keys, the service's
// audience, the time claims, and a verified email that is an email address.
func (v *Verifier) verifyGoogle(ctx context.Context, t *jws) (connector.Principal, time.Time, error) {
	fail := func(err error) (connector.Principal, time.Time, error) {
		return connector.Principal{}, time.Time{}, err
	}
	if v.cfg.Audience == "" {
		return fail(deny("the service has no audience configured (GCPCONN_AUDIENCE), so no Google token can be accepted"))
	}
	if err := t.checkAlg(algRS256); err != nil {
		return fail(err)
	}
	k, err := v.google.key(ctx, t.header.Kid)
	if err != nil {
		return fail(err)
	}
	if err := t.verify(k); err != nil {
		return fail(err)
	}
	aud, err := audienceClaim(t.claims)
	if err != nil {
		return fail(deny("ID token claims are malformed: %v", err))
	}
	if !slices.Contains(aud, v.cfg.Audience) {
		return fail(deny("ID token audience %s does not match this service (want %q)", quoteClip(strings.Join(aud, ",")), v.cfg.Audience))
	}
	exp, _, err := timeClaims(t.claims, v.cfg.Now(), v.cfg.Skew, false)
	if err != nil {
		return fail(err)
	}
	mail, _ := stringClaim(t.claims, "email")
	if mail == "" {
		return fail(deny("ID token has no email claim: request it with the email scope (gcloud auth print-identity-token, or --include-email for service accounts)"))
	}
	if !verified(t.claims["email_verified"]) {
		return fail(deny("ID token email %s is not verified", quoteClip(mail)))
	}
	// An email never holds ':', so a Google caller can never pass for NAME:SUBJECT.
	email, err := principal.CheckPattern(mail, nil)
	if err != nil || strings.Contains(mail, ":") {
		return fail(deny("ID token email %s is not an email address", quoteClip(mail)))
	}
	return connector.Principal{Email: email}, exp.Add(v.cfg.Skew), nil
}

// verifyFederated checks a token whose iss is the trusted issuer f's: RS256 or ES256 with
// f's keys only, one of f's audiences, the time claims with iat required and at most
// MaxTokenAge old, the bound claims, and a subject.
func (v *Verifier) verifyFederated(ctx context.Context, f *federated, t *jws) (connector.Principal, time.Time, error) {
	fail := func(err error) (connector.Principal, time.Time, error) {
		return connector.Principal{}, time.Time{}, err
	}
	if err := t.checkAlg(algRS256, algES256); err != nil {
		return fail(err)
	}
	if t.header.Kid == "" {
		return fail(deny("token of %s has no key id (kid)", f.is.Name))
	}
	k, err := f.keys.key(ctx, t.header.Kid)
	if err != nil {
		return fail(err)
	}
	if err := t.verify(k); err != nil {
		return fail(err)
	}
	all := t.claims
	aud, err := audienceClaim(all)
	if err != nil {
		return fail(deny("token claims of %s are malformed: %v", f.is.Name, err))
	}
	if !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(f.is.Audiences, a) }) {
		return fail(deny("token audience %s is not one %s accepts for this service (want %q)", quoteClip(strings.Join(aud, ",")), f.is.Name, f.is.Audiences))
	}
	now := v.cfg.Now()
	exp, iat, err := timeClaims(all, now, v.cfg.Skew, true)
	if err != nil {
		return fail(err)
	}
	oldest := iat.Add(f.is.maxAge + v.cfg.Skew)
	if !now.Before(oldest) {
		return fail(deny("token of %s was issued at %s, more than max_token_age %s ago", f.is.Name, iat.UTC().Format(time.RFC3339), f.is.maxAge))
	}
	if err := f.is.checkBound(all); err != nil {
		return fail(err)
	}
	subject, err := f.is.subject(all)
	if err != nil {
		return fail(err)
	}
	return connector.Principal{Issuer: f.is.Name, Subject: subject}, minTime(exp.Add(v.cfg.Skew), oldest), nil
}

// subject returns the caller's subject claim: a non-empty string of at most
// principal.MaxLen bytes without whitespace or control characters.
func (is *Issuer) subject(claims map[string]any) (string, error) {
	v, ok := claim(claims, is.SubjectClaim)
	s, isString := v.(string)
	switch {
	case !ok:
		return "", deny("token of %s has no %s claim to name the caller", is.Name, quoteClip(is.SubjectClaim))
	case !isString || s == "":
		return "", deny("token of %s: subject claim %s is not a non-empty string", is.Name, quoteClip(is.SubjectClaim))
	case len(s) > principal.MaxLen:
		return "", deny("token of %s: subject is longer than %d bytes", is.Name, principal.MaxLen)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", deny("token of %s: subject has whitespace or control characters", is.Name)
	}
	return s, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// verified reads email_verified: true, or the string "true" (some Google tokens).
func verified(v any) bool {
	return v == true || v == "true"
}

func deny(format string, args ...any) error {
	return connector.Errorf(connector.ErrUnauthenticated, "callerauth: "+format, args...)
}
