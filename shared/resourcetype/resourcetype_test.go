package resourcetype_test

import (
	"slices"
	"testing"

	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// TestEveryTypeHasARecord checks that the records are resourceid's types, in its order, and
// that each is complete: a type added to resourceid without a record here (or a record whose
// id syntax resourceid lacks) fails, as does a record with a fact left out.
func TestEveryTypeHasARecord(t *testing.T) {
	all := resourcetype.All()
	var types []resourceid.Type
	for _, info := range all {
		types = append(types, info.Type)
	}
	if !slices.Equal(types, resourceid.Types) {
		t.Fatalf("records are for %v; resourceid.Types is %v", types, resourceid.Types)
	}
	for _, info := range all {
		if info.Name == "" || info.Noun == "" || info.Description == "" || info.ListPermission == "" || info.Icon == "" {
			t.Errorf("%s: record lacks a name, noun, description, list permission or icon: %+v", info.Type, info)
		}
		if len(resourceid.Formats(info.Type)) == 0 {
			t.Errorf("%s: resourceid has no id formats for it", info.Type)
		}
		if !slices.Contains(info.Scopes, resourcetype.ScopeCloudPlatform) {
			t.Errorf("%s: default scopes %v lack cloud-platform", info.Type, info.Scopes)
		}
		for _, s := range info.Required {
			if !slices.Contains(info.Scopes, s) {
				t.Errorf("%s: required scope %s is not among its default scopes %v", info.Type, s, info.Scopes)
			}
		}
		if info.Login < resourcetype.LoginToken || info.Login > resourcetype.LoginKubeconfig {
			t.Errorf("%s: login kind %d is none of the known kinds", info.Type, info.Login)
		}
		if got, ok := resourcetype.Of(info.Type); !ok || got.Type != info.Type {
			t.Errorf("Of(%s) = %v, %v", info.Type, got.Type, ok)
		}
	}
	if _, ok := resourcetype.Of("gcs"); ok {
		t.Error(`Of("gcs") found a record`)
	}
}

// TestDefaultScopes checks the scopes of each type's tokens, and that the caller may keep and
// change the slice without changing the record.
func TestDefaultScopes(t *testing.T) {
	for rt, want := range map[resourceid.Type][]string{
		resourceid.GCPGeneric:        {resourcetype.ScopeCloudPlatform},
		resourceid.GCSBucket:         {resourcetype.ScopeCloudPlatform},
		resourceid.KubernetesCluster: {resourcetype.ScopeCloudPlatform, resourcetype.ScopeUserinfoEmail},
		resourceid.DockerRegistry:    {resourcetype.ScopeCloudPlatform},
		"unknown":                    nil,
	} {
		got := resourcetype.DefaultScopes(rt)
		if !slices.Equal(got, want) {
			t.Errorf("DefaultScopes(%s) = %v; want %v", rt, got, want)
		}
		if len(got) > 0 {
			got[0] = "changed"
			if again := resourcetype.DefaultScopes(rt); again[0] == "changed" {
				t.Errorf("DefaultScopes(%s) shares its slice with the record", rt)
			}
		}
	}
}
