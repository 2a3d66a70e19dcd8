package fakegcp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	artifactregistry "cloud.google.com/go/artifactregistry/apiv1"
	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	credentials "cloud.google.com/go/iam/credentials/apiv1"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/google/downscope"
	"google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
)

const (
	emptySA  = "empty-connectors@zenml-core.iam.gserviceaccount.com"
	bucketSA = "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	adminSA  = "connectors-admin@zenml-core.iam.gserviceaccount.com"
	runtime  = "gcpconn-runtime@zenml-core.iam.gserviceaccount.com"
)

type stack struct {
	srv *fakegcp.Server
	env map[string]string
}

func startStack(t *testing.T, opts fakegcp.Options) *stack {
	t.Helper()
	s := fakegcptest.Start(t, opts)
	return &stack{srv: s, env: s.EnvMap()}
}

// keyTokenSource is what gcpconn does with a service-account key: the
// JWT-bearer grant, sent to the configured token endpoint instead of the
// key's token_uri.
func (st *stack) keyTokenSource(t *testing.T, email string) oauth2.TokenSource {
	t.Helper()
	key, err := st.srv.KeyJSON(email)
	if err != nil {
		t.Fatalf("KeyJSON(%s): %v", email, err)
	}
	cfg, err := google.JWTConfigFromJSON(key, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatalf("JWTConfigFromJSON: %v", err)
	}
	cfg.TokenURL = st.env["GCPCONN_ENDPOINT_OAUTH2"] + "/token"
	return cfg.TokenSource(context.Background())
}

func (st *stack) storage(t *testing.T, ts oauth2.TokenSource) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background(), option.WithEndpoint(st.env["GCPCONN_ENDPOINT_STORAGE"]+"/storage/v1/"), option.WithTokenSource(ts))
	if err != nil {
		t.Fatalf("storage.NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func gcsCode(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func readObject(ctx context.Context, c *storage.Client, bucket, object string) (string, error) {
	r, err := c.Bucket(bucket).Object(object).NewReader(ctx)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

func TestEnvNamesEveryResourceService(t *testing.T) {
	st := startStack(t, fakegcp.Options{})
	for _, k := range []string{"GCPCONN_ENDPOINT_STORAGE", "GCPCONN_ENDPOINT_CONTAINER", "GCPCONN_ENDPOINT_ARTIFACTREGISTRY",
		"GCPCONN_ENDPOINT_SECRETMANAGER", "GCPCONN_ENDPOINT_RESOURCEMANAGER", "GCPCONN_ENDPOINT_IAM"} {
		if !strings.HasPrefix(st.env[k], "http://127.0.0.1:") {
			t.Errorf("Env %s = %q; want http://127.0.0.1:PORT", k, st.env[k])
		}
	}
	if h := st.env["GCPCONN_DOCKER_REGISTRY_HOST"]; !strings.HasPrefix(h, "127.0.0.1:") || strings.Contains(h, "/") {
		t.Errorf("Env GCPCONN_DOCKER_REGISTRY_HOST = %q; want 127.0.0.1:PORT", h)
	}
	if m := st.env["GCPCONN_GKE_DNS_ENDPOINTS"]; !strings.Contains(m, ".us-east1.gke.goog=127.0.0.1:") {
		t.Errorf("Env GCPCONN_GKE_DNS_ENDPOINTS = %q; want the demo cluster's DNS endpoint", m)
	}
}

// TestSeedImpersonationStory replays the seed page: an SA with no roles
// cannot see buckets; impersonating the bucket-scoped SA reaches its bucket
// and nothing else; a down-scoped token reads its bucket (and prefix) only.
func TestSeedImpersonationStory(t *testing.T) {
	st := startStack(t, fakegcp.Options{})
	ctx := context.Background()

	empty := st.storage(t, st.keyTokenSource(t, emptySA))
	it := empty.Buckets(ctx, "zenml-core")
	if _, err := it.Next(); gcsCode(err) != 403 || !strings.Contains(err.Error(), emptySA+" does not have storage.buckets.list access to the Google Cloud project.") {
		t.Errorf("empty SA Buckets error = %v; want 403 with Google's wording", err)
	}
	if _, err := empty.Bucket("zenml-bucket-sl").Attrs(ctx); gcsCode(err) != 403 {
		t.Errorf("empty SA bucket Attrs error = %v; want 403", err)
	}

	iam, err := credentials.NewIamCredentialsRESTClient(ctx, option.WithEndpoint(st.env["GCPCONN_ENDPOINT_IAMCREDENTIALS"]),
		option.WithTokenSource(st.keyTokenSource(t, emptySA)))
	if err != nil {
		t.Fatal(err)
	}
	defer iam.Close()
	resp, err := iam.GenerateAccessToken(ctx, &credentialspb.GenerateAccessTokenRequest{
		Name:     "projects/-/serviceAccounts/" + bucketSA,
		Scope:    []string{"https://www.googleapis.com/auth/cloud-platform"},
		Lifetime: durationpb.New(10 * time.Minute),
	})
	if err != nil {
		t.Fatalf("GenerateAccessToken(%s): %v", bucketSA, err)
	}
	impersonated := st.storage(t, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: resp.GetAccessToken()}))
	if got, err := readObject(ctx, impersonated, "zenml-bucket-sl", "data/train.csv"); err != nil || !strings.HasPrefix(got, "x,y") {
		t.Errorf("impersonated read zenml-bucket-sl/data/train.csv = %q, %v; want the CSV", got, err)
	}
	w := impersonated.Bucket("zenml-bucket-sl").Object("out/result.txt").NewWriter(ctx)
	w.Write([]byte("written by the impersonated SA"))
	if err := w.Close(); err != nil {
		t.Errorf("impersonated write: %v", err)
	}
	if _, err := readObject(ctx, impersonated, "zenml-internal-artifact-store", "runs/1/model.pkl"); gcsCode(err) != 403 {
		t.Errorf("impersonated read of another bucket error = %v; want 403", err)
	}
	if _, err := impersonated.Buckets(ctx, "zenml-core").Next(); gcsCode(err) != 403 {
		t.Errorf("impersonated Buckets error = %v; want 403 (bucket-level grant only)", err)
	}

	// Down-scoping through the real downscope package; its STS URL is a
	// constant, so the HTTP client sends it to the fake's STS.
	sts, _ := url.Parse(st.env["GCPCONN_ENDPOINT_STS"])
	hc := &http.Client{Transport: rewrite{host: "sts.googleapis.com", to: sts}}
	dctx := context.WithValue(ctx, oauth2.HTTPClient, hc)
	downTS, err := downscope.NewTokenSource(dctx, downscope.DownscopingConfig{
		RootSource: st.keyTokenSource(t, adminSA),
		Rules: []downscope.AccessBoundaryRule{{
			AvailableResource:    "//storage.googleapis.com/projects/_/buckets/zenml-internal-artifact-store",
			AvailablePermissions: []string{"inRole:roles/storage.objectViewer"},
			Condition: &downscope.AvailabilityCondition{
				Expression: "resource.name.startsWith('projects/_/buckets/zenml-internal-artifact-store/objects/customer-a/')",
			},
		}},
	})
	if err != nil {
		t.Fatalf("downscope.NewTokenSource: %v", err)
	}
	tok, err := downTS.Token()
	if err != nil {
		t.Fatalf("down-scoped Token: %v", err)
	}
	down := st.storage(t, oauth2.StaticTokenSource(tok))
	if got, err := readObject(ctx, down, "zenml-internal-artifact-store", "customer-a/report.txt"); err != nil || got != "customer a\n" {
		t.Errorf("down-scoped read of its prefix = %q, %v; want %q", got, err, "customer a\n")
	}
	for _, o := range []struct{ bucket, object string }{
		{"zenml-internal-artifact-store", "customer-b/report.txt"},
		{"zenml-bucket-sl", "README.txt"},
	} {
		if _, err := readObject(ctx, down, o.bucket, o.object); gcsCode(err) != 403 {
			t.Errorf("down-scoped read %s/%s error = %v; want 403", o.bucket, o.object, err)
		}
	}
	w = down.Bucket("zenml-internal-artifact-store").Object("customer-a/new.txt").NewWriter(ctx)
	w.Write([]byte("no"))
	if err := w.Close(); gcsCode(err) != 403 {
		t.Errorf("down-scoped write error = %v; want 403 (objectViewer only)", err)
	}
	if n := st.srv.Faults().Count("storage.objects.get"); n < 4 {
		t.Errorf("Count(storage.objects.get) = %d; want at least 4", n)
	}
}

type rewrite struct {
	host string
	to   *url.URL
}

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == rw.host {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = rw.to.Scheme, rw.to.Host, rw.to.Host
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestResourceClientsThroughStart(t *testing.T) {
	st := startStack(t, fakegcp.Options{})
	ctx := context.Background()
	ts := st.keyTokenSource(t, adminSA)

	gkeClient, err := container.NewClusterManagerRESTClient(ctx, option.WithEndpoint(st.env["GCPCONN_ENDPOINT_CONTAINER"]), option.WithTokenSource(ts))
	if err != nil {
		t.Fatal(err)
	}
	defer gkeClient.Close()
	clusters, err := gkeClient.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/zenml-core/locations/-"})
	if err != nil || len(clusters.GetClusters()) != 1 || clusters.GetClusters()[0].GetName() != "zenml-test-cluster" {
		t.Fatalf("ListClusters = %v, %v; want zenml-test-cluster", clusters, err)
	}
	dns := clusters.GetClusters()[0].GetControlPlaneEndpointsConfig().GetDnsEndpointConfig().GetEndpoint()
	if !strings.Contains(st.env["GCPCONN_GKE_DNS_ENDPOINTS"], dns+"=") {
		t.Errorf("DNS endpoint %q missing from GCPCONN_GKE_DNS_ENDPOINTS=%q", dns, st.env["GCPCONN_GKE_DNS_ENDPOINTS"])
	}

	ar, err := artifactregistry.NewRESTClient(ctx, option.WithEndpoint(st.env["GCPCONN_ENDPOINT_ARTIFACTREGISTRY"]), option.WithTokenSource(ts))
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	rit := ar.ListRepositories(ctx, &artifactregistrypb.ListRepositoriesRequest{Parent: "projects/zenml-core/locations/europe-west1"})
	var repos []string
	for {
		r, err := rit.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("ListRepositories: %v", err)
		}
		repos = append(repos, r.GetRegistryUri())
	}
	if strings.Join(repos, ",") != "europe-west1-docker.pkg.dev/zenml-core/test" {
		t.Errorf("ListRepositories(europe-west1) = %v", repos)
	}

	sm, err := secretmanager.NewRESTClient(ctx, option.WithEndpoint(st.env["GCPCONN_ENDPOINT_SECRETMANAGER"]), option.WithTokenSource(st.keyTokenSource(t, runtime)))
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	if _, err := sm.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/zenml-core", SecretId: "conn",
		Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}}}); err != nil {
		t.Fatalf("CreateSecret as the runtime SA: %v", err)
	}
	if _, err := sm.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/zenml-core/secrets/conn", Payload: &secretmanagerpb.SecretPayload{Data: []byte("k")}}); err != nil {
		t.Fatalf("AddSecretVersion: %v", err)
	}
	if v, err := sm.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/zenml-core/secrets/conn/versions/latest"}); err != nil || string(v.GetPayload().GetData()) != "k" {
		t.Errorf("AccessSecretVersion = %v, %v; want k", v, err)
	}

	crm, err := cloudresourcemanager.NewService(ctx, option.WithEndpoint(st.env["GCPCONN_ENDPOINT_RESOURCEMANAGER"]), option.WithTokenSource(ts))
	if err != nil {
		t.Fatal(err)
	}
	p, err := crm.Projects.Get("zenml-core").Do()
	if err != nil || p.ProjectNumber != 728294510346 {
		t.Errorf("Projects.Get(zenml-core) = %+v, %v; want number 728294510346", p, err)
	}
	for _, endpoint := range []string{"container.clusters.list", "artifactregistry.repositories.list", "secretmanager.versions.access", "resourcemanager.projects.get"} {
		if st.srv.Faults().Count(endpoint) != 1 {
			t.Errorf("Count(%s) = %d; want 1", endpoint, st.srv.Faults().Count(endpoint))
		}
	}
}

func TestDockerLoginThroughStart(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not found on PATH; install the docker CLI to run the docker login check")
	}
	st := startStack(t, fakegcp.Options{})
	tok, err := st.keyTokenSource(t, adminSA).Token()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		password string
		ok       bool
	}{{tok.AccessToken, true}, {"ya29.wrong", false}} {
		cmd := exec.Command("docker", "login", st.env["GCPCONN_DOCKER_REGISTRY_HOST"], "-u", "oauth2accesstoken", "--password-stdin")
		cmd.Stdin = strings.NewReader(tc.password)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if tc.ok != (err == nil && strings.Contains(string(out), "Login Succeeded")) {
			t.Errorf("docker login (valid token: %v) = %q, %v", tc.ok, out, err)
		}
	}
}
