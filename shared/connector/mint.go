package connector

import "context"

// OAuth scopes of minted tokens.
const (
	ScopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	// ScopeUserinfoEmail lets GKE see the caller's email, so RBAC bindings on it match.
	ScopeUserinfoEmail = "https://www.googleapis.com/auth/userinfo.email"
)

// DefaultScopes returns the scopes a token for rt gets unless the request names others:
// cloud-platform, plus userinfo.email for kubernetes-cluster.
func DefaultScopes(rt ResourceType) []string {
	if rt == KubernetesCluster {
		return []string{ScopeCloudPlatform, ScopeUserinfoEmail}
	}
	return []string{ScopeCloudPlatform}
}

type subjectTokenKey struct{}

// WithSubjectToken returns ctx carrying the caller's subject token for external-account
// connectors, for the port methods whose request has no field for it (ListResources,
// Cluster). Adapters read it with SubjectTokenFrom.
func WithSubjectToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return context.WithValue(ctx, subjectTokenKey{}, token)
}

// SubjectTokenFrom returns the subject token that WithSubjectToken put in ctx, or "".
func SubjectTokenFrom(ctx context.Context) string {
	s, _ := ctx.Value(subjectTokenKey{}).(string)
	return s
}
