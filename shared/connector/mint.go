package connector

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
