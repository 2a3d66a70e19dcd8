package gcp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

var (
	demoBuckets = []string{
		"gs://zenml-bucket-sl", "gs://zenml-core.appspot.com", "gs://zenml-core_cloudbuild",
		"gs://zenml-datasets", "gs://zenml-internal-artifact-store", "gs://zenml-kubeflow-artifact-store", "gs://zenml-project-time-series-bucket",
	}
	// The product page's nine, in its order: each gcr.io-domain repository under both its
	// addresses, the legacy hosts first.
	demoRegistries = []string{
		"gcr.io/zenml-core", "us.gcr.io/zenml-core", "eu.gcr.io/zenml-core", "asia.gcr.io/zenml-core",
		"asia-docker.pkg.dev/zenml-core/asia.gcr.io", "europe-docker.pkg.dev/zenml-core/eu.gcr.io",
		"europe-west1-docker.pkg.dev/zenml-core/test", "us-docker.pkg.dev/zenml-core/gcr.io",
		"us-docker.pkg.dev/zenml-core/us.gcr.io",
	}
)

func TestListResourcesOwner(t *testing.T) {
	google := newGoogle()
	g := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	tests := []struct {
		rt   connector.ResourceType
		id   string
		want []string
	}{
		{resourceid.GCPGeneric, "", []string{project}},
		{resourceid.GCSBucket, "", demoBuckets},
		{resourceid.KubernetesCluster, "", []string{"us-east1/zenml-test-cluster"}},
		{resourceid.DockerRegistry, "", demoRegistries},
		{resourceid.GCSBucket, "gs://zenml-bucket-sl", []string{"gs://zenml-bucket-sl"}},
		{resourceid.KubernetesCluster, "zenml-test-cluster", []string{"us-east1/zenml-test-cluster"}},
		{resourceid.DockerRegistry, "europe-west1-docker.pkg.dev/zenml-core/test", []string{"europe-west1-docker.pkg.dev/zenml-core/test"}},
		{resourceid.DockerRegistry, "us-docker.pkg.dev/zenml-core/gcr.io", []string{"us-docker.pkg.dev/zenml-core/gcr.io"}},
		{resourceid.DockerRegistry, "projects/zenml-core/locations/us/repositories/gcr.io", []string{"us-docker.pkg.dev/zenml-core/gcr.io"}},
		{resourceid.DockerRegistry, "gcr.io/zenml-core", []string{"gcr.io/zenml-core"}},
		{resourceid.DockerRegistry, "https://eu.gcr.io/zenml-core/app:1", []string{"eu.gcr.io/zenml-core"}},
		{resourceid.DockerRegistry, "asia-docker.pkg.dev/zenml-core/asia.gcr.io", []string{"asia-docker.pkg.dev/zenml-core/asia.gcr.io"}},
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

// TestEveryTypeHasAGoogleLister lists, then checks one by one, the resources of every type in
// package resourcetype's records against the fake: a resource type added to the records without
// its Google calls (an entry in listers) or without resources in the fake fails here.
func TestEveryTypeHasAGoogleLister(t *testing.T) {
	google := newGoogle()
	g := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	for _, info := range resourcetype.All() {
		t.Run(string(info.Type), func(t *testing.T) {
			ids, err := google.ListResources(context.Background(), g, info.Type, "")
			if err != nil || len(ids) == 0 {
				t.Fatalf("ListResources(%s) = %v, %v; want the fake's resources", info.Type, ids, err)
			}
			for _, id := range ids {
				if got, err := google.ListResources(context.Background(), g, info.Type, id); err != nil || !slices.Equal(got, []string{id}) {
					t.Errorf("ListResources(%s, %q) = %v, %v; want [%s]", info.Type, id, got, err, id)
				}
			}
		})
	}
	if _, err := google.ListResources(context.Background(), g, "vm", ""); connector.KindOf(err) != connector.ErrInvalid {
		t.Errorf("ListResources(vm) = %v; want ErrInvalid for an unknown type", err)
	}
}

func TestListResourcesRegisteredGCRHostListedOnce(t *testing.T) {
	google := newGoogle()
	g := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	g.Connector.ResourceID = "eu.gcr.io/zenml-core"
	got, err := google.ListResources(context.Background(), g, resourceid.DockerRegistry, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, demoRegistries) {
		t.Errorf("registries of a connector registered with eu.gcr.io = %v; want %v", got, demoRegistries)
	}
}

func TestListResourcesDenied(t *testing.T) {
	google := newGoogle()
	empty := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, emptySA)}, connector.Config{})
	imp := grant(configschema.Impersonation, connector.Secrets{ServiceAccountJSON: keyJSON(t, emptySA)}, connector.Config{TargetPrincipal: bucketSA})
	tests := []struct {
		name    string
		g       connector.Grant
		rt      connector.ResourceType
		id      string
		want    connector.Kind
		wantMsg string
	}{
		{"empty: project", empty, resourceid.GCPGeneric, "", connector.ErrUpstreamDenied, "does not have permission"},
		{"empty: buckets", empty, resourceid.GCSBucket, "", connector.ErrUpstreamDenied, "storage.buckets.list"},
		{"empty: clusters", empty, resourceid.KubernetesCluster, "", connector.ErrUpstreamDenied, "container.clusters.list"},
		{"empty: registries", empty, resourceid.DockerRegistry, "", connector.ErrUpstreamDenied, "artifactregistry"},
		// The product page's words for this one: Google's buckets.get denial.
		{"empty: one bucket", empty, resourceid.GCSBucket, "gs://zenml-bucket-sl", connector.ErrUpstreamDenied,
			"does not have storage.buckets.get access to the Google Cloud Storage bucket"},
		{"impersonation: cannot list buckets", imp, resourceid.GCSBucket, "", connector.ErrUpstreamDenied, "storage.buckets.list"},
		{"impersonation: other bucket", imp, resourceid.GCSBucket, "gs://zenml-internal-artifact-store", connector.ErrUpstreamDenied, "does not have storage.buckets.get access"},
		{"maven repository", grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{}),
			resourceid.DockerRegistry, "us-central1-docker.pkg.dev/zenml-core/zenml-maven", connector.ErrInvalid, "not a Docker registry"},
		{"missing cluster", grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{}),
			resourceid.KubernetesCluster, "nope", connector.ErrUpstreamNotFound, "nope"},
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
	got, err := google.ListResources(context.Background(), imp, resourceid.GCSBucket, "gs://zenml-bucket-sl")
	if err != nil || !slices.Equal(got, []string{"gs://zenml-bucket-sl"}) {
		t.Errorf("impersonation on its bucket = %v, %v; want [gs://zenml-bucket-sl]", got, err)
	}
}

func TestCluster(t *testing.T) {
	google := newGoogle()
	g := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
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
	google := newGoogle()
	f := fake.Faults()
	f.Reset()
	t.Cleanup(f.Reset)
	// A fresh adapter (newGoogle): its listing-token cache starts empty.
	g := grant(configschema.UserAccount, connector.Secrets{UserAccountJSON: keyJSON(t, "viewer@zenml.io")}, connector.Config{})
	g.Connector.ID = "id-listing-reuse"
	for _, rt := range resourceid.Types {
		if _, err := google.ListResources(context.Background(), g, rt, ""); err != nil && connector.KindOf(err) != connector.ErrUpstreamDenied {
			t.Fatalf("ListResources(%s) = %v", rt, err)
		}
	}
	if got := f.Count("oauth2.token"); got != 1 {
		t.Errorf("token grants for listing four resource types = %d; want 1", got)
	}
}

func TestListResourcesUpstreamFaults(t *testing.T) {
	google := newGoogle()
	f := fake.Faults()
	t.Cleanup(f.Reset)
	g := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
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
			_, err := google.ListResources(context.Background(), g, resourceid.GCSBucket, "")
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

// TestBucketOfAnotherProjectRefused: through the core, verify and mint refuse a bucket that
// Google says belongs to another project (naming both), and say so when the bucket's project
// could not be read, rather than claiming a check.
func TestBucketOfAnotherProjectRefused(t *testing.T) {
	const sandboxBucket = "projects/_/buckets/zenml-sandbox-data"
	admin := "serviceAccount:" + adminSA
	if err := fake.World().AddBinding(world.Binding{Resource: sandboxBucket, Role: "roles/storage.admin", Members: []string{admin}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.World().RemoveMember(sandboxBucket, "roles/storage.admin", admin) })
	ctx := context.Background()
	s := newService()
	no := false
	register(t, s, connector.RegisterRequest{Name: "core-buckets", AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCSBucket,
		Configuration: map[string]any{"project_id": project, "service_account_json": keyJSON(t, adminSA)}})
	res, err := s.Verify(ctx, owner, connector.VerifyRequest{Ref: "core-buckets", ResourceID: "gs://zenml-sandbox-data"})
	if err != nil || !strings.Contains(res.Error, "310954712231") || !strings.Contains(res.Error, `"zenml-core"`) || len(res.Results[0].ResourceIDs) != 0 {
		t.Errorf("verify of another project's bucket = %+v, %v; want an error naming both projects", res, err)
	}
	if _, err := s.Mint(ctx, owner, connector.MintRequest{Ref: "core-buckets", ResourceID: "gs://zenml-sandbox-data"}); connector.KindOf(err) != connector.ErrInvalid ||
		!strings.Contains(connector.MessageOf(err), "310954712231") {
		t.Errorf("mint for another project's bucket = %v; want invalid_argument naming its project", err)
	}
	cred, err := s.Mint(ctx, owner, connector.MintRequest{Ref: "core-buckets", ResourceID: "gs://zenml-bucket-sl"})
	if err != nil || cred.Warning != "" {
		t.Errorf("mint for the project's own bucket = %+v, %v; want a token without a warning", cred, err)
	}

	// sandbox-admin reads its bucket but not project zenml-core: served, with a warning.
	register(t, s, connector.RegisterRequest{Name: "unchecked", AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCSBucket, Verify: &no,
		Configuration: map[string]any{"project_id": project, "service_account_json": keyJSON(t, "sandbox-admin@zenml-sandbox.iam.gserviceaccount.com")}})
	cred, err = s.Mint(ctx, owner, connector.MintRequest{Ref: "unchecked", ResourceID: "gs://zenml-sandbox-data"})
	if err != nil || !strings.Contains(cred.Warning, "could not be read") {
		t.Errorf("mint without the project check = %+v, %v; want a token with a warning that the check did not happen", cred, err)
	}
	res, err = s.Verify(ctx, owner, connector.VerifyRequest{Ref: "unchecked", ResourceID: "gs://zenml-sandbox-data"})
	if err != nil || res.Error != "" || !strings.Contains(res.Results[0].Warning, "could not check") {
		t.Errorf("verify without the project check = %+v, %v; want reached, with a warning", res, err)
	}
}

func TestVerifyCostsOneTokenGrant(t *testing.T) {
	f := fake.Faults()
	f.Reset()
	t.Cleanup(f.Reset)
	s := newService()
	_, res := register(t, s, connector.RegisterRequest{Name: "one-grant", AuthMethod: configschema.UserAccount,
		Configuration: map[string]any{"user_account_json": keyJSON(t, "viewer@zenml.io")}})
	if res == nil || len(res.Results) != len(resourceid.Types) {
		t.Fatalf("resources = %+v; want every type checked", res)
	}
	if got := f.Count("oauth2.token"); got != 1 {
		t.Errorf("token grants for registering (verifying) a multi-type connector = %d; want 1", got)
	}
}

// TestBucketProject: a connector reaches the buckets of its own project. The owner of
// zenml-core, once granted a bucket of zenml-sandbox, can reach it, and BucketProject refuses
// it naming both projects; an account that cannot read the connector's project gets no
// verdict (false), which callers report as a warning.
func TestBucketProject(t *testing.T) {
	google := newGoogle()
	const sandboxBucket = "projects/_/buckets/zenml-sandbox-data"
	admin := "serviceAccount:" + adminSA
	if err := fake.World().AddBinding(world.Binding{Resource: sandboxBucket, Role: "roles/storage.admin", Members: []string{admin}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.World().RemoveMember(sandboxBucket, "roles/storage.admin", admin) })
	ctx := context.Background()
	owner := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	sandboxAdmin := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, "sandbox-admin@zenml-sandbox.iam.gserviceaccount.com")}, connector.Config{})
	sandboxAdmin.Connector.ID = "id-sandbox-admin"

	if ids, err := google.ListResources(ctx, owner, resourceid.GCSBucket, "gs://zenml-sandbox-data"); err != nil {
		t.Fatalf("the owner reaches the granted sandbox bucket: ListResources = %v, %v", ids, err)
	}
	_, err := google.BucketProject(ctx, owner, "zenml-sandbox-data")
	if connector.KindOf(err) != connector.ErrInvalid || !strings.Contains(err.Error(), "310954712231") || !strings.Contains(err.Error(), `"zenml-core"`) {
		t.Errorf("BucketProject(sandbox bucket) = %v; want invalid_argument naming project 310954712231 and zenml-core", err)
	}
	if ok, err := google.BucketProject(ctx, owner, "zenml-bucket-sl"); !ok || err != nil {
		t.Errorf("BucketProject(own bucket) = %v, %v; want true", ok, err)
	}
	// sandbox-admin reads the bucket, but not zenml-core: no verdict.
	if ok, err := google.BucketProject(ctx, sandboxAdmin, "zenml-sandbox-data"); ok || err != nil {
		t.Errorf("BucketProject without projects.get on zenml-core = %v, %v; want false, nil", ok, err)
	}
}
