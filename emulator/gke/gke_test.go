package gke_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/gke"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const worldYAML = `
projects: [{id: p1, number: 101}, {id: p2, number: 202}]
bindings:
  - {resource: projects/p1, role: roles/container.viewer, members: ["serviceAccount:viewer@p1.iam.gserviceaccount.com"]}
  - {resource: projects/p1/locations/us-east1/clusters/c1, role: roles/container.clusterViewer, members: ["serviceAccount:one@p1.iam.gserviceaccount.com"]}
clusters:
  - {name: c1, project: p1, location: us-east1, dns_endpoint: true}
  - {name: c2, project: p1, location: europe-west1-b}
  - {name: c3, project: p2, location: us-east1}
`

const (
	viewer = "viewer@p1.iam.gserviceaccount.com" // container.viewer on p1
	one    = "one@p1.iam.gserviceaccount.com"    // clusterViewer on c1 only: get, no namespaces
	empty  = "empty@p1.iam.gserviceaccount.com"
)

type fixture struct {
	srv    *gke.Server
	url    string
	tokens *tokens.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	w, err := world.Parse([]byte(worldYAML))
	if err != nil {
		t.Fatalf("world.Parse: %v", err)
	}
	reg := tokens.NewRegistry(time.Now)
	srv, err := gke.New(gke.Options{World: w, Auth: &auth.Guard{World: w, Tokens: reg}})
	if err != nil {
		t.Fatalf("gke.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return &fixture{srv: srv, url: hs.URL, tokens: reg}
}

func (f *fixture) token(email string) string {
	return f.tokens.Issue(tokens.Token{Member: "serviceAccount:" + email, Email: email,
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/userinfo.email"},
		Expiry: time.Now().Add(time.Hour)})
}

func (f *fixture) client(t *testing.T, token string) *container.ClusterManagerClient {
	t.Helper()
	c, err := container.NewClusterManagerRESTClient(context.Background(),
		option.WithEndpoint(f.url), option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	if err != nil {
		t.Fatalf("NewClusterManagerRESTClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func httpCode(err error) int {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae.HTTPCode()
	}
	return 0
}

func TestListClusters(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, email, parent string
		want                []string
		wantCode            int
	}{
		{name: "all locations", email: viewer, parent: "projects/p1/locations/-", want: []string{"c2", "c1"}},
		{name: "one location", email: viewer, parent: "projects/p1/locations/us-east1", want: []string{"c1"}},
		{name: "project number", email: viewer, parent: "projects/101/locations/-", want: []string{"c2", "c1"}},
		{name: "no permission", email: empty, parent: "projects/p1/locations/-", wantCode: 403},
		{name: "cluster-level grant cannot list", email: one, parent: "projects/p1/locations/-", wantCode: 403},
		{name: "other project", email: viewer, parent: "projects/p2/locations/-", wantCode: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.client(t, f.token(tt.email)).ListClusters(context.Background(), &containerpb.ListClustersRequest{Parent: tt.parent})
			if tt.wantCode != 0 {
				if httpCode(err) != tt.wantCode {
					t.Fatalf("ListClusters(%s) error = %v; want %d", tt.parent, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("ListClusters(%s): %v", tt.parent, err)
			}
			var got []string
			for _, c := range resp.GetClusters() {
				got = append(got, c.GetName())
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("ListClusters(%s) = %v; want %v", tt.parent, got, tt.want)
			}
		})
	}
}

func TestGetCluster(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.client(t, f.token(one)).GetCluster(ctx, &containerpb.GetClusterRequest{Name: "projects/p1/locations/us-east1/clusters/c1"})
	if err != nil {
		t.Fatalf("GetCluster(c1): %v", err)
	}
	if !strings.HasPrefix(c.GetEndpoint(), "127.0.0.1:") || c.GetStatus() != containerpb.Cluster_RUNNING || c.GetLocation() != "us-east1" {
		t.Errorf("GetCluster(c1) = endpoint %q status %v location %q; want 127.0.0.1:PORT RUNNING us-east1", c.GetEndpoint(), c.GetStatus(), c.GetLocation())
	}
	dns := c.GetControlPlaneEndpointsConfig().GetDnsEndpointConfig()
	if !strings.HasSuffix(dns.GetEndpoint(), "-101.us-east1.gke.goog") || !dns.GetAllowExternalTraffic() {
		t.Errorf("dnsEndpointConfig = %v; want gke-...-101.us-east1.gke.goog with allowExternalTraffic", dns)
	}
	if got := f.srv.DNSEndpoints()[dns.GetEndpoint()]; got != c.GetEndpoint() {
		t.Errorf("DNSEndpoints()[%s] = %q; want %q", dns.GetEndpoint(), got, c.GetEndpoint())
	}
	// The CA in the cluster object verifies the API server, under both names.
	ca, err := base64.StdEncoding.DecodeString(c.GetMasterAuth().GetClusterCaCertificate())
	if err != nil {
		t.Fatalf("clusterCaCertificate is not base64: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("clusterCaCertificate is not a PEM certificate")
	}
	for _, serverName := range []string{"127.0.0.1", dns.GetEndpoint()} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName}}}
		req, _ := http.NewRequest("GET", "https://"+c.GetEndpoint()+"/version", nil)
		req.Header.Set("Authorization", "Bearer "+f.token(one))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET /version as %s: %v", serverName, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET /version as %s: status %d; want 200", serverName, resp.StatusCode)
		}
	}

	c2, err := f.client(t, f.token(viewer)).GetCluster(ctx, &containerpb.GetClusterRequest{Name: "projects/p1/locations/europe-west1-b/clusters/c2"})
	if err != nil {
		t.Fatalf("GetCluster(c2): %v", err)
	}
	if c2.GetControlPlaneEndpointsConfig().GetDnsEndpointConfig() != nil {
		t.Errorf("c2 has a DNS endpoint; want none")
	}

	for _, tc := range []struct {
		email, name string
		want        int
	}{
		{one, "projects/p1/locations/europe-west1-b/clusters/c2", 403},
		{empty, "projects/p1/locations/us-east1/clusters/c1", 403},
		{viewer, "projects/p1/locations/us-east1/clusters/nope", 404},
		{viewer, "projects/p1/locations/europe-west1/clusters/c1", 404},
	} {
		_, err := f.client(t, f.token(tc.email)).GetCluster(ctx, &containerpb.GetClusterRequest{Name: tc.name})
		if httpCode(err) != tc.want {
			t.Errorf("GetCluster(%s) as %s error = %v; want %d", tc.name, tc.email, err, tc.want)
		}
	}
}

// kubeconfig writes a kubeconfig for the cluster with the given user stanza.
func kubeconfig(t *testing.T, c *containerpb.Cluster, user string) string {
	t.Helper()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: gke
  cluster:
    server: https://%s
    certificate-authority-data: %s
contexts:
- name: gke
  context: {cluster: gke, user: u}
current-context: gke
users:
- name: u
  user:
%s
`, c.GetEndpoint(), c.GetMasterAuth().GetClusterCaCertificate(), user)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func kubectl(t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig, "--request-timeout=20s"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "KUBECACHEDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestKubectl(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl not found on PATH; install kubectl to run the kubectl end-to-end checks")
	}
	f := newFixture(t)
	c, err := f.client(t, f.token(viewer)).GetCluster(context.Background(), &containerpb.GetClusterRequest{Name: "projects/p1/locations/us-east1/clusters/c1"})
	if err != nil {
		t.Fatalf("GetCluster: %v", err)
	}
	plugin := filepath.Join(t.TempDir(), "exec-plugin.sh")
	script := fmt.Sprintf("#!/bin/sh\ncat <<'EOF'\n{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":%q,\"expirationTimestamp\":%q}}\nEOF\n",
		f.token(viewer), time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if err := os.WriteFile(plugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	execUser := fmt.Sprintf("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: %s\n      interactiveMode: Never\n", plugin)
	tests := []struct {
		name    string
		user    string
		args    []string
		wantErr string // "" = success
		want    string
	}{
		{name: "static token version", user: "    token: " + f.token(viewer), args: []string{"get", "--raw", "/version"}, want: `"gitVersion":"v1.33.5-gke.1308000"`},
		{name: "exec plugin version", user: execUser, args: []string{"get", "--raw", "/version"}, want: `"major":"1"`},
		{name: "exec plugin namespaces", user: execUser, args: []string{"get", "namespaces", "-o", "name"}, want: "namespace/kube-system"},
		{name: "wrong token", user: "    token: ya29.wrong", args: []string{"get", "--raw", "/version"}, wantErr: "Unauthorized"},
		{name: "no IAM access", user: "    token: " + f.token(empty), args: []string{"get", "--raw", "/version"}, wantErr: "container.clusters.get"},
		{name: "get without namespaces.list", user: "    token: " + f.token(one), args: []string{"get", "namespaces", "-o", "name"}, wantErr: "container.namespaces.list"},
		// The product page's check after login: the control plane and kube-system's cluster services.
		{name: "cluster-info", user: execUser, args: []string{"cluster-info"}, want: "KubeDNS is running at https://"},
		{name: "cluster-info names every cluster service", user: execUser, args: []string{"cluster-info"}, want: "/api/v1/namespaces/kube-system/services/https:metrics-server:/proxy"},
		{name: "services in one namespace", user: execUser, args: []string{"get", "services", "-n", "kube-system", "-o", "name"}, want: "service/default-http-backend"},
		{name: "cluster-info without services.list", user: "    token: " + f.token(one), args: []string{"cluster-info"}, wantErr: "container.services.list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := kubectl(t, kubeconfig(t, c, tt.user), tt.args...)
			if tt.wantErr == "" {
				if err != nil || !strings.Contains(out, tt.want) {
					t.Fatalf("kubectl %v = %q, %v; want output containing %q", tt.args, out, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(out, tt.wantErr) {
				t.Fatalf("kubectl %v = %q, %v; want failure mentioning %q", tt.args, out, err, tt.wantErr)
			}
		})
	}
}

func TestAPIServerStatus(t *testing.T) {
	f := newFixture(t)
	addr, caPEM, err := f.srv.Endpoint("p1", "us-east1", "c1")
	if err != nil {
		t.Fatalf("Endpoint: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	tests := []struct {
		path, token string
		want        int
	}{
		{"/version", "", 401},
		{"/version", "ya29.unknown", 401},
		{"/api/v1/namespaces", f.token(viewer), 200},
		{"/api/v1/namespaces/default", f.token(viewer), 200},
		{"/api/v1/namespaces/nope", f.token(viewer), 404},
		{"/api/v1/namespaces", f.token(one), 403},
		{"/api/v1/pods", f.token(viewer), 404},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", "https://"+addr+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s status = %d; want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
	names := []string{}
	for n := range f.srv.DNSEndpoints() {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) != 1 {
		t.Errorf("DNSEndpoints() = %v; want one (c1)", names)
	}
}
