package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/callerauth"
	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
	"github.com/gcpconn/gcpconn/shared/callergate"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// loopEnv is the API of newEnv whose verifier also trusts a loopback federated issuer "ci"
// (discovery + JWKS on 127.0.0.1, callerauthtest.Federated), on a clock the test moves.
type loopEnv struct {
	*env
	ci *callerauthtest.Federated

	mu  sync.Mutex
	now time.Time
}

func (l *loopEnv) clock() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now
}

func (l *loopEnv) advance(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = l.now.Add(d)
}

// newLoopEnv builds a loopEnv with cfg's verifier settings (Issuer, Audience, JWKSURL,
// Issuers, Client and Now are filled in) and a connector "shared" that ci:repo:acme/* may use.
func newLoopEnv(t *testing.T, cfg callerauth.Config) *loopEnv {
	t.Helper()
	l := &loopEnv{env: newEnv(t), ci: callerauthtest.NewFederated(t), now: time.Now().UTC().Truncate(time.Second)}
	issuers, err := callerauth.ParseIssuers(l.ci.Config("ci", audience))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer, cfg.Audience, cfg.JWKSURL = callerauthtest.IssuerURL, audience, l.iss.JWKSURL
	cfg.Issuers, cfg.Client, cfg.Now = issuers, l.ci.Client, l.clock
	l.api.Auth = callerauth.New(cfg)
	l.svc.Policy.Issuers = []string{"ci"}
	l.register("shared", map[string]any{"users": []string{"ci:repo:acme/*"}})
	return l
}

func (l *loopEnv) mint(tok string) response {
	l.t.Helper()
	return l.do("POST", "/mint-token", tok, map[string]any{"connector": "shared", "resource_type": "gcp-generic"})
}

// TestFederatedClaimsParsedExactly: over HTTP, with the loopback issuer signing every token
// (so only the parsing can refuse it), claims and header parameters are read exactly: a
// stale iat is not rescued by "IAT", an expired exp not by "EXP", duplicate and case-folded
// duplicate keys in the claims or the header are refused, NumericDate claims must be JSON
// numbers, nesting is bounded, and a header that carries a key is refused. Every refusal is
// a 401.
func TestFederatedClaimsParsedExactly(t *testing.T) {
	l := newLoopEnv(t, callerauth.Config{})
	now := l.clock()
	claims := func(extra string) string { return l.ci.Claims(audience, now, extra) }
	stale := strings.Replace(claims(""), `"iat":`+itoa(now.Unix()), `"iat":`+itoa(now.Add(-20*time.Minute).Unix()), 1)
	expired := strings.Replace(claims(""), `"exp":`+itoa(now.Add(5*time.Minute).Unix()), `"exp":`+itoa(now.Add(-time.Minute).Unix()), 1)
	deep := `,"x":` + strings.Repeat(`[`, 20) + strings.Repeat(`]`, 20)
	for _, tc := range []struct {
		name, header, claims string
		want                 int
	}{
		{"valid", "", claims(""), 200},
		{"stale iat next to a fresh IAT", "", strings.TrimSuffix(stale, "}") + `,"IAT":` + itoa(now.Unix()) + "}", 401},
		{"expired exp next to a future EXP", "", strings.TrimSuffix(expired, "}") + `,"EXP":` + itoa(now.Add(time.Hour).Unix()) + "}", 401},
		{"duplicate exp", "", claims(`,"exp":` + itoa(now.Add(time.Hour).Unix())), 401},
		{"duplicate sub", "", claims(`,"sub":"repo:acme/other:ref:refs/heads/main"`), 401},
		{"case-folded duplicate sub", "", claims(`,"Sub":"repo:acme/other:ref:refs/heads/main"`), 401},
		{"duplicate alg in the header", `{"alg":"RS256","kid":"k1","alg":"RS256"}`, claims(""), 401},
		{"ALG next to alg in the header", `{"alg":"RS256","kid":"k1","ALG":"none"}`, claims(""), 401},
		{"exp as a string", "", strings.Replace(claims(""), `"exp":`+itoa(now.Add(5*time.Minute).Unix()), `"exp":"`+itoa(now.Add(5*time.Minute).Unix())+`"`, 1), 401},
		{"iat as a string", "", strings.Replace(claims(""), `"iat":`+itoa(now.Unix()), `"iat":"`+itoa(now.Unix())+`"`, 1), 401},
		{"nbf as a string", "", strings.Replace(claims(""), `"nbf":`+itoa(now.Unix()), `"nbf":"0"`, 1), 401},
		{"nested too deep", "", claims(deep), 401},
		{"jku in the header", `{"alg":"RS256","kid":"k1","jku":"https://evil.example/jwks"}`, claims(""), 401},
		{"invalid UTF-8", "", claims(`,"x":"` + "\xff" + `"`), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			h := tc.header
			if h == "" {
				h = `{"alg":"RS256","kid":"k1","typ":"JWT"}`
			}
			r := l.mint(l.ci.SignHeader(t, "k1", h, tc.claims))
			if r.status != tc.want {
				t.Fatalf("mint = %d %s; want %d", r.status, r.raw, tc.want)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRefusalsAreGenericAndLoggedSampled: over HTTP, a refused token's 401 names none of the
// configuration (issuer URLs, audiences, bound values) whatever was wrong with it; the reason
// is logged without the token, at most RefusalLogsPerMinute lines per issuer per minute,
// and the first line of the next minute counts the lines left out.
func TestRefusalsAreGenericAndLoggedSampled(t *testing.T) {
	logs := &syncBuffer{}
	l := newLoopEnv(t, callerauth.Config{Log: cloudlog.New(logs, nil), RefusalLogsPerMinute: 3})
	now := l.clock()
	wrongOwner := strings.Replace(l.ci.Claims(audience, now, ""), `"repository_owner_id":"1001"`, `"repository_owner_id":"666"`, 1)
	other := callerauthtest.NewFederated(t) // an issuer nobody trusts, with the same key
	tokens := map[string]string{
		"bound claim not met":   l.ci.Sign(t, "k1", wrongOwner),
		"wrong audience":        l.ci.Sign(t, "k1", strings.Replace(l.ci.Claims(audience, now, ""), audience, "https://elsewhere.test", 1)),
		"untrusted issuer":      other.Sign(t, "k1", other.Claims(audience, now, "")),
		"Google wrong audience": l.iss.Token(t, user, "https://elsewhere.test", now.Add(time.Hour), nil),
	}
	for name, tok := range tokens {
		r := l.mint(tok)
		msg, _ := r.body["error"].(map[string]any)["message"].(string)
		if r.status != http.StatusUnauthorized || msg != callerauth.RefusedMessage {
			t.Errorf("%s: mint = %d %s; want 401 with the generic message", name, r.status, r.raw)
		}
		for _, secret := range []string{l.ci.URL, other.URL, audience, "1001", callerauthtest.IssuerURL} {
			if strings.Contains(r.raw, secret) {
				t.Errorf("%s: the 401 names %q: %s", name, secret, r.raw)
			}
		}
		if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), strings.Split(tok, ".")[2]) {
			t.Errorf("%s: the token is in the logs", name)
		}
	}
	if lg := logs.String(); !strings.Contains(lg, `does not match the bound value`) {
		t.Errorf("the bound claim refusal is not logged: %s", lg)
	}
	if lg := logs.String(); !strings.Contains(lg, `"issuer":"untrusted"`) || !strings.Contains(lg, `"issuer":"google"`) {
		t.Errorf("refusals are not logged by issuer: %s", lg)
	}

	// Sampling: ci has had 2 refusals this minute; 5 more make 7, of which 3 are logged.
	for range 5 {
		l.mint(tokens["bound claim not met"])
	}
	ciLines := func() int { return strings.Count(logs.String(), `"issuer":"ci"`) }
	if n := ciLines(); n != 3 {
		t.Errorf("ci refusals logged in one minute = %d; want 3", n)
	}
	l.advance(time.Minute)
	l.mint(l.ci.Sign(t, "k1", strings.Replace(l.ci.Claims(audience, l.clock(), ""), `"repository_owner_id":"1001"`, `"repository_owner_id":"666"`, 1)))
	if n := ciLines(); n != 4 || !strings.Contains(logs.String(), `"suppressed":4`) {
		t.Errorf("after a minute: ci lines = %d, log %s; want a 4th line counting 4 suppressed", n, logs.String())
	}
}

// TestIssuerKeyRotationOverHTTP: with the loopback issuer and an injected clock, a token
// signed with a key the issuer has just published, within the refetch limit of the last
// fetch, is a 503 with Retry-After (the caller retries), not a 401; after the limit the key
// is fetched and the token accepted. A key set answered with a redirect is not followed:
// 503, and the redirect's target is never asked.
func TestIssuerKeyRotationOverHTTP(t *testing.T) {
	l := newLoopEnv(t, callerauth.Config{})
	claims := func() string { return l.ci.Claims(audience, l.clock(), "") }
	l.expect(l.mint(l.ci.Sign(t, "k1", claims())), http.StatusOK, "")
	if n := l.ci.JWKSHits.Load(); n != 1 {
		t.Fatalf("JWKS fetches = %d; want 1", n)
	}
	l.ci.NewKey(t, "k2")
	l.ci.Publish("k2")
	l.advance(3 * time.Second)
	r := l.mint(l.ci.Sign(t, "k2", claims()))
	l.expect(r, http.StatusServiceUnavailable, "upstream_unavailable")
	if got := r.header.Get("Retry-After"); got != "7" {
		t.Errorf("Retry-After = %q; want 7 (the refetch limit of 10 s, 3 s after the last fetch)", got)
	}
	if strings.Contains(r.raw, l.ci.URL) {
		t.Errorf("the 503 names the issuer: %s", r.raw)
	}
	l.advance(7 * time.Second)
	l.expect(l.mint(l.ci.Sign(t, "k2", claims())), http.StatusOK, "")
	if n := l.ci.JWKSHits.Load(); n != 2 {
		t.Errorf("JWKS fetches = %d; want 2", n)
	}

	l.ci.RedirectJWKS(true)
	l.ci.NewKey(t, "k3")
	l.ci.Publish("k3")
	l.advance(10 * time.Second)
	l.expect(l.mint(l.ci.Sign(t, "k3", claims())), http.StatusServiceUnavailable, "upstream_unavailable")
	if n := l.ci.OtherHits.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
	// The keys already known still work while the key set is unavailable.
	l.expect(l.mint(l.ci.Sign(t, "k2", claims())), http.StatusOK, "")
}

// TestGateBeforeAnyStoreRead: with an allowlist and a rate limit (what a deployment with the
// invoker check off for federated callers runs), a Google caller outside the list is a 403
// before the service is even asked for (so no store is read), a federated caller passes the
// list, and register and mint-token are limited per principal (429 with Retry-After; list
// is not), on the injected clock.
func TestGateBeforeAnyStoreRead(t *testing.T) {
	l := newLoopEnv(t, callerauth.Config{})
	allowed, err := callergate.ParseAllowed("domain:example.com")
	if err != nil {
		t.Fatal(err)
	}
	l.api.Gate = callergate.New(callergate.Config{Allowed: allowed, PerMinute: 2, Limited: []string{"register", "mint-token"}, Now: l.clock})
	var serviceCalls atomic.Int64
	svc := l.api.Service
	l.api.Service = func(ctx context.Context) (*connector.Service, error) { serviceCalls.Add(1); return svc(ctx) }

	r := l.mint(l.iss.Token(t, "mallory@evil.test", audience, time.Now().Add(time.Hour), nil))
	l.expect(r, http.StatusForbidden, "permission_denied")
	if n := serviceCalls.Load(); n != 0 {
		t.Errorf("the service was asked for %d times for a refused caller; want 0", n)
	}
	fed := func() string { return l.ci.Sign(t, "k1", l.ci.Claims(audience, l.clock(), "")) }
	l.expect(l.mint(fed()), http.StatusOK, "")
	l.expect(l.mint(fed()), http.StatusOK, "")
	r = l.mint(fed())
	l.expect(r, http.StatusTooManyRequests, "rate_limited")
	if got := r.header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q; want 30", got)
	}
	l.expect(l.do("GET", "/list", fed(), nil), http.StatusOK, "")
	l.expect(l.mint(l.token(owner)), http.StatusOK, "") // another principal
	l.advance(30 * time.Second)
	l.expect(l.mint(fed()), http.StatusOK, "")
	for range 2 {
		l.do("POST", "/register", l.token(owner), l.regBody("r", nil))
	}
	l.expect(l.do("POST", "/register", l.token(owner), l.regBody("r", nil)), http.StatusTooManyRequests, "rate_limited")
}
