// Package auth authenticates and authorises requests to the fake Google services.
//
// A Guard reads the bearer access token of a request, looks it up in the token
// registry (authentication: 401 UNAUTHENTICATED when missing, unknown or expired),
// checks its OAuth scopes against the service, applies a down-scoped token's Credential
// Access Boundary, and finally asks the World whether the token's member holds the
// permission on the resource (authorisation: 403 PERMISSION_DENIED with Google's text).
package auth

import (
	"net/http"
	"strings"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Messages Google sends for authentication failures.
const (
	MsgMissingCredentials = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	MsgInvalidCredentials = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	MsgInsufficientScopes = "Request had insufficient authentication scopes."
)

// Guard checks requests against a world and a token registry.
type Guard struct {
	World  *world.World
	Tokens *tokens.Registry
}

// BearerToken returns the access token of an "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(value)
}

// Token authenticates r: it returns what its bearer token stands for, or a 401.
func (g *Guard) Token(r *http.Request) (tokens.Token, *googleerr.Error) {
	value := BearerToken(r)
	if value == "" {
		return tokens.Token{}, googleerr.Unauthenticated(MsgMissingCredentials)
	}
	return g.Lookup(value)
}

// Lookup authenticates a token value (from a header other than Authorization, for
// example docker's Basic credentials).
func (g *Guard) Lookup(value string) (tokens.Token, *googleerr.Error) {
	t, err := g.Tokens.Lookup(value)
	if err != nil {
		return tokens.Token{}, googleerr.Unauthenticated(MsgInvalidCredentials)
	}
	return t, nil
}

// Check authenticates r and authorises permission on resource (an IAM resource name
// such as "projects/_/buckets/B" or "projects/P/locations/L/clusters/C").
func (g *Guard) Check(r *http.Request, permission, resource string) (tokens.Token, *googleerr.Error) {
	t, gerr := g.Token(r)
	if gerr != nil {
		return t, gerr
	}
	return t, g.Authorize(r, t, permission, resource)
}

// Authorize checks an already authenticated token: scopes, boundary, then IAM. r may be
// nil; when set, a storage.objects.list request's "prefix" query parameter feeds the
// boundary attribute storage.googleapis.com/objectListPrefix.
func (g *Guard) Authorize(r *http.Request, t tokens.Token, permission, resource string) *googleerr.Error {
	if !scopeAllows(t.Scopes, permission) {
		e := googleerr.PermissionDenied(MsgInsufficientScopes)
		e.Reason = "insufficientPermissions"
		return e
	}
	resource = g.World.NormalizeResource(resource)
	if t.Boundary != nil && !g.boundaryAllows(r, t.Boundary, permission, resource) {
		return Denied(t, permission, resource)
	}
	if g.World.Allowed(t.Member, permission, resource) {
		return nil
	}
	for _, group := range t.Groups {
		if g.World.Allowed(group, permission, resource) {
			return nil
		}
	}
	return Denied(t, permission, resource)
}

// Denied returns the 403 Google sends when t lacks permission on resource: Cloud
// Storage's "EMAIL does not have PERMISSION access to the Google Cloud Storage
// bucket|object" for storage permissions, IAM's "Permission 'P' denied on resource"
// otherwise.
func Denied(t tokens.Token, permission, resource string) *googleerr.Error {
	if strings.HasPrefix(permission, "storage.") {
		who := t.Email
		if who == "" {
			who = t.Member
		}
		what := "bucket"
		if strings.Contains(resource, "/objects/") {
			what = "object"
		}
		return googleerr.PermissionDenied(who + " does not have " + permission + " access to the Google Cloud Storage " + what +
			". Permission '" + permission + "' denied on resource (or it may not exist).")
	}
	return googleerr.PermissionDenied("Permission '" + permission + "' denied on resource '" + resource + "' (or it may not exist).")
}

// scopeAllows reports whether the OAuth scopes of a token cover permission. Tokens
// without recorded scopes are not limited.
func scopeAllows(scopes []string, permission string) bool {
	if len(scopes) == 0 {
		return true
	}
	readOnly := strings.HasSuffix(permission, ".get") || strings.HasSuffix(permission, ".list") ||
		strings.HasSuffix(permission, ".testIamPermissions")
	for _, s := range scopes {
		s = strings.TrimPrefix(s, "https://www.googleapis.com/auth/")
		switch s {
		case "cloud-platform":
			return true
		case "cloud-platform.read-only":
			if readOnly {
				return true
			}
		case "devstorage.full_control", "devstorage.read_write":
			if strings.HasPrefix(permission, "storage.") {
				return true
			}
		case "devstorage.read_only":
			if strings.HasPrefix(permission, "storage.") && readOnly {
				return true
			}
		case "iam":
			if strings.HasPrefix(permission, "iam.") {
				return true
			}
		case "pubsub":
			if strings.HasPrefix(permission, "pubsub.") {
				return true
			}
		case "datastore":
			if strings.HasPrefix(permission, "datastore.") {
				return true
			}
		}
	}
	return false
}

// boundaryAllows applies a Credential Access Boundary: only storage permissions on a
// rule's bucket, within the rule's roles, where the rule's condition holds.
func (g *Guard) boundaryAllows(r *http.Request, b *tokens.Boundary, permission, resource string) bool {
	if !strings.HasPrefix(permission, "storage.") {
		return false
	}
	parts := strings.Split(resource, "/")
	if len(parts) < 4 || parts[0] != "projects" || parts[1] != "_" || parts[2] != "buckets" {
		return false
	}
	bucket := parts[3]
	attrs := tokens.Attributes{
		"resource.name":    resource,
		"resource.service": "storage.googleapis.com",
		"resource.type":    "storage.googleapis.com/Bucket",
	}
	if strings.Contains(resource, "/objects/") {
		attrs["resource.type"] = "storage.googleapis.com/Object"
	}
	if r != nil && permission == "storage.objects.list" {
		attrs["api:storage.googleapis.com/objectListPrefix"] = r.URL.Query().Get("prefix")
	}
	for _, rule := range b.Rules {
		if BoundaryBucket(rule.Resource) != bucket {
			continue
		}
		inRole := false
		for _, p := range rule.Permissions {
			role, ok := strings.CutPrefix(p, "inRole:")
			if ok && g.World.RoleGrants(role, permission) {
				inRole = true
				break
			}
		}
		if !inRole {
			continue
		}
		if ok, err := tokens.EvalCondition(rule.Condition, attrs); err == nil && ok {
			return true
		}
	}
	return false
}

// BoundaryBucket returns the bucket of a boundary rule's resource
// ("//storage.googleapis.com/projects/_/buckets/B"), or "" if it names no bucket.
func BoundaryBucket(resource string) string {
	rest, ok := strings.CutPrefix(resource, "//storage.googleapis.com/projects/_/buckets/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return ""
	}
	return rest
}
