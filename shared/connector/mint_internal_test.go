package connector

import (
	"slices"
	"testing"

	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// TestMintScopes checks the scopes of each type's tokens: its defaults when the request names
// none, else the requested ones (sorted, without repeats) plus the type's required ones, so a
// kubernetes-cluster token always carries userinfo.email, which GKE's RBAC matches on.
func TestMintScopes(t *testing.T) {
	const (
		cp    = resourcetype.ScopeCloudPlatform
		email = resourcetype.ScopeUserinfoEmail
		ro    = "https://www.googleapis.com/auth/devstorage.read_only"
	)
	tests := []struct {
		rt   ResourceType
		req  []string
		want []string
	}{
		{resourceid.GCPGeneric, nil, []string{cp}},
		{resourceid.GCSBucket, nil, []string{cp}},
		{resourceid.KubernetesCluster, nil, []string{cp, email}},
		{resourceid.DockerRegistry, nil, []string{cp}},
		{resourceid.GCSBucket, []string{ro, ro}, []string{ro}},
		{resourceid.KubernetesCluster, []string{ro}, []string{ro, email}},
		{resourceid.KubernetesCluster, []string{email, cp}, []string{cp, email}},
	}
	for _, tt := range tests {
		info, ok := resourcetype.Of(tt.rt)
		if !ok {
			t.Fatalf("no record for %s", tt.rt)
		}
		got, err := mintScopes(info, tt.req)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("mintScopes(%s, %v) = %v, %v; want %v", tt.rt, tt.req, got, err, tt.want)
		}
	}
}
