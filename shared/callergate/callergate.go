// Package callergate is gcpconn's own gate for callers, after authentication and before
// anything else (no store read): an allowlist of Google callers and a per-principal rate
// limit. It matters when Cloud Run's invoker check is off for federated callers: then any
// Google account in the world can present a valid Google ID token, and the application is
// the only gate.
//
// # Allowlist (GCPCONN_ALLOWED_CALLERS)
//
// Comma-separated entries: an email ("ci@acme.iam.gserviceaccount.com"), compared
// case-insensitively, or "domain:acme.com", every email whose domain is exactly acme.com (not
// its subdomains). When the list is set, a Google caller that is neither in it nor one of
// the deployment's admins is refused (permission_denied). Federated callers are not subject
// to it: their issuers and bound claims already say who they may be.
//
// # Rate limit (GCPCONN_RATE_LIMIT)
//
// Requests per minute per principal on the limited functions (register and mint-token), as
// a token bucket that holds a minute's worth: a principal may burst that many, then one
// every 60/N seconds. A refusal carries how long to wait. Buckets are per process and idle
// ones are forgotten, so memory stays bounded by the callers of the last minutes.
package callergate

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/principal"
)

// Gate admits callers; the zero Gate admits everyone. It is safe for concurrent use.
type Gate struct {
	allowed  []string // lowercase emails and "domain:" entries; nil: no allowlist
	isAdmin  func(connector.Principal) bool
	limited  map[string]bool // functions under the rate limit
	perMin   int             // 0: no rate limit
	now      func() time.Time
	mu       sync.Mutex
	buckets  map[bucketKey]*bucket
	lastTrim time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// Config configures a Gate.
type Config struct {
	Allowed   []string                       // as ParseAllowed returns them; nil: no allowlist
	IsAdmin   func(connector.Principal) bool // admins always pass the allowlist; nil: none
	PerMinute int                            // the rate limit; 0: none
	Limited   []string                       // the functions it applies to
	Now       func() time.Time               // nil: time.Now
}

// New returns a Gate for cfg.
func New(cfg Config) *Gate {
	g := &Gate{allowed: cfg.Allowed, isAdmin: cfg.IsAdmin, perMin: cfg.PerMinute, now: cfg.Now,
		limited: map[string]bool{}, buckets: map[bucketKey]*bucket{}}
	for _, f := range cfg.Limited {
		g.limited[f] = true
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g
}

// RateLimited is the error of a caller over the rate limit.
type RateLimited struct {
	Principal string
	Wait      time.Duration // until the next request is allowed
}

// RateLimitWait is how long to wait (the HTTP layer's Retry-After).
func (e *RateLimited) RateLimitWait() time.Duration { return e.Wait }

func (e *RateLimited) Error() string {
	return fmt.Sprintf("%s is over this deployment's rate limit for this function; retry in %s", e.Principal, e.Wait.Round(time.Second))
}

// Admit returns nil when p may call the function fn now, a connector ErrPermission error for
// a Google caller outside the allowlist, or a *RateLimited.
func (g *Gate) Admit(fn string, p connector.Principal) error {
	if g == nil {
		return nil
	}
	if !p.Federated() && g.allowed != nil && !g.allows(p.Email) && (g.isAdmin == nil || !g.isAdmin(p)) {
		return connector.Errorf(connector.ErrPermission, "%s may not call this deployment of gcpconn: it is not among its allowed callers (GCPCONN_ALLOWED_CALLERS)", p)
	}
	if g.perMin > 0 && g.limited[fn] {
		if wait := g.take(bucketKey{fn, p.String()}); wait > 0 {
			return &RateLimited{Principal: p.String(), Wait: wait}
		}
	}
	return nil
}

func (g *Gate) allows(email string) bool {
	email = strings.ToLower(email)
	_, domain, _ := strings.Cut(email, "@")
	for _, a := range g.allowed {
		if a == email || a == "domain:"+domain {
			return true
		}
	}
	return false
}

// bucketKey names a caller's bucket for one function (a struct, not a joined string: looking
// it up allocates nothing).
type bucketKey struct{ fn, principal string }

// take takes one token from key's bucket, or returns how long until one is there.
func (g *Gate) take(key bucketKey) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	capacity := float64(g.perMin)
	rate := capacity / float64(time.Minute) // tokens per nanosecond
	g.trim(now)
	b := g.buckets[key]
	if b == nil {
		b = &bucket{tokens: capacity, at: now}
		g.buckets[key] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(capacity, b.tokens+float64(d)*rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / rate)
}

// trim forgets, at most once a minute, the buckets idle long enough to be full again.
func (g *Gate) trim(now time.Time) {
	if now.Sub(g.lastTrim) < time.Minute {
		return
	}
	g.lastTrim = now
	for k, b := range g.buckets {
		if now.Sub(b.at) >= time.Minute {
			delete(g.buckets, k)
		}
	}
}

// ParseAllowed reads GCPCONN_ALLOWED_CALLERS: comma-separated emails and domain:DOMAIN
// entries; "" means no allowlist (nil). The error names the entry and what is accepted.
func ParseAllowed(raw string) ([]string, error) {
	var out []string
	for i, e := range strings.Split(raw, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if d, ok := strings.CutPrefix(e, "domain:"); ok {
			if !domainOK(d) {
				return nil, fmt.Errorf("[%d] %q: want domain:DOMAIN with a DNS domain of at least two labels, such as domain:acme.com", i, e)
			}
			out = append(out, "domain:"+strings.ToLower(d))
			continue
		}
		email, err := principal.CheckPattern(e, nil)
		if err != nil || strings.Contains(e, ":") {
			return nil, fmt.Errorf("[%d] %q: want a Google caller's email or domain:DOMAIN (federated callers are gated by their issuers' bound claims)", i, e)
		}
		out = append(out, email)
	}
	return out, nil
}

func domainOK(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 || len(d) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.Trim(strings.ToLower(l), "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	return true
}

// ParseRate reads GCPCONN_RATE_LIMIT: requests per minute per principal, 0 to 100000 ("" is 0,
// no limit).
func ParseRate(raw string) (int, error) {
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > 100000 {
		return 0, fmt.Errorf("%q is not a number of requests per minute from 0 (no limit) to 100000", raw)
	}
	return n, nil
}
