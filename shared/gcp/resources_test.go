package gcp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/shared/connector"
)

var (
	demoBuckets = []string{
		"gs://zenml-bucket-sl", "gs://zenml-core.appspot.com", "gs://zenml-core_cloudbuild",
		"gs://zenml-datasets", "gs://zenml-internal-artifact-store", "gs://zenml-kubeflow-artifact-store", "gs://zenml-project-time-series-bucket",
	}
	demoRegistries = []string{
		"europe-west1-docker.pkg.dev/zenml-core/test",
	}
)

func needResources(t *testing.T) {
	t.Helper()
	if env["GCPCONN_ENDPOINT_STORAGE"] == "" || env["GCPCONN_ENDPOINT_CONTAINER"] == "" || env["GCPCONN_ENDPOINT_ARTIFACTREGISTRY"] == "" {
		t.Skip("the fake Google serves no resource endpoints yet (emulator/fakegcp/resources.go)")
	}
}

func TestListResourcesOwner(t *testing.T) {
	needResources(t)
	g := grant(connector.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	tests := []struct {
		rt   connector.ResourceType
		id   string
		want []string
	}{
		{connector.GCPGeneric, "", []string{project}},
		{connector.GCSBucket, "", demoBuckets},
		{connector.KubernetesCluster, "", []string{"us-east1/zenml-test-cluster"}},
		{connector.DockerRegistry, "", demoRegistries},
		{connector.GCSBucket, "gs://zenml-bucket-sl", []string{"gs://zenml-bucket-sl"}},
		{connector.KubernetesCluster, "zenml-test-cluster", []string{"us-east1/zenml-test-cluster"}},
		{connector.DockerRegistry, "europe-west1-docker.pkg.dev/zenml-core/test", []string{"europe-west1-docker.pkg.dev/zenml-core/test"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.rt)+" "+tt.id, func(t *testing.T) {
			got, err := google.ListResources(context.Background(), g, tt.rt, tt.id)
			if err != nil {
				t.Fatalf("ListResources(%s, %q) = %v", tt.rt, tt.id, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ListResources(%s, %q) = %v; want %v", tt.rt, tt.id, got, tt.want)
			}
		})
	}
}

func TestListResourcesGCROnlyWhenRegisteredWithOne(t *testing.T) {
	needResources(t)
	g := grant(connector.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	g.Connector.ResourceID = "eu.gcr.io/zenml-core"
	got, err := google.ListResources(context.Background(), g, connector.DockerRegistry, "")
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"eu.gcr.io/zenml-core"}, demoRegistries...)
	if !slices.Equal(got, want) {
		t.Errorf("registries of a connector registered with eu.gcr.io = %v; want %v", got, want)
	}
}

func TestListResourcesDenied(t *testing.T) {
	needResources(t)
	empty := grant(connector.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, emptySA)}, connector.Config{})
	imp := grant(connector.Impersonation, connector.Secrets{ServiceAccountJSON: keyJSON(t, emptySA)}, connector.Config{TargetPrincipal: bucketSA})
	tests := []struct {
		name    string
		g       connector.Grant
		rt      connector.ResourceType
		id      string
		want    connector.Kind
		wantMsg string
	}{
		{"empty: project", empty, connector.GCPGeneric, "", connector.ErrUpstreamDenied, "does not have permission"},
		{"empty: buckets", empty, connector.GCSBucket, "", connector.ErrUpstreamDenied, "storage.buckets.list"},
		{"empty: clusters", empty, connector.KubernetesCluster, "", connector.ErrUpstreamDenied, "container.clusters.list"},
		{"empty: registries", empty, connector.DockerRegistry, "", connector.ErrUpstreamDenied, "artifactregistry"},
		{"impersonation: cannot list buckets", imp, connector.GCSBucket, "", connector.ErrUpstreamDenied, "storage.buckets.list"},
		{"impersonation: other bucket", imp, connector.GCSBucket, "gs://zenml-internal-artifact-store", connector.ErrUpstreamDenied, "zenml-internal-artifact-store"},
		{"maven repository", grant(connector.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{}),
			connector.DockerRegistry, "us-central1-docker.pkg.dev/zenml-core/zenml-maven", connector.ErrInvalid, "not a Docker registry"},
		{"missing cluster", grant(connector.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{}),
			connector.KubernetesCluster, "nope", connector.ErrUpstreamNotFound, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := google.ListResources(context.Background(), tt.g, tt.rt, tt.id)
			if got := connector.KindOf(err); got != tt.want {
				t.Fatalf("ListResources kind = %q (%v); want %q", got, err, tt.want)
			}
			if msg := connector.MessageOf(err); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q; want Google's text mentioning %q", msg, tt.wantMsg)
			}
		})
	}
	// The impersonated account does reach its own bucket.
	got, err := google.ListResources(context.Background(), imp, connector.GCSBucket, "gs://zenml-bucket-sl")
	if err != nil || !slices.Equal(got, []string{"gs://zenml-bucket-sl"}) {
		t.Errorf("impersonation on its bucket = %v, %v; want [gs://zenml-bucket-sl]", got, err)
	}
}

func TestCluster(t *testing.T) {
	needResources(t)
	g := grant(connector.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	info, err := google.Cluster(context.Background(), g, "zenml-test-cluster")
	if err != nil {
		t.Fatalf("Cluster = %v", err)
	}
	// zenml-test-cluster allows external traffic on its DNS endpoint, which the fake serves
	// at a loopback address with the cluster CA (GCPCONN_GKE_DNS_ENDPOINTS).
	if info.ID != "us-east1/zenml-test-cluster" || !strings.HasPrefix(info.Server, "https://127.0.0.1:") ||
		!strings.Contains(info.CertificateAuthority, "BEGIN CERTIFICATE") {
		t.Errorf("Cluster = %+v; want the DNS endpoint's loopback address and the cluster CA", info)
	}
}

func TestListingReusesOneToken(t *testing.T) {
	needResources(t)
	f := fake.Faults()
	f.Reset()
	t.Cleanup(f.Reset)
	// A fresh key so that no earlier test's token is reused.
	g := grant(connector.UserAccount, connector.Secrets{UserAccountJSON: keyJSON(t, "viewer@zenml.io")}, connector.Config{})
	g.Connector.ID = "id-listing-reuse"
	for _, rt := range connector.ResourceTypes {
		if _, err := google.ListResources(context.Background(), g, rt, ""); err != nil && connector.KindOf(err) != connector.ErrUpstreamDenied {
			t.Fatalf("ListResources(%s) = %v", rt, err)
		}
	}
	if got := f.Count("oauth2.token"); got != 1 {
		t.Errorf("token grants for listing four resource types = %d; want 1", got)
	}
}

func TestListResourcesUpstreamFaults(t *testing.T) {
	needResources(t)
	f := fake.Faults()
	t.Cleanup(f.Reset)
	g := grant(connector.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	tests := []struct {
		name      string
		fault     faults.Fault
		wantKind  connector.Kind
		wantCalls int64
	}{
		{"one 503 is retried", faults.Fault{Status: 503, Times: 1}, "", 2},
		// Cloud Storage documents 429 as retryable (with backoff); the storage client does so.
		{"429 is retried a bounded number of times", faults.Fault{Status: 429}, connector.ErrUpstreamUnavailable, 3},
		{"constant 503 gives up", faults.Fault{Status: 503}, connector.ErrUpstreamUnavailable, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.Reset()
			f.Set("storage.buckets.list", tt.fault)
			_, err := google.ListResources(context.Background(), g, connector.GCSBucket, "")
			if got := connector.KindOf(err); got != tt.wantKind {
				t.Fatalf("ListResources kind = %q (%v); want %q", got, err, tt.wantKind)
			}
			if got := f.Count("storage.buckets.list"); got != tt.wantCalls {
				t.Errorf("bucket list calls = %d; want %d", got, tt.wantCalls)
			}
			var ce *connector.Error
			if tt.fault.Status == 429 && (!errors.As(err, &ce) || ce.RetryAfter <= 0) {
				t.Errorf("429 error = %#v; want a Retry-After hint", err)
			}
		})
	}
}

func TestCheckBucketOfAnotherProject(t *testing.T) {
	needResources(t)
	// Let the admin of zenml-core also read a bucket of zenml-sandbox.
	binding := world.Binding{Resource: "projects/_/buckets/zenml-sandbox-data", Role: "roles/storage.admin",
		Members: []string{"serviceAccount:" + adminSA}}
	fake.World().Update(func(w *world.World) { w.Bindings = append(w.Bindings, binding) })
	t.Cleanup(func() {
		fake.World().Update(func(w *world.World) {
			w.Bindings = slices.DeleteFunc(w.Bindings, func(b world.Binding) bool {
				return b.Resource == binding.Resource && b.Role == binding.Role
			})
		})
	})
	g := grant(connector.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	_, err := google.ListResources(context.Background(), g, connector.GCSBucket, "gs://zenml-sandbox-data")
	if connector.KindOf(err) != connector.ErrInvalid || !strings.Contains(connector.MessageOf(err), "not to the connector's project") {
		t.Errorf("check of another project's bucket = %v; want invalid_argument naming the project", err)
	}
}

func TestVerifyCostsOneTokenGrant(t *testing.T) {
	needResources(t)
	f := fake.Faults()
	f.Reset()
	t.Cleanup(f.Reset)
	s := newService()
	_, res := register(t, s, connector.RegisterRequest{Name: "one-grant", AuthMethod: connector.UserAccount,
		Configuration: map[string]any{"user_account_json": keyJSON(t, "viewer@zenml.io")}})
	if res == nil || len(res.Results) != len(connector.ResourceTypes) {
		t.Fatalf("resources = %+v; want every type checked", res)
	}
	if got := f.Count("oauth2.token"); got != 1 {
		t.Errorf("token grants for registering (verifying) a multi-type connector = %d; want 1", got)
	}
}
