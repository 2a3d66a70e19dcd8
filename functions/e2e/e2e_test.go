// Package e2e walks the seed's story over HTTP against real processes: the fake Google
// (emulator/cmd/fakegcp), the Firestore emulator when FIRESTORE_EMULATOR_HOST is set (as
// scripts/test.sh does; else the memory store), and functions/cmd/serve. The minted tokens are
// then used with real clients: the Cloud Storage Go client, an HTTPS call to the GKE control
// plane with the kubeconfig's server and CA, the Docker registry API with the docker
// credentials, and the Resource Manager API.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/internal/testbuild"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// proc is a started process, stopped (by PID) when the test ends.
type proc struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

func start(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = &bytes.Buffer{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(bin), cmd.Stderr.(*bytes.Buffer).String())
		}
	})
	return &proc{cmd: cmd, out: bufio.NewReader(stdout)}
}

// readUntil reads stdout lines until one starts with prefix, within 60 s.
func (p *proc) readUntil(t *testing.T, prefix string) []string {
	t.Helper()
	type res struct {
		lines []string
		err   error
	}
	ch := make(chan res, 1)
	go func() {
		var lines []string
		for {
			line, err := p.out.ReadString('\n')
			if err != nil {
				ch <- res{lines, err}
				return
			}
			lines = append(lines, strings.TrimRight(line, "\n"))
			if strings.HasPrefix(line, prefix) {
				ch <- res{lines, nil}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("waiting for %q: %v (read %q)", prefix, r.err, r.lines)
		}
		return r.lines
	case <-time.After(60 * time.Second):
		t.Fatalf("no %q line within 60 s", prefix)
	}
	return nil
}

func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := testbuild.Command(bin, pkg)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c *client) call(method, path string, body any) (int, map[string]any, string) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, string(raw)
}

func (c *client) must(method, path string, body any, want int) (map[string]any, string) {
	c.t.Helper()
	status, m, raw := c.call(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s = %d %s; want %d", method, path, status, raw, want)
	}
	return m, raw
}

func TestSeedStory(t *testing.T) {
	dir := t.TempDir()
	fakeBin := build(t, dir, "./emulator/cmd/fakegcp")
	serveBin := build(t, dir, "./functions/cmd/serve")

	fake := start(t, fakeBin, nil, "-keys-dir", filepath.Join(dir, "keys"))
	env := map[string]string{}
	var envLines []string
	for _, line := range fake.readUntil(t, "# fakegcp ready") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
			envLines = append(envLines, line)
		}
	}
	store := "memory"
	if os.Getenv("FIRESTORE_EMULATOR_HOST") != "" {
		store = "google"
	} else {
		t.Log("FIRESTORE_EMULATOR_HOST is not set: using the memory store (scripts/test.sh sets it)")
	}
	const audience = "https://gcpconn.e2e"
	const me = "platform@zenml.io"
	serveEnv := append(envLines, "GCPCONN_AUDIENCE="+audience, "GCPCONN_ADMINS=admin@zenml.io", "GCPCONN_STORE="+store,
		"GCPCONN_PROJECT=zenml-core", "GCPCONN_FIRESTORE_DATABASE=(default)")
	srv := start(t, serveBin, serveEnv, "-addr", "127.0.0.1:0")
	lines := srv.readUntil(t, "serving ")
	base := strings.Fields(strings.TrimPrefix(lines[len(lines)-1], "serving "))[0]

	// A caller token from the fake's OIDC issuer.
	resp, err := http.Post(env["FAKEGCP_ADMIN_URL"]+"/admin/id-token", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"audience":%q}`, me, audience)))
	if err != nil {
		t.Fatal(err)
	}
	var idt struct {
		IDToken string `json:"id_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&idt)
	resp.Body.Close()
	c := &client{t: t, base: base, token: idt.IDToken}
	anon := &client{t: t, base: base}
	if status, _, _ := anon.call("GET", "/list", nil); status != http.StatusUnauthorized {
		t.Fatalf("GET /list without a token = %d; want 401", status)
	}

	// 1. List connector types.
	m, _ := c.must("GET", "/list?types=true", nil, 200)
	types := m["connector_types"].([]any)[0].(map[string]any)
	if len(types["resource_types"].([]any)) != 4 || len(types["auth_methods"].([]any)) != 6 {
		t.Errorf("types = %v; want 4 resource types and 6 auth methods", types)
	}

	// 2. Register a multi-type service-account connector, with verification.
	keyJSON, err := os.ReadFile(filepath.Join(dir, "keys", "connectors-admin@zenml-core.iam.gserviceaccount.com.json"))
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	var key map[string]any
	if err := json.Unmarshal(keyJSON, &key); err != nil {
		t.Fatal(err)
	}
	// Unique per run: the Firestore emulator may outlive one run of this test.
	name := fmt.Sprintf("gcp-zenml-core-%d", time.Now().UnixNano()%1e9)
	m, raw := c.must("POST", "/register", map[string]any{
		"name": name, "auth_method": "service-account",
		"configuration": map[string]any{"project_id": "zenml-core", "service_account_json": key},
		"description":   "the seed's multi-type connector",
	}, 201)
	if conn := m["connector"].(map[string]any); conn["owner"] != me || conn["name"] != name {
		t.Errorf("registered connector = %v; want %s owned by %s", conn, name, me)
	}
	if !strings.Contains(raw, "gs://zenml-bucket-sl") || !strings.Contains(raw, "zenml-test-cluster") {
		t.Errorf("register's verification does not list the demo resources: %s", raw)
	}

	// 3. Describe: no secret values.
	_, raw = c.must("GET", "/list?connector="+name, nil, 200)
	if strings.Contains(raw, "PRIVATE KEY") || strings.Contains(raw, "private_key") {
		t.Fatalf("describe reveals the key: %s", raw)
	}

	// 4. Verify.
	m, raw = c.must("POST", "/verify", map[string]any{"connector": name}, 200)
	if e, _ := m["error"].(string); e != "" {
		t.Fatalf("verify error: %s", raw)
	}

	ca := x509.NewCertPool()
	pemCA, err := os.ReadFile(env["FAKEGCP_CA_CERT"])
	if err != nil || !ca.AppendCertsFromPEM(pemCA) {
		t.Fatalf("fake CA %q: %v", env["FAKEGCP_CA_CERT"], err)
	}
	ctx := context.Background()
	mint := func(rt, id string) map[string]any {
		t.Helper()
		m, _ := c.must("POST", "/mint-token", map[string]any{"connector": name, "resource_type": rt, "resource_id": id}, 200)
		return m
	}

	// 5a. gcs-bucket: the Cloud Storage client lists the bucket with the (down-scoped) token.
	m = mint("gcs-bucket", "zenml-bucket-sl")
	if m["resource_id"] != "gs://zenml-bucket-sl" {
		t.Errorf("bucket resource_id = %v; want gs://zenml-bucket-sl", m["resource_id"])
	}
	sc, err := storage.NewClient(ctx, option.WithEndpoint(env["GCPCONN_ENDPOINT_STORAGE"]+"/storage/v1/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: m["access_token"].(string)})))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var objects []string
	it := sc.Bucket("zenml-bucket-sl").Objects(ctx, nil)
	for {
		o, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatalf("list objects with the minted token: %v", err)
		}
		objects = append(objects, o.Name)
	}
	if len(objects) != 3 {
		t.Errorf("objects = %v; want the 3 demo objects", objects)
	}
	if _, err := sc.Bucket("zenml-internal-artifact-store").Object("runs/1/model.pkl").NewReader(ctx); err == nil {
		t.Errorf("the bucket token reads another bucket; want it down-scoped")
	}

	// 5b. kubernetes-cluster: the control plane answers /version with the kubeconfig's server and CA.
	m = mint("kubernetes-cluster", "zenml-test-cluster")
	kube := m["kubernetes"].(map[string]any)
	server := kube["server"].(string)
	pool := x509.NewCertPool()
	if caPEM, _ := kube["certificate_authority"].(string); caPEM != "" {
		pool.AppendCertsFromPEM([]byte(caPEM))
	} else {
		pool = ca
	}
	dns := map[string]string{}
	for _, pair := range strings.Split(env["GCPCONN_GKE_DNS_ENDPOINTS"], ",") {
		if k, v, ok := strings.Cut(pair, "="); ok {
			dns[k] = v
		}
	}
	kc := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, _ := net.SplitHostPort(addr)
			if to, ok := dns[host]; ok {
				addr = to
			} else if port == "" {
				addr = host + ":443"
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	req, _ := http.NewRequest("GET", server+"/version", nil)
	req.Header.Set("Authorization", "Bearer "+m["access_token"].(string))
	kresp, err := kc.Do(req)
	if err != nil {
		t.Fatalf("GET %s/version: %v", server, err)
	}
	kresp.Body.Close()
	if kresp.StatusCode != 200 || !strings.Contains(kube["kubeconfig"].(string), "client.authentication.k8s.io/v1") {
		t.Errorf("GKE /version = %d; kubeconfig exec plugin present = %v", kresp.StatusCode, strings.Contains(kube["kubeconfig"].(string), "client.authentication.k8s.io/v1"))
	}

	// 5c. docker-registry: the registry API accepts the docker credentials.
	m = mint("docker-registry", "europe-west1-docker.pkg.dev/zenml-core/test")
	d := m["docker"].(map[string]any)
	if d["username"] != "oauth2accesstoken" {
		t.Errorf("docker username = %v", d["username"])
	}
	dc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca}}}
	req, _ = http.NewRequest("GET", "https://"+env["GCPCONN_DOCKER_REGISTRY_HOST"]+"/v2/", nil)
	req.SetBasicAuth(d["username"].(string), d["password"].(string))
	dresp, err := dc.Do(req)
	if err != nil {
		t.Fatalf("docker registry /v2/: %v", err)
	}
	dresp.Body.Close()
	if dresp.StatusCode != 200 {
		t.Errorf("docker registry /v2/ with the minted credentials = %d; want 200", dresp.StatusCode)
	}

	// 5d. gcp-generic: Resource Manager describes the project with the token.
	m = mint("gcp-generic", "")
	req, _ = http.NewRequest("GET", env["GCPCONN_ENDPOINT_RESOURCEMANAGER"]+"/v1/projects/zenml-core", nil)
	req.Header.Set("Authorization", "Bearer "+m["access_token"].(string))
	presp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != 200 {
		t.Errorf("GET projects/zenml-core with the project token = %d; want 200", presp.StatusCode)
	}

	// 6. Delete: gone, and no longer mintable.
	c.must("DELETE", "/register?connector="+name, nil, 204)
	c.must("GET", "/list?connector="+name, nil, 404)
	c.must("POST", "/mint-token", map[string]any{"connector": name, "resource_type": "gcp-generic"}, 404)
}
