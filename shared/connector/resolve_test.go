package connector

import (
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

func TestResolveResource(t *testing.T) {
	shaped := func(name string, rt ResourceType, id string) *Connector {
		req := rulesRequest(configschema.ServiceAccount, nil)
		req.Name, req.ResourceType, req.ResourceID = name, rt, id
		c, _, err := NewConnector(req, Policy{}, rulesNow)
		if err != nil {
			panic(err)
		}
		return c
	}
	multiType := shaped("all", "", "")
	buckets := shaped("buckets", resourceid.GCSBucket, "")
	oneBucket := shaped("one-bucket", resourceid.GCSBucket, "gs://ml-data")
	oneCluster := shaped("one-cluster", resourceid.KubernetesCluster, "us-east1/prod")
	clusters := shaped("clusters", resourceid.KubernetesCluster, "")
	generic := shaped("generic", resourceid.GCPGeneric, "")
	registries := shaped("registries", resourceid.DockerRegistry, "")

	ok := []struct {
		name   string
		c      *Connector
		rt     ResourceType
		id     string
		wantRT ResourceType
		wantID string
	}{
		{"multi-type bucket", multiType, resourceid.GCSBucket, "ml-data", resourceid.GCSBucket, "gs://ml-data"},
		{"multi-type generic default", multiType, resourceid.GCPGeneric, "", resourceid.GCPGeneric, "my-project"},
		{"multi-type generic spelled out", multiType, resourceid.GCPGeneric, "projects/my-project", resourceid.GCPGeneric, "my-project"},
		{"multi-instance, type implied", buckets, "", "gs://ml-data/x/y", resourceid.GCSBucket, "gs://ml-data"},
		{"multi-instance, type given", buckets, resourceid.GCSBucket, "ml-data", resourceid.GCSBucket, "gs://ml-data"},
		{"single-instance default", oneBucket, "", "", resourceid.GCSBucket, "gs://ml-data"},
		{"single-instance, other spelling", oneBucket, resourceid.GCSBucket, "ml-data", resourceid.GCSBucket, "gs://ml-data"},
		{"single cluster, bare name", oneCluster, "", "prod", resourceid.KubernetesCluster, "us-east1/prod"},
		{"single cluster, full name", oneCluster, resourceid.KubernetesCluster, "projects/my-project/locations/us-east1/clusters/prod", resourceid.KubernetesCluster, "us-east1/prod"},
		{"clusters, bare name kept for MatchCluster", clusters, "", "prod", resourceid.KubernetesCluster, "prod"},
		{"generic default", generic, "", "", resourceid.GCPGeneric, "my-project"},
		{"registry image path dropped", registries, "", "europe-docker.pkg.dev/my-project/images/app:1", resourceid.DockerRegistry, "europe-docker.pkg.dev/my-project/images"},
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
		{"multi-type bucket without id", multiType, resourceid.GCSBucket, "", ErrInvalid, "resource_id",
			`connector "all" serves any GCS bucket (gcs-bucket) of project "my-project", so resource_id must name one; accepted formats: gs://BUCKET`},
		{"unknown type", multiType, "vm", "x", ErrInvalid, "resource_type", `unknown resource type "vm"`},
		{"other type on a single-type connector", buckets, resourceid.KubernetesCluster, "prod", ErrPermission, "resource_type",
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
