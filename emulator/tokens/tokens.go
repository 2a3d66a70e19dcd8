// Package tokens is the fake Google Cloud's registry of opaque OAuth2 access tokens.
//
// Every access token the fake issues (from the OAuth2 token endpoint, STS, IAM
// Credentials or the metadata server) is a random opaque string ("ya29.fake." + random)
// recorded here with what it stands for: the IAM member it authenticates, the account
// email, the OAuth scopes, the expiry and, for down-scoped tokens, the Credential Access
// Boundary that limits it. Services look a bearer token up to authenticate a request.
package tokens

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"
)

// Lookup errors.
var (
	ErrUnknown = errors.New("unknown access token")
	ErrExpired = errors.New("access token expired")
)

// Token is what an access token stands for.
type Token struct {
	// Member is the IAM member: "serviceAccount:E", "user:E" or "principal://...".
	Member string
	// Email is the account email; empty for workload identity principals.
	Email  string
	Scopes []string
	Expiry time.Time
	// Boundary, when set, limits the token to GCS permissions (a down-scoped token).
	Boundary *Boundary
	// IssuedBy names the endpoint that issued the token ("oauth2.token", "sts.token", ...).
	IssuedBy string
	// KeyID is the service-account key (private_key_id, the JWT-bearer assertion's kid) the
	// token was minted from; a down-scoped token keeps its source token's. Empty for tokens
	// not minted from a key (metadata server, impersonation, STS federation, refresh tokens).
	KeyID string
	// Groups are further members the identity belongs to, checked like Member: for a
	// federated token the pool's attribute sets
	// ("principalSet://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/attribute.repository/org/repo").
	Groups []string
}

// Boundary is a Credential Access Boundary: a down-scoped token may only use the
// storage permissions its rules grant.
type Boundary struct{ Rules []Rule }

// Rule is one access boundary rule.
type Rule struct {
	// Resource is "//storage.googleapis.com/projects/_/buckets/B".
	Resource string
	// Permissions are "inRole:roles/..." entries.
	Permissions []string
	// Condition is an optional CEL expression, for example
	// "resource.name.startsWith('projects/_/buckets/B/objects/PREFIX')".
	Condition string
}

// HasScope reports whether the token carries scope.
func (t Token) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// Registry records issued tokens. It is safe for concurrent use.
type Registry struct {
	now func() time.Time

	mu     sync.RWMutex
	tokens map[string]Token
	issued int64
}

// NewRegistry returns an empty registry using now as its clock (time.Now when nil).
func NewRegistry(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{now: now, tokens: map[string]Token{}}
}

// Now returns the registry's current time.
func (r *Registry) Now() time.Time { return r.now() }

// Issue records t and returns a fresh opaque token value for it.
func (r *Registry) Issue(t Token) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ crashes instead).
		panic("tokens: crypto/rand: " + err.Error())
	}
	value := "ya29.fake." + base64.RawURLEncoding.EncodeToString(b)
	t.Scopes = slices.Clone(t.Scopes)
	t.Groups = slices.Clone(t.Groups)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked()
	r.tokens[value] = t
	r.issued++
	return value
}

// Lookup returns what value stands for: ErrUnknown if it was never issued (or was
// revoked), ErrExpired if its expiry has passed.
func (r *Registry) Lookup(value string) (Token, error) {
	r.mu.RLock()
	t, ok := r.tokens[value]
	r.mu.RUnlock()
	if !ok {
		return Token{}, ErrUnknown
	}
	if !r.now().Before(t.Expiry) {
		return Token{}, ErrExpired
	}
	t.Scopes = slices.Clone(t.Scopes)
	t.Groups = slices.Clone(t.Groups)
	return t, nil
}

// Revoke forgets value; it reports whether it was known.
func (r *Registry) Revoke(value string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.tokens[value]
	delete(r.tokens, value)
	return ok
}

// Issued returns how many tokens have been issued since the registry was created.
func (r *Registry) Issued() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.issued
}

// sweepLocked drops tokens that expired more than a day ago (they answer ErrUnknown
// afterwards), so long benchmark runs do not grow the map without bound.
func (r *Registry) sweepLocked() {
	if r.issued%1024 != 0 {
		return
	}
	cutoff := r.now().Add(-24 * time.Hour)
	for v, t := range r.tokens {
		if t.Expiry.Before(cutoff) {
			delete(r.tokens, v)
		}
	}
}
