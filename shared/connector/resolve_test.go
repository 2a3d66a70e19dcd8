package connector

import (
	"strings"
	"testing"
)

func TestResolveResource(t *testing.T) {
	shaped := func(name string, rt ResourceType, id string) *Connector {
		req := rulesRequest(ServiceAccount, nil)
		req.Name, req.ResourceType, req.ResourceID = name, rt, id
		c, _, err := NewConnector(req, Policy{}, rulesNow)
		if err != nil {
			panic(err)
		}
		return c
	}
	multiType := shaped("all", "", "")
	buckets := shaped("buckets", GCSBucket, "")
	oneBucket := shaped("one-bucket", GCSBucket, "gs://ml-data")
	oneCluster := shaped("one-cluster", KubernetesCluster, "us-east1/prod")
	clusters := shaped("clusters", KubernetesCluster, "")
	generic := shaped("generic", GCPGeneric, "")
	registries := shaped("registries", DockerRegistry, "")

	ok := []struct {
		name   string
		c      *Connector
		rt     ResourceType
		id     string
		wantRT ResourceType
		wantID string
	}{
		{"multi-type bucket", multiType, GCSBucket, "ml-data", GCSBucket, "gs://ml-data"},
		{"multi-type generic default", multiType, GCPGeneric, "", GCPGeneric, "my-project"},
		{"multi-type generic spelled out", multiType, GCPGeneric, "projects/my-project", GCPGeneric, "my-project"},
		{"multi-instance, type implied", buckets, "", "gs://ml-data/x/y", GCSBucket, "gs://ml-data"},
		{"multi-instance, type given", buckets, GCSBucket, "ml-data", GCSBucket, "gs://ml-data"},
		{"single-instance default", oneBucket, "", "", GCSBucket, "gs://ml-data"},
		{"single-instance, other spelling", oneBucket, GCSBucket, "ml-data", GCSBucket, "gs://ml-data"},
		{"single cluster, bare name", oneCluster, "", "prod", KubernetesCluster, "us-east1/prod"},
		{"single cluster, full name", oneCluster, KubernetesCluster, "projects/my-project/locations/us-east1/clusters/prod", KubernetesCluster, "us-east1/prod"},
		{"clusters, bare name kept for MatchCluster", clusters, "", "prod", KubernetesCluster, "prod"},
		{"generic default", generic, "", "", GCPGeneric, "my-project"},
		{"registry image path dropped", registries, "", "europe-docker.pkg.dev/my-project/images/app:1", DockerRegistry, "europe-docker.pkg.dev/my-project/images"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			rt, id, err := tt.c.resolveResource(tt.rt, tt.id)
			if err != nil || rt != tt.wantRT || id != tt.wantID {
				t.Errorf("%s.resolveResource(%q, %q) = %q, %q, %v; want %q, %q", tt.c.Name, tt.rt, tt.id, rt, id, err, tt.wantRT, tt.wantID)
			}
		})
	}

	bad := []struct {
		name      string
		c         *Connector
		rt        ResourceType
		id        string
		wantKind  Kind
		wantField string
		wantMsg   string
	}{
		{"multi-type without type", multiType, "", "", ErrInvalid, "resource_type",
			`connector "all" serves several resource types (gcp-generic, gcs-bucket, kubernetes-cluster, docker-registry); give resource_type to say which one`},
		{"multi-type with only an id", multiType, "", "gs://ml-data", ErrInvalid, "resource_type", "but only a resource id was given; give its resource_type too"},
		{"multi-type bucket without id", multiType, GCSBucket, "", ErrInvalid, "resource_id",
			`connector "all" serves any GCS bucket (gcs-bucket) of project "my-project", so resource_id must name one; accepted formats: gs://BUCKET`},
		{"unknown type", multiType, "vm", "x", ErrInvalid, "resource_type", `unknown resource type "vm"`},
		{"other type on a single-type connector", buckets, KubernetesCluster, "prod", ErrPermission, "resource_type",
			`connector "buckets" is configured for gcs-bucket resources only, but a kubernetes-cluster resource was requested`},
		{"multi-instance without id", buckets, "", "", ErrInvalid, "resource_id", "so resource_id must name one"},
		{"multi-instance malformed id", buckets, "", "gs://", ErrInvalid, "resource_id", "invalid GCS bucket (gcs-bucket) resource id"},
		{"single-instance, other id", oneBucket, "", "gs://other-data", ErrPermission, "resource_id",
			`connector "one-bucket" gives access to a single GCS bucket, "gs://ml-data", but "gs://other-data" was requested`},
		{"single cluster, other location", oneCluster, "", "europe-west1/prod", ErrPermission, "resource_id", `a single GKE Kubernetes cluster, "us-east1/prod"`},
		{"single cluster, other name", oneCluster, "", "staging", ErrPermission, "resource_id", `but "staging" was requested`},
		{"generic, other project", generic, "", "other-project", ErrPermission, "resource_id",
			`connector "generic" gives access to its project "my-project" only, but "other-project" was requested`},
		{"generic, malformed project", generic, "", "Not A Project", ErrInvalid, "resource_id", "invalid GCP project (gcp-generic) resource id"},
		{"registry of another project", registries, "", "us-docker.pkg.dev/other-project/images", ErrInvalid, "resource_id",
			`is in project "other-project", but the connector is configured for project "my-project"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.c.resolveResource(tt.rt, tt.id)
			if KindOf(err) != tt.wantKind || FieldOf(err) != tt.wantField || !strings.Contains(MessageOf(err), tt.wantMsg) {
				t.Errorf("%s.resolveResource(%q, %q) = %v (%s, %q); want %s for %s containing %q",
					tt.c.Name, tt.rt, tt.id, err, KindOf(err), FieldOf(err), tt.wantKind, tt.wantField, tt.wantMsg)
			}
		})
	}
}
