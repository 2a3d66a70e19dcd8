package connector

import (
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// TestStatusOf: the status a verification records says what it saw, per resource type.
func TestStatusOf(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	ok := func(rt ResourceType) ResourceResult {
		return ResourceResult{ResourceType: rt, ResourceIDs: []string{"x"}}
	}
	bad := func(rt ResourceType) ResourceResult {
		return ResourceResult{ResourceType: rt, Error: string(rt) + " denied"}
	}
	tests := []struct {
		name    string
		res     *Resources
		state   State
		failing string
		err     string
	}{
		{"every type reached", &Resources{Results: []ResourceResult{ok(resourceid.GCPGeneric), ok(resourceid.GCSBucket)}}, StateOK, "", ""},
		{"some failed", &Resources{Results: []ResourceResult{ok(resourceid.GCPGeneric), bad(resourceid.GCSBucket), bad(resourceid.DockerRegistry)}},
			StatePartial, "gcs-bucket,docker-registry", "gcs-bucket denied; docker-registry denied"},
		{"none reached", &Resources{Results: []ResourceResult{bad(resourceid.GCPGeneric), bad(resourceid.GCSBucket), bad(resourceid.KubernetesCluster), bad(resourceid.DockerRegistry)}},
			StateError, "gcp-generic,gcs-bucket,kubernetes-cluster,docker-registry", "gcp-generic denied; gcs-bucket denied; kubernetes-cluster denied; docker-registry denied"},
		{"no authentication", &Resources{Error: "invalid_grant", Results: []ResourceResult{{ResourceType: resourceid.GCSBucket}}}, StateError, "", "invalid_grant"},
		{"authentication only", &Resources{Results: []ResourceResult{{ResourceType: resourceid.GCSBucket}}}, StateOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := statusOf(tt.res, now)
			if st.State != tt.state || st.FailingTypes != tt.failing || st.Error != tt.err || !st.CheckedAt.Equal(now) {
				t.Errorf("StatusOf = %+v; want state %q, failing %q, error %q", st, tt.state, tt.failing, tt.err)
			}
			if got := len(st.Failing()); tt.failing == "" && got != 0 {
				t.Errorf("Failing() = %v; want none", st.Failing())
			}
		})
	}
}
