package gcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/functions/kubeconfig"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"
)

var owner = connector.Principal{Email: "owner@zenml.io"}

// newService is gcpconn's core over memory stores and the adapter pointed at the fake.
func newService() *connector.Service {
	return &connector.Service{
		Store:   store.NewMemory(),
		Secrets: store.NewMemorySecrets(),
		Google:  newGoogle(),
		Policy:  connector.Policy{AllowImplicit: true},
	}
}

func register(t *testing.T, s *connector.Service, r connector.RegisterRequest) (*connector.Connector, *connector.Resources) {
	t.Helper()
	if r.Configuration == nil {
		r.Configuration = map[string]any{}
	}
	if _, ok := r.Configuration["project_id"]; !ok {
		r.Configuration["project_id"] = project
	}
	c, res, err := s.Register(context.Background(), owner, r)
	if err != nil {
		t.Fatalf("Register(%s) = %v (resources %+v)", r.Name, err, res)
	}
	return c, res
}

func resultFor(res *connector.Resources, rt connector.ResourceType) connector.ResourceResult {
	for _, r := range res.Results {
		if r.ResourceType == rt {
			return r
		}
	}
	return connector.ResourceResult{Error: "no result for " + string(rt)}
}

// readObject reads bucket/object with the real storage client and token.
func readObject(t *testing.T, token, bucket, object string) (string, error) {
	t.Helper()
	ctx := context.Background()
	c, err := storage.NewClient(ctx, option.WithEndpoint(env["GCPCONN_ENDPOINT_STORAGE"]+"/storage/v1/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	if err != nil {
		t.Fatalf("storage.NewClient: %v", err)
	}
	defer c.Close()
	r, err := c.Bucket(bucket).Object(object).NewReader(ctx)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

func TestSeedRegisterTimeListing(t *testing.T) {
	s := newService()
	_, res := register(t, s, connector.RegisterRequest{Name: "gcp-multi", AuthMethod: configschema.ServiceAccount,
		Configuration: map[string]any{"service_account_json": keyJSON(t, adminSA)}})
	want := map[connector.ResourceType][]string{
		resourceid.GCPGeneric:        {project},
		resourceid.GCSBucket:         demoBuckets,
		resourceid.KubernetesCluster: {"us-east1/zenml-test-cluster"},
		resourceid.DockerRegistry:    demoRegistries,
	}
	if res.Error != "" {
		t.Errorf("global error = %q; want none", res.Error)
	}
	for rt, ids := range want {
		if r := resultFor(res, rt); r.Error != "" || !slices.Equal(r.ResourceIDs, ids) {
			t.Errorf("%s = %v (error %q); want %v", rt, r.ResourceIDs, r.Error, ids)
		}
	}
}

func TestSeedEmptyAccount403s(t *testing.T) {
	s := newService()
	c, res := register(t, s, connector.RegisterRequest{Name: "gcp-empty", AuthMethod: configschema.ServiceAccount,
		Configuration: map[string]any{"service_account_json": keyJSON(t, emptySA)}})
	if res.Error != "" {
		t.Errorf("global error = %q; want none (the account authenticates)", res.Error)
	}
	for rt, perm := range map[connector.ResourceType]string{
		resourceid.GCPGeneric:        "permission",
		resourceid.GCSBucket:         emptySA + " does not have storage.buckets.list access",
		resourceid.KubernetesCluster: "container.clusters.list",
		resourceid.DockerRegistry:    "artifactregistry.",
	} {
		if r := resultFor(res, rt); r.ResourceIDs != nil || !strings.Contains(r.Error, perm) {
			t.Errorf("%s = %v, error %q; want Google's 403 text with %q", rt, r.ResourceIDs, r.Error, perm)
		}
	}
	// A kubeconfig needs the cluster's endpoint, which the empty account may not read.
	_, err := s.Mint(context.Background(), owner, connector.MintRequest{Ref: c.Name,
		ResourceType: resourceid.KubernetesCluster, ResourceID: "us-east1/zenml-test-cluster"})
	if connector.KindOf(err) != connector.ErrUpstreamDenied || !strings.Contains(connector.MessageOf(err), "container.clusters.get") {
		t.Errorf("Mint kubeconfig with the empty account = %v; want upstream_denied with Google's text", err)
	}
}

func TestSeedImpersonationReachesOnlyItsBucket(t *testing.T) {
	s := newService()
	c, _ := register(t, s, connector.RegisterRequest{Name: "gcs-zenml-bucket-sl", AuthMethod: configschema.Impersonation,
		ResourceType: resourceid.GCSBucket, ResourceID: "gs://zenml-bucket-sl",
		Configuration: map[string]any{"service_account_json": keyJSON(t, emptySA), "target_principal": bucketSA}})
	cred, err := s.Mint(context.Background(), owner, connector.MintRequest{Ref: c.Name})
	if err != nil {
		t.Fatalf("Mint = %v", err)
	}
	if !cred.Downscoped {
		t.Errorf("bucket credential is not down-scoped")
	}
	if got, err := readObject(t, cred.AccessToken, "zenml-bucket-sl", "README.txt"); err != nil || !strings.Contains(got, "single-instance") {
		t.Errorf("read own bucket = %q, %v; want the README", got, err)
	}
	if _, err := readObject(t, cred.AccessToken, "zenml-internal-artifact-store", "runs/1/model.pkl"); err == nil {
		t.Errorf("read another bucket succeeded; want 403")
	}
	if _, err := s.Mint(context.Background(), owner, connector.MintRequest{Ref: c.Name, ResourceID: "gs://zenml-internal-artifact-store"}); connector.KindOf(err) != connector.ErrPermission {
		t.Errorf("Mint for another bucket = %v; want permission_denied", err)
	}
}

func TestSeedExpiredOAuth2TokenRefused(t *testing.T) {
	google := newGoogle()
	src, err := google.Token(context.Background(), grant(configschema.ServiceAccount,
		connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{}), connector.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s := newService()
	s.Now = func() time.Time { return now }
	exp := now.Add(10 * time.Minute)
	no := false
	c, _ := register(t, s, connector.RegisterRequest{Name: "gcp-token", AuthMethod: configschema.OAuth2Token, ResourceType: resourceid.GCPGeneric,
		ExpiresAt: &exp, Verify: &no, Configuration: map[string]any{"token": src.Value}})
	cred, err := s.Mint(context.Background(), owner, connector.MintRequest{Ref: c.Name})
	if err != nil || cred.AccessToken != src.Value {
		t.Fatalf("Mint with 10 minutes left = %v; want the stored token", err)
	}
	for _, after := range []time.Duration{6 * time.Minute, 11 * time.Minute} {
		now = time.Now().Add(after)
		_, err := s.Mint(context.Background(), owner, connector.MintRequest{Ref: c.Name})
		if connector.KindOf(err) != connector.ErrFailedPrecondition || !strings.Contains(connector.MessageOf(err), "expire") {
			t.Errorf("Mint %s later = %v; want failed_precondition about expiry", after, err)
		}
	}
}

// TestMintPerMethodAndType mints every resource type with every auth method and uses the
// gcs-bucket token with the real storage client.
func TestMintPerMethodAndType(t *testing.T) {
	google := newGoogle()
	src, err := google.Token(context.Background(), grant(configschema.ServiceAccount,
		connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{}), connector.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	exp := src.Expiry
	no := false
	methods := []struct {
		name     string
		req      connector.RegisterRequest
		subject  string
		member   string
		readable bool // may read objects of zenml-bucket-sl
		clusters bool // may describe GKE clusters (needed for a kubeconfig)
	}{
		{"service-account", connector.RegisterRequest{AuthMethod: configschema.ServiceAccount,
			Configuration: map[string]any{"service_account_json": keyJSON(t, adminSA)}}, "", "serviceAccount:" + adminSA, true, true},
		{"user-account", connector.RegisterRequest{AuthMethod: configschema.UserAccount,
			Configuration: map[string]any{"user_account_json": keyJSON(t, userAccount)}}, "", "user:" + userAccount, true, true},
		{"external-account", connector.RegisterRequest{AuthMethod: configschema.ExternalAccount, Verify: &no,
			Configuration: map[string]any{"external_account_json": externalJSON(wifSA)}}, "ci-pipeline", "serviceAccount:" + wifSA, true, true},
		{"oauth2-token", connector.RegisterRequest{AuthMethod: configschema.OAuth2Token, ExpiresAt: &exp,
			Configuration: map[string]any{"token": src.Value}}, "", "serviceAccount:" + adminSA, true, true},
		{"impersonation", connector.RegisterRequest{AuthMethod: configschema.Impersonation,
			Configuration: map[string]any{"target_principal": adminSA}}, "", "serviceAccount:" + adminSA, true, true},
		{"implicit", connector.RegisterRequest{AuthMethod: configschema.Implicit, Verify: &no}, "", "serviceAccount:" + runtimeSA, false, true},
	}
	types := []struct {
		rt connector.ResourceType
		id string
	}{
		{resourceid.GCPGeneric, ""},
		{resourceid.GCSBucket, "gs://zenml-bucket-sl"},
		{resourceid.KubernetesCluster, "zenml-test-cluster"},
		{resourceid.DockerRegistry, "europe-west1-docker.pkg.dev/zenml-core/test"},
	}
	// Every auth method and resource type is minted here: one added without its Google side
	// (credentials.go, resources.go) and a case below fails.
	minted := map[string]bool{}
	for _, m := range methods {
		minted[string(m.req.AuthMethod)] = true
	}
	for _, rt := range types {
		minted[string(rt.rt)] = true
	}
	for _, am := range configschema.Methods() {
		if !minted[string(am)] {
			t.Errorf("auth method %s is not minted by this test", am)
		}
	}
	for _, info := range resourcetype.All() {
		if !minted[string(info.Type)] {
			t.Errorf("resource type %s is not minted by this test", info.Type)
		}
	}
	s := newService()
	for _, m := range methods {
		m.req.Name = "all-" + m.name
		register(t, s, m.req)
		for _, rt := range types {
			t.Run(m.name+"/"+string(rt.rt), func(t *testing.T) {
				req := connector.MintRequest{Ref: m.req.Name, ResourceType: rt.rt, ResourceID: rt.id}
				if m.subject != "" {
					req.SubjectToken = subjectToken(t, m.subject)
				}
				cred, err := s.Mint(context.Background(), owner, req)
				if rt.rt == resourceid.KubernetesCluster && !m.clusters {
					// Minting a kubeconfig describes the cluster with the connector's own
					// credentials: an account without container access gets Google's 403.
					if connector.KindOf(err) != connector.ErrUpstreamDenied || !strings.Contains(connector.MessageOf(err), "container.clusters") {
						t.Errorf("Mint for a cluster without access = %v; want upstream_denied with Google's text", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Mint = %v", err)
				}
				tok, err := fake.Tokens().Lookup(cred.AccessToken)
				if err != nil {
					t.Fatalf("minted token unknown to the fake: %v", err)
				}
				if tok.Member != m.member {
					t.Errorf("token member = %s; want %s", tok.Member, m.member)
				}
				switch rt.rt {
				case resourceid.GCSBucket:
					if tok.Boundary == nil {
						t.Errorf("bucket token has no boundary")
					}
					_, err := readObject(t, cred.AccessToken, "zenml-bucket-sl", "data/train.csv")
					if (err == nil) != m.readable {
						t.Errorf("read zenml-bucket-sl: err = %v; want readable %v", err, m.readable)
					}
					if _, err := readObject(t, cred.AccessToken, "zenml-kubeflow-artifact-store", "pipelines/train.yaml"); err == nil {
						t.Errorf("read another bucket with a bucket token succeeded; want 403")
					}
				case resourceid.KubernetesCluster:
					if m.name != "oauth2-token" && !tok.HasScope(resourcetype.ScopeUserinfoEmail) {
						t.Errorf("cluster token scopes = %v; want userinfo.email", tok.Scopes)
					}
					if k := cred.Kubernetes; k == nil || k.Cluster == "" || k.Server == "" || k.ConnectorRef == "" {
						t.Errorf("kubernetes credential = %+v; want the cluster, its server and the connector", k)
					}
				case resourceid.DockerRegistry:
					if d := cred.Docker; d == nil || d.Registry != env["GCPCONN_DOCKER_REGISTRY_HOST"] || d.Password != cred.AccessToken {
						t.Errorf("docker = %+v; want the fake registry host and the token", d)
					}
				}
			})
		}
	}
}

func mintCluster(t *testing.T) (*connector.Service, *connector.Credential) {
	t.Helper()
	s := newService()
	c, _ := register(t, s, connector.RegisterRequest{Name: "gke", AuthMethod: configschema.ServiceAccount,
		ResourceType: resourceid.KubernetesCluster, ResourceID: "us-east1/zenml-test-cluster",
		Configuration: map[string]any{"service_account_json": keyJSON(t, clusterSA)}})
	cred, err := s.Mint(context.Background(), owner, connector.MintRequest{Ref: c.Name})
	if err != nil {
		t.Fatalf("Mint = %v", err)
	}
	return s, cred
}

// TestKubeconfigWorksWithKubectl runs kubectl with the minted kubeconfig; its exec plugin is
// a stand-in gcpconn script that prints an ExecCredential with the minted token.
func TestKubeconfigWorksWithKubectl(t *testing.T) {
	google := newGoogle()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not found on PATH; install it to run the kubeconfig check")
	}
	_, cred := mintCluster(t)
	dir := t.TempDir()
	ec, _ := json.Marshal(map[string]any{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
		"status": map[string]any{"token": cred.AccessToken, "expirationTimestamp": cred.ExpiresAt.UTC().Format(time.RFC3339)}})
	script := "#!/bin/sh\n# stand-in for the gcpconn CLI: check the arguments, print the credential\n" +
		"[ \"$1 $2\" = \"token --exec-credential\" ] || { echo \"unexpected args: $*\" >&2; exit 2; }\n" +
		"cat <<'EOF'\n" + string(ec) + "\nEOF\n"
	if err := os.WriteFile(filepath.Join(dir, "gcpconn"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "kubeconfig")
	rendered, err := kubeconfig.Render(cred.ProjectID, cred.Kubernetes)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, []byte(rendered), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(path string) (string, error) {
		cmd := exec.Command(kubectl, "--kubeconfig", kc, "get", "namespaces", "-o", "name", "--request-timeout", "20s")
		cmd.Env = append(os.Environ(), "PATH="+path, "HOME="+dir, "KUBECACHEDIR="+filepath.Join(dir, "cache"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(dir + string(os.PathListSeparator) + os.Getenv("PATH"))
	if err != nil || !strings.Contains(out, "namespace/") {
		t.Fatalf("kubectl get namespaces = %q, %v; want namespaces", out, err)
	}
	// Same kubeconfig, but the plugin hands out a token of an account without cluster access.
	other, err := google.Token(context.Background(), grant(configschema.ServiceAccount,
		connector.Secrets{ServiceAccountJSON: keyJSON(t, emptySA)}, connector.Config{}),
		connector.TokenRequest{Scopes: resourcetype.DefaultScopes(resourceid.KubernetesCluster)})
	if err != nil {
		t.Fatal(err)
	}
	script = strings.Replace(script, cred.AccessToken, other.Value, 1)
	if err := os.WriteFile(filepath.Join(dir, "gcpconn"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(dir + string(os.PathListSeparator) + os.Getenv("PATH")); err == nil {
		t.Errorf("kubectl with an account lacking access = %q; want a failure", out)
	}
}

func TestDockerCredentialsWorkWithDockerLogin(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker CLI not found on PATH; install it to run the docker login check")
	}
	s := newService()
	c, _ := register(t, s, connector.RegisterRequest{Name: "registry", AuthMethod: configschema.ServiceAccount,
		ResourceType: resourceid.DockerRegistry, ResourceID: "europe-west1-docker.pkg.dev/zenml-core/test",
		Configuration: map[string]any{"service_account_json": keyJSON(t, registrySA)}})
	cred, err := s.Mint(context.Background(), owner, connector.MintRequest{Ref: c.Name})
	if err != nil {
		t.Fatalf("Mint = %v", err)
	}
	login := func(user, password string) (string, error) {
		cmd := exec.Command(docker, "login", cred.Docker.Registry, "-u", user, "--password-stdin")
		cmd.Stdin = strings.NewReader(password)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := login(cred.Docker.Username, cred.Docker.Password); err != nil || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login = %q, %v; want Login Succeeded", out, err)
	}
	if out, err := login(cred.Docker.Username, "ya29.not-a-token"); err == nil {
		t.Errorf("docker login with a bad token = %q; want failure", out)
	}
}

func TestVerifyThroughService(t *testing.T) {
	s := newService()
	c, _ := register(t, s, connector.RegisterRequest{Name: "multi", AuthMethod: configschema.ServiceAccount,
		Configuration: map[string]any{"service_account_json": keyJSON(t, adminSA)}})
	res, err := s.Verify(context.Background(), owner, connector.VerifyRequest{Ref: c.Name,
		ResourceType: resourceid.KubernetesCluster, ResourceID: "zenml-test-cluster"})
	if err != nil || res.Error != "" || len(res.Results) != 1 || !slices.Equal(res.Results[0].ResourceIDs, []string{"us-east1/zenml-test-cluster"}) {
		t.Errorf("Verify one cluster = %+v, %v; want us-east1/zenml-test-cluster", res, err)
	}
	_, err = s.Verify(context.Background(), connector.Principal{Email: "nobody@zenml.io"}, connector.VerifyRequest{Ref: c.Name})
	if !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("Verify by a stranger = %v; want not_found", err)
	}
}

func TestVerifySpecAndSubjectToken(t *testing.T) {
	s := newService()
	res, err := s.Verify(context.Background(), owner, connector.VerifyRequest{Spec: &connector.RegisterRequest{
		Name: "not-stored", AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCSBucket,
		Configuration: map[string]any{"project_id": project, "service_account_json": keyJSON(t, emptySA)}}})
	if err != nil || !strings.Contains(res.Error, "storage.buckets.list") {
		t.Errorf("Verify(spec of the empty account) = %+v, %v; want Google's 403 as the global error", res, err)
	}
	if _, err := s.Get(context.Background(), owner, "not-stored"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("Get after verifying a spec = %v; want not_found (nothing stored)", err)
	}

	no := false
	c, _ := register(t, s, connector.RegisterRequest{Name: "wif", AuthMethod: configschema.ExternalAccount, Verify: &no,
		ResourceType: resourceid.GCSBucket, Configuration: map[string]any{"external_account_json": externalJSON(wifSA)}})
	res, err = s.Verify(context.Background(), owner, connector.VerifyRequest{Ref: c.Name})
	if err != nil || !strings.Contains(res.Error, "subject token") {
		t.Errorf("Verify(external-account) without a subject token = %+v, %v; want a global error asking for it", res, err)
	}
	res, err = s.Verify(context.Background(), owner, connector.VerifyRequest{Ref: c.Name, SubjectToken: subjectToken(t, "ci-pipeline")})
	// With the subject token the connector authenticates as wif-target, which may read
	// objects but not list buckets: Google's denial names it.
	if err != nil || strings.Contains(res.Error, "subject token") || !strings.Contains(res.Error, wifSA+" does not have storage.buckets.list") {
		t.Errorf("Verify(external-account) with a subject token = %+v, %v; want Google's denial for %s", res, err, wifSA)
	}
}

func TestVerifyHangingServiceIsUnavailable(t *testing.T) {
	f := fake.Faults()
	t.Cleanup(f.Reset)
	s := newService()
	c, _ := register(t, s, connector.RegisterRequest{Name: "multi-hang", AuthMethod: configschema.ServiceAccount,
		Configuration: map[string]any{"service_account_json": keyJSON(t, adminSA)}})
	f.Reset()
	f.Set("artifactregistry.locations.list", faults.Fault{Timeout: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// One hanging Google service makes the check inconclusive (upstream_unavailable, ARCHITECTURE.md:
	// an outage is not a verdict), answered by the caller's deadline, not after it.
	res, err := s.Verify(ctx, owner, connector.VerifyRequest{Ref: c.Name})
	if connector.KindOf(err) != connector.ErrUpstreamUnavailable || res != nil {
		t.Fatalf("Verify with a hanging docker-registry check = %+v, %v; want upstream_unavailable", res, err)
	}
	got, err := s.Get(context.Background(), owner, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.State != c.Status.State || got.Status.Error != c.Status.Error {
		t.Errorf("status after an inconclusive verify = %+v; want the last verdict %+v kept", got.Status, c.Status)
	}
}

// TestEmptyAccountStatus: the product page's empty service account registers as a
// multi-type connector (stored, with its errors), and its status says that no resource type
// was reached, naming them, at registration, after a verify and after a sweep; the owner's
// connector is ok. A single-type bucket registration of the empty account is refused.
func TestEmptyAccountStatus(t *testing.T) {
	ctx := context.Background()
	s := newService()
	all := "gcp-generic,gcs-bucket,kubernetes-cluster,docker-registry"
	c, res := register(t, s, connector.RegisterRequest{Name: "gcp-empty-sa", AuthMethod: configschema.ServiceAccount,
		Configuration: map[string]any{"service_account_json": keyJSON(t, emptySA)}})
	if c.Status.State != connector.StateError || c.Status.FailingTypes != all || len(res.Results) != 4 {
		t.Fatalf("registered status = %+v; want error with every type failing", c.Status)
	}
	register(t, s, connector.RegisterRequest{Name: "gcp-admin", AuthMethod: configschema.ServiceAccount,
		Configuration: map[string]any{"service_account_json": keyJSON(t, adminSA)}})
	if _, err := s.Verify(ctx, owner, connector.VerifyRequest{Ref: "gcp-empty-sa"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, owner, "gcp-empty-sa")
	if err != nil || got.Status.State != connector.StateError || got.Status.FailingTypes != all {
		t.Errorf("status after verify = %+v, %v; want error with every type failing", got, err)
	}
	if _, err := (&upkeep.Keeper{Service: s}).Sweep(ctx, upkeep.SweepOptions{KeepOrphans: true}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]connector.Status{"gcp-empty-sa": {State: connector.StateError, FailingTypes: all}, "gcp-admin": {State: connector.StateOK}} {
		got, err := s.Get(ctx, owner, name)
		if err != nil || got.Status.State != want.State || got.Status.FailingTypes != want.FailingTypes || got.Status.CheckedAt.IsZero() {
			t.Errorf("%s after sweep = %+v, %v; want %+v", name, got.Status, err, want)
		}
	}
	_, _, err = s.Register(ctx, owner, connector.RegisterRequest{Name: "empty-buckets", AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCSBucket,
		Configuration: map[string]any{"project_id": project, "service_account_json": keyJSON(t, emptySA)}})
	if connector.KindOf(err) != connector.ErrInvalid || !strings.Contains(connector.MessageOf(err), "storage.buckets.list") {
		t.Errorf("single-type bucket registration of the empty account = %v; want refused with Google's words", err)
	}
}

// TestMintEveryDemoRegistry mints for each of the product page's nine docker-registry ids with
// the multi-type connector (the gcr.io-domain repositories also in their resource-name
// spelling) and uses the credential against the fake registry: /v2/ answers 200, and for the
// Artifact Registry spellings the repository's tags list does too. With the docker CLI on PATH,
// `docker login` succeeds with it.
func TestMintEveryDemoRegistry(t *testing.T) {
	s := newService()
	c, _ := register(t, s, connector.RegisterRequest{Name: "multi", AuthMethod: configschema.ServiceAccount,
		Configuration: map[string]any{"service_account_json": keyJSON(t, adminSA)}})
	docker, _ := exec.LookPath("docker")
	ids := append(slices.Clone(demoRegistries), "projects/zenml-core/locations/us/repositories/gcr.io",
		"projects/zenml-core/locations/asia/repositories/asia.gcr.io")
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			want, err := resourceid.Canonical(resourceid.DockerRegistry, id, project)
			if err != nil {
				t.Fatal(err)
			}
			cred, err := s.Mint(context.Background(), owner, connector.MintRequest{Ref: c.Name,
				ResourceType: resourceid.DockerRegistry, ResourceID: id})
			if err != nil {
				t.Fatalf("Mint(%s) = %v", id, err)
			}
			if cred.ResourceID != want || cred.Docker == nil || cred.Docker.Registry != env["GCPCONN_DOCKER_REGISTRY_HOST"] {
				t.Fatalf("Mint(%s) = id %q, docker %+v; want %q at the fake registry", id, cred.ResourceID, cred.Docker, want)
			}
			if code := registryGet(t, cred.Docker, "/v2/"); code != http.StatusOK {
				t.Errorf("GET /v2/ with the credential for %s = %d; want 200", id, code)
			}
			r, _ := resourceid.Parse(resourceid.DockerRegistry, want)
			if !r.IsGCR() {
				path := "/v2/" + r.Project + "/" + r.Name + "/app/tags/list"
				if code := registryGet(t, cred.Docker, path); code != http.StatusOK {
					t.Errorf("GET %s with the credential for %s = %d; want 200", path, id, code)
				}
			}
			if docker == "" {
				return
			}
			cmd := exec.Command(docker, "login", cred.Docker.Registry, "-u", cred.Docker.Username, "--password-stdin")
			cmd.Stdin = strings.NewReader(cred.Docker.Password)
			cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "HOME="+t.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Login Succeeded") {
				t.Errorf("docker login with the credential for %s = %q, %v; want Login Succeeded", id, out, err)
			}
		})
	}
}

// registryGet sends GET path to the fake registry with d's Basic credentials and returns the
// status code.
func registryGet(t *testing.T, d *connector.DockerCredential, path string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+d.Registry+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(d.Username, d.Password)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBareClusterNameStoredResolved: a single-instance connector registered (or updated, with
// verification) with a bare cluster name stores the location/name that verification resolved
// it to; without verification nothing is resolved and the name is kept as given.
func TestBareClusterNameStoredResolved(t *testing.T) {
	s := newService()
	ctx := context.Background()
	const want = "us-east1/zenml-test-cluster"
	c, _ := register(t, s, connector.RegisterRequest{Name: "gke-bare", AuthMethod: configschema.ServiceAccount,
		ResourceType: resourceid.KubernetesCluster, ResourceID: "zenml-test-cluster",
		Configuration: map[string]any{"service_account_json": keyJSON(t, adminSA)}})
	if got, err := s.Get(ctx, owner, c.Name); err != nil || c.ResourceID != want || got.ResourceID != want {
		t.Errorf("registered with a bare name: answered %q, stored %+v, %v; want %q", c.ResourceID, got, err, want)
	}

	no, yes := false, true
	c, _ = register(t, s, connector.RegisterRequest{Name: "gke-unverified", AuthMethod: configschema.ServiceAccount, Verify: &no,
		ResourceType: resourceid.KubernetesCluster, ResourceID: "zenml-test-cluster",
		Configuration: map[string]any{"service_account_json": keyJSON(t, adminSA)}})
	if c.ResourceID != "zenml-test-cluster" {
		t.Errorf("registered unverified: resource id %q; want the bare name kept", c.ResourceID)
	}
	u, err := s.Update(ctx, owner, c.Name, connector.UpdateRequest{Verify: &yes})
	if err != nil || u.ResourceID != want {
		t.Errorf("Update with verification = %+v, %v; want resource id %q", u, err, want)
	}
}
