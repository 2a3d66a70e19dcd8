package main

import (
	"bufio"
	"bytes"
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

	"gopkg.in/yaml.v3"

	"github.com/gcpconn/gcpconn/functions/client"
	"github.com/gcpconn/gcpconn/functions/client/clienttest"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// registerAdmin registers NAME as alice with the connectors-admin key and extra args.
func registerAdmin(t *testing.T, w *world, name string, args ...string) {
	t.Helper()
	key, err := w.stack.Fake.KeyJSON(admin)
	if err != nil {
		t.Fatal(err)
	}
	p := w.writeFile(name+"-key.json", key)
	w.ok(append([]string{"register", name, "--auth-method", "service-account", "--service_account_json=@" + p}, args...)...)
}

// TestLoginKubectl: login writes a kubeconfig context whose exec plugin runs gcpconn, and
// kubectl reaches the fake cluster with it, fetching a token through gcpconn on each run.
func TestLoginKubectl(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl not found on PATH; install kubectl to run the kubeconfig check")
	}
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	registerAdmin(t, w, "gcp-k8s", "--resource-type", "kubernetes-cluster")
	kc := w.writeFile("kube/config", []byte(`apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: other
  user: {token: other-token}
contexts:
- name: other
  context: {cluster: other, user: other}
current-context: other
preferences: {}
`))
	w.extra = []string{"KUBECONFIG=" + kc}

	out := w.ok("login", "gcp-k8s", "--resource-type", "kubernetes-cluster", "--resource-id", "zenml-test-cluster")
	const ctxName = "gke_zenml-core_us-east1_zenml-test-cluster"
	if !strings.Contains(out, `Context "`+ctxName+`" created.`) || !strings.Contains(out, "The current kubectl context was set to '"+ctxName+"'") {
		t.Errorf("login output:\n%s", out)
	}
	var cfg struct {
		Current  string `yaml:"current-context"`
		Contexts []struct{ Name string }
		Users    []struct {
			Name string
			User struct {
				Token string
				Exec  struct {
					APIVersion      string `yaml:"apiVersion"`
					Command         string
					Args            []string
					InteractiveMode string `yaml:"interactiveMode"`
					Env             []struct{ Name, Value string }
				}
			}
		}
		Preferences map[string]any
	}
	b, _ := os.ReadFile(kc)
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Current != ctxName || len(cfg.Contexts) != 2 || len(cfg.Users) != 2 || cfg.Preferences == nil {
		t.Errorf("kubeconfig after login: current %q, %d contexts, %d users, preferences %v; want the other context kept", cfg.Current, len(cfg.Contexts), len(cfg.Users), cfg.Preferences)
	}
	ex := cfg.Users[1].User.Exec
	if ex.APIVersion != "client.authentication.k8s.io/v1" || ex.Command != "gcpconn" || ex.InteractiveMode != "Never" ||
		strings.Join(ex.Args[:2], " ") != "token --exec-credential" || !strings.Contains(strings.Join(ex.Args, " "), "--resource-type kubernetes-cluster --resource-id us-east1/zenml-test-cluster") ||
		len(ex.Env) == 0 || ex.Env[0].Value != s.URL {
		t.Errorf("exec user = %+v", ex)
	}

	for i := 1; i <= 2; i++ {
		mints := s.Calls("/mint-token")
		o, e, code := w.runProgram("", "kubectl", "--kubeconfig", kc, "--context", ctxName, "get", "--raw", "/version")
		if code != 0 || !strings.Contains(o, "gitVersion") {
			t.Fatalf("kubectl get --raw /version (run %d): exit %d\n%s\n%s", i, code, o, e)
		}
		// kubectl keeps exec credentials in memory only: every process runs the plugin.
		if s.Calls("/mint-token") == mints {
			t.Errorf("kubectl run %d did not fetch a token through the exec plugin", i)
		}
	}
	// A caller who may not use the connector: the plugin fails and kubectl says so.
	ww := *w
	ww.email = bob
	if _, e, code := ww.runProgram("", "kubectl", "--kubeconfig", kc, "get", "--raw", "/version"); code == 0 || !strings.Contains(e, "not_found") {
		t.Errorf("kubectl as bob: exit %d, stderr %q; want the plugin's not_found", code, e)
	}

	// --static: a token in the kubeconfig, no plugin.
	w.ok("login", "gcp-k8s", "--resource-type", "kubernetes-cluster", "--resource-id", "us-east1/zenml-test-cluster", "--static")
	before := s.Calls("/mint-token")
	if o, e, code := w.runProgram("", "kubectl", "--kubeconfig", kc, "get", "--raw", "/version"); code != 0 || !strings.Contains(o, "gitVersion") {
		t.Fatalf("kubectl with the static token: exit %d\n%s", code, e)
	}
	if s.Calls("/mint-token") != before {
		t.Errorf("kubectl with a static token called mint-token")
	}
}

func TestExecCredential(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	registerAdmin(t, w, "gcp-k8s", "--resource-type", "kubernetes-cluster")
	out := w.ok("token", "--exec-credential", "gcp-k8s", "--resource-type", "kubernetes-cluster", "--resource-id", "us-east1/zenml-test-cluster")
	var ec struct {
		APIVersion, Kind string
		Status           struct {
			Token               string
			ExpirationTimestamp string
		}
	}
	if err := json.Unmarshal([]byte(out), &ec); err != nil {
		t.Fatalf("ExecCredential %q: %v", out, err)
	}
	cred := w.ok("token", "gcp-k8s", "--resource-type", "kubernetes-cluster", "--resource-id", "us-east1/zenml-test-cluster", "-o", "json")
	var c struct {
		AccessToken string `json:"access_token"`
		ExpiresAt   string `json:"expires_at"`
	}
	_ = json.Unmarshal([]byte(cred), &c)
	if ec.APIVersion != "client.authentication.k8s.io/v1" || ec.Kind != "ExecCredential" || ec.Status.Token != c.AccessToken || ec.Status.ExpirationTimestamp >= c.ExpiresAt {
		t.Errorf("ExecCredential = %+v; want the token of %+v, expiring before it does", ec, c)
	}
}

// TestLoginDocker: login points docker's credHelpers at gcpconn; the helper protocol and the
// docker CLI itself log in to the fake registry.
func TestLoginDocker(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	registerAdmin(t, w, "gcp-docker", "--resource-type", "docker-registry")
	w.writeFile(".docker/config.json", []byte(`{"auths":{"example.com":{"auth":"dXNlcjpwdw=="}},"credHelpers":{"gcr.io":"gcloud"},"psFormat":"table"}`))

	out := w.ok("login", "gcp-docker", "--resource-type", "docker-registry", "--resource-id", "europe-west1-docker.pkg.dev/zenml-core/test")
	if !strings.Contains(out, "docker-credential-gcpconn") {
		t.Errorf("login output: %s", out)
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(w.home, ".docker", "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	host := ""
	for _, kv := range s.Env {
		if v, ok := strings.CutPrefix(kv, "GCPCONN_DOCKER_REGISTRY_HOST="); ok {
			host = v
		}
	}
	helpers, _ := cfg["credHelpers"].(map[string]any)
	if helpers[host] != "gcpconn" || helpers["gcr.io"] != "gcloud" || cfg["psFormat"] != "table" || cfg["auths"] == nil {
		t.Errorf("docker config after login = %s; want credHelpers[%s]=gcpconn and the rest kept", b, host)
	}

	helper := filepath.Join(binDir, "docker-credential-gcpconn")
	o, e, code := w.runProgram("https://"+host+"\n", helper, "get")
	var got struct{ ServerURL, Username, Secret string }
	if code != 0 || json.Unmarshal([]byte(o), &got) != nil || got.ServerURL != "https://"+host || got.Username != "oauth2accesstoken" || !strings.HasPrefix(got.Secret, "ya29.") {
		t.Errorf("docker-credential-gcpconn get = exit %d %q %q", code, o, e)
	}
	if o, _, code := w.runProgram("unknown.example\n", helper, "get"); code == 0 || strings.TrimSpace(o) != errCredentialsNotFound {
		t.Errorf("get for an unknown host = exit %d %q; want %q", code, o, errCredentialsNotFound)
	}
	if o, _, code := w.runProgram("", helper, "list"); code != 0 || !strings.Contains(o, host) {
		t.Errorf("list = exit %d %q", code, o)
	}
	if _, _, code := w.runProgram(`{"ServerURL":"x","Username":"u","Secret":"s"}`, helper, "store"); code != 0 {
		t.Errorf("store = exit %d; want 0", code)
	}
	if o, _, code := w.runProgram(host+"\n", filepath.Join(binDir, "gcpconn"), "docker-credential-helper", "get"); code != 0 || !strings.Contains(o, "oauth2accesstoken") {
		t.Errorf("gcpconn docker-credential-helper get = exit %d %q", code, o)
	}

	// The helper names the connector by id: a rename does not break it.
	w.ok("update", "gcp-docker", "--name", "gcp-docker-renamed")
	if o, e, code := w.runProgram(host+"\n", helper, "get"); code != 0 || !strings.Contains(o, "oauth2accesstoken") {
		t.Errorf("get after a rename = exit %d %q %q", code, o, e)
	}

	if _, err := exec.LookPath("docker"); err == nil {
		// The docker CLI (no daemon here) logs in to the fake registry with the helper's
		// token: it pings /v2/ itself and then hands the credentials to the helper's store.
		o, e, code := w.runProgram(got.Secret+"\n", "docker", "login", "-u", "oauth2accesstoken", "--password-stdin", host)
		if code != 0 || !strings.Contains(o+e, "Login Succeeded") {
			t.Errorf("docker login %s with the helper's token: exit %d\n%s\n%s", host, code, o, e)
		}
		if o, e, code := w.runProgram("not-a-token\n", "docker", "login", "-u", "oauth2accesstoken", "--password-stdin", host); code == 0 {
			t.Errorf("docker login with a bad token succeeded: %s %s", o, e)
		}
	}

	if _, _, code := w.runProgram(host+"\n", helper, "erase"); code != 0 {
		t.Errorf("erase = exit %d", code)
	}
	if o, _, code := w.runProgram(host+"\n", helper, "get"); code == 0 || strings.TrimSpace(o) != errCredentialsNotFound {
		t.Errorf("get after erase = exit %d %q", code, o)
	}

	// --static stores the token like docker login does.
	w.ok("login", "gcp-docker-renamed", "--resource-type", "docker-registry", "--resource-id", "europe-west1-docker.pkg.dev/zenml-core/test", "--static")
	b, _ = os.ReadFile(filepath.Join(w.home, ".docker", "config.json"))
	_ = json.Unmarshal(b, &cfg)
	auths, _ := cfg["auths"].(map[string]any)
	if auths[host] == nil || auths["example.com"] == nil {
		t.Errorf("auths after --static = %v", auths)
	}

	// A docker config that is not JSON is left alone and reported.
	bad := w.writeFile(".docker/config.json", []byte("{not json"))
	if _, errOut, code := w.gcpconn("login", "gcp-docker-renamed", "--resource-type", "docker-registry", "--resource-id", "europe-west1-docker.pkg.dev/zenml-core/test"); code != exitFailure || !strings.Contains(errOut, "is not a JSON object") {
		t.Errorf("login with a broken docker config = exit %d %q; want %d", code, errOut, exitFailure)
	}
	if b, _ := os.ReadFile(bad); string(b) != "{not json" {
		t.Errorf("login rewrote a docker config it could not parse: %q", b)
	}
}

// pageRegistries are the product page's nine docker-registry resources of the multi-type
// connector, in its order.
var pageRegistries = []string{
	"gcr.io/zenml-core", "us.gcr.io/zenml-core", "eu.gcr.io/zenml-core", "asia.gcr.io/zenml-core",
	"asia-docker.pkg.dev/zenml-core/asia.gcr.io", "europe-docker.pkg.dev/zenml-core/eu.gcr.io",
	"europe-west1-docker.pkg.dev/zenml-core/test", "us-docker.pkg.dev/zenml-core/gcr.io",
	"us-docker.pkg.dev/zenml-core/us.gcr.io",
}

// TestLoginDockerEveryPageRegistry: `gcpconn login` configures docker for each of the product
// page's nine docker-registry ids of a multi-type connector (and for the resource-name spelling
// of a gcr.io-domain repository), recording the canonical id; the credential helper then hands
// out a token that the fake registry (and the docker CLI, when installed) accepts.
func TestLoginDockerEveryPageRegistry(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	registerAdmin(t, w, "gcp-multi")
	host := ""
	for _, kv := range s.Env {
		if v, ok := strings.CutPrefix(kv, "GCPCONN_DOCKER_REGISTRY_HOST="); ok {
			host = v
		}
	}
	_, docker := exec.LookPath("docker")
	ids := map[string]string{"projects/zenml-core/locations/us/repositories/gcr.io": "us-docker.pkg.dev/zenml-core/gcr.io"}
	for _, id := range pageRegistries {
		ids[id] = id
	}
	for id, canonical := range ids {
		w.ok("login", "gcp-multi", "--resource-type", "docker-registry", "--resource-id", id)
		var regs map[string]struct {
			ResourceID string `json:"resource_id"`
		}
		b, _ := os.ReadFile(filepath.Join(w.home, ".config", "gcpconn", "docker-registries.json"))
		if err := json.Unmarshal(b, &regs); err != nil || regs[host].ResourceID != canonical {
			t.Errorf("login %s recorded %s; want resource_id %q for %s", id, b, canonical, host)
		}
		o, e, code := w.runProgram(host+"\n", filepath.Join(binDir, "docker-credential-gcpconn"), "get")
		var got struct{ Username, Secret string }
		if code != 0 || json.Unmarshal([]byte(o), &got) != nil || got.Username != "oauth2accesstoken" || got.Secret == "" {
			t.Errorf("credential helper get after login %s = exit %d %q %q", id, code, o, e)
			continue
		}
		if docker != nil {
			continue
		}
		if o, e, code := w.runProgram(got.Secret+"\n", "docker", "login", "-u", "oauth2accesstoken", "--password-stdin", host); code != 0 || !strings.Contains(o+e, "Login Succeeded") {
			t.Errorf("docker login with the token for %s: exit %d\n%s\n%s", id, code, o, e)
		}
	}
}

// TestLoginADC: a connector that hands out its stored key writes it as the ADC file; one that
// hands out tokens refuses (no ADC type holds a bare token) and --static writes a token file.
func TestLoginADC(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	registerAdmin(t, w, "gcp-key", "--resource-type", "gcp-generic", "--generate_temporary_tokens=false")
	registerAdmin(t, w, "gcp-tokens", "--resource-type", "gcs-bucket")

	out := w.ok("login", "gcp-key", "--resource-type", "gcp-generic")
	adc := filepath.Join(w.home, ".config", "gcloud", "application_default_credentials.json")
	if !strings.Contains(out, adc) {
		t.Errorf("login output %q does not name %s", out, adc)
	}
	key, _ := s.Fake.KeyJSON(admin)
	var got, want map[string]any
	b, _ := os.ReadFile(adc)
	_ = json.Unmarshal(b, &got)
	_ = json.Unmarshal(key, &want)
	if got["type"] != "service_account" || got["private_key"] != want["private_key"] {
		t.Errorf("ADC file is not the connector's key")
	}
	if fi, err := os.Stat(adc); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ADC file mode = %v, %v; want 0600", fi, err)
	}
	// No token to hand kubectl: an error that does not show the stored key.
	stdout, errOut, code := w.gcpconn("token", "gcp-key", "--resource-type", "gcp-generic", "--exec-credential")
	if code != exitFailure || stdout != "" || !strings.Contains(errOut, "stored credentials") || strings.Contains(errOut+stdout, "PRIVATE KEY") {
		t.Errorf("token --exec-credential of a stored-credentials connector = exit %d, stdout %q, stderr %q; want %d, nothing on stdout, and no key", code, stdout, errOut, exitFailure)
	}

	_, errOut, code = w.gcpconn("login", "gcp-tokens", "--resource-type", "gcs-bucket", "--resource-id", "gs://zenml-bucket-sl")
	if code != exitRefused || !strings.Contains(errOut, "serve-metadata") {
		t.Errorf("login of a token connector = exit %d %q; want %d and the alternatives", code, errOut, exitRefused)
	}
	tf := filepath.Join(w.home, "token")
	w.ok("login", "gcp-tokens", "--resource-type", "gcs-bucket", "--resource-id", "gs://zenml-bucket-sl", "--static", "--token-file", tf)
	if b, err := os.ReadFile(tf); err != nil || !strings.HasPrefix(string(b), "ya29.") {
		t.Errorf("token file = %q, %v", b, err)
	}
}

// TestKubectlProxyRefresh: one long-running kubectl process (kubectl proxy) asks the exec
// plugin again once the ExecCredential has expired: with --max-age 0 that is every request,
// so a deleted connector stops working for it at once.
func TestKubectlProxyRefresh(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl not found on PATH; install kubectl to run the kubeconfig check")
	}
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	registerAdmin(t, w, "gcp-k8s", "--resource-type", "kubernetes-cluster")
	kc := filepath.Join(w.home, "kubeconfig")
	w.extra = []string{"KUBECONFIG=" + kc}
	w.ok("login", "gcp-k8s", "--resource-type", "kubernetes-cluster", "--resource-id", "zenml-test-cluster", "--max-age", "0s")

	proxy := exec.Command("kubectl", "proxy", "--port=0")
	proxy.Env = w.env()
	stdout, err := proxy.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var proxyErr strings.Builder
	proxy.Stderr = &proxyErr
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = proxy.Process.Kill() // by PID: the process this test started
		_ = proxy.Wait()
	})
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "Starting to serve on ")
	if !ok {
		t.Fatalf("kubectl proxy printed %q; stderr %s", line, proxyErr.String())
	}
	get := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/version")
		if err != nil {
			t.Fatalf("GET through kubectl proxy: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i := 1; i <= 3; i++ {
		mints := s.Calls("/mint-token")
		code, body := get()
		if code != http.StatusOK || !strings.Contains(body, "gitVersion") {
			t.Fatalf("request %d through kubectl proxy = %d %s", i, code, body)
		}
		if s.Calls("/mint-token") == mints {
			t.Errorf("request %d: the kubectl process did not run the exec plugin again after the credential expired", i)
		}
	}
	w.ok("delete", "gcp-k8s")
	if code, body := get(); code == http.StatusOK {
		t.Errorf("request after the connector was deleted = %d %s; want a failure", code, body)
	}
}

func TestExecCredentialExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		expires time.Time
		maxAge  time.Duration
		want    string
	}{
		{now.Add(time.Hour), -1, "2026-01-01T00:58:00Z"},              // two minutes early
		{now.Add(time.Minute), -1, "2026-01-01T00:01:00Z"},            // too close: the real expiry
		{now.Add(time.Hour), 5 * time.Minute, "2026-01-01T00:05:00Z"}, // max age
		{now.Add(time.Hour), 0, "2026-01-01T00:00:00Z"},               // ask for every request
		{now.Add(10 * time.Minute), time.Hour, "2026-01-01T00:08:00Z"},
	}
	for _, tt := range tests {
		ec := newExecCredential(&client.Credential{AccessToken: "t", ExpiresAt: tt.expires}, now, tt.maxAge)
		if ec.Status.ExpirationTimestamp != tt.want || ec.APIVersion != "client.authentication.k8s.io/v1" {
			t.Errorf("newExecCredential(expires %v) = %+v; want expirationTimestamp %s", tt.expires, ec, tt.want)
		}
	}
}

func TestLoginKubernetesMalformedKubeconfig(t *testing.T) {
	tests := []struct {
		name, kubeconfig string
	}{
		{"not yaml", "{"},
		{"no context", "clusters: [{name: c, cluster: {server: https://x}}]\nusers: [{name: c, user: {exec: {}}}]\ncontexts: [{name: c, context: {cluster: c}}]\n"},
		{"cluster not a map", "current-context: c\nclusters: [x]\nusers: [{name: c, user: {exec: {}}}]\ncontexts: [{name: c, context: {cluster: c}}]\n"},
		{"cluster without cluster", "current-context: c\nclusters: [{name: c}]\nusers: [{name: c, user: {exec: {}}}]\ncontexts: [{name: c, context: {cluster: c}}]\n"},
		{"context without context", "current-context: c\nclusters: [{name: c, cluster: {server: https://x}}]\nusers: [{name: c, user: {exec: {}}}]\ncontexts: [{name: c}]\n"},
		{"user without exec", "current-context: c\nclusters: [{name: c, cluster: {server: https://x}}]\nusers: [{name: c, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c}}]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config")
			e := &env{Stdout: new(bytes.Buffer), Stderr: new(bytes.Buffer), Getenv: func(string) string { return "" }, global: &parsed{Flags: map[string][]string{}}}
			p := &parsed{Flags: map[string][]string{"kubeconfig": {path}}}
			cred := &client.Credential{AccessToken: "secret-token", Kubernetes: &client.Kubernetes{Kubeconfig: tt.kubeconfig}}
			err := loginKubernetes(e, p, "k", cred)
			if err == nil {
				t.Fatalf("loginKubernetes(%q) = nil; want an error", tt.kubeconfig)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("loginKubernetes error %q holds the token", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("loginKubernetes(%q) wrote %s (stat: %v); want nothing written", tt.kubeconfig, path, err)
			}
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "config")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "home", ".kube", "config")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(link, []byte("new"), 0o600); err != nil {
		t.Fatalf("writeFileAtomic(symlink): %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("after writeFileAtomic(%s) the path is no longer a symlink (%v, %v)", link, fi, err)
	}
	if b, _ := os.ReadFile(real); string(b) != "new" {
		t.Errorf("symlink target holds %q; want %q", b, "new")
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of %s = %v; want 0600", real, fi.Mode().Perm())
	}

	fresh := filepath.Join(dir, "new", "sub", "token")
	if err := writeFileAtomic(fresh, []byte("t"), 0o600); err != nil {
		t.Fatalf("writeFileAtomic(%s): %v", fresh, err)
	}
	for _, d := range []string{filepath.Join(dir, "new"), filepath.Join(dir, "new", "sub")} {
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
			t.Errorf("mode of new directory %s = %v; want 0700", d, fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(fresh))
	if len(entries) != 1 {
		t.Errorf("directory %s holds %d entries; want only the file (no temporary left)", filepath.Dir(fresh), len(entries))
	}
}

// TestLoginHandlesEveryType checks that login configures a client for every resource type in
// package resourcetype's records, that its help says how, and that an unknown or missing type
// is refused with the list of types: a resource type (or a login kind) added to the records
// without its login handling fails here.
func TestLoginHandlesEveryType(t *testing.T) {
	help := loginCommand().Help
	for _, info := range resourcetype.All() {
		if _, ok := logins[info.Login]; !ok || !slices.Contains(loginOrder, info.Login) {
			t.Errorf("%s: login has nothing that configures its login kind %d", info.Type, info.Login)
		}
		if !strings.Contains(help, string(info.Type)) {
			t.Errorf("%s: login's help does not say what it configures for it", info.Type)
		}
		if !strings.Contains(loginTypes(), string(info.Type)) {
			t.Errorf("%s: missing from the types login lists: %s", info.Type, loginTypes())
		}
	}
	const types = "kubernetes-cluster, docker-registry, gcp-generic or gcs-bucket"
	if got := loginTypes(); got != types {
		t.Errorf("loginTypes() = %q; want %q", got, types)
	}
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	registerAdmin(t, w, "gcp-all")
	for args, want := range map[[2]string]string{
		{"--resource-id", "x"}:       "--resource-type is required: " + types,
		{"--resource-type", "vm"}:    `--resource-type "vm": login configures ` + types + " clients",
		{"--resource-type", "login"}: `--resource-type "login": login configures ` + types + " clients",
	} {
		_, errOut, code := w.gcpconn("login", "gcp-all", args[0], args[1])
		if code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("login %s %s = exit %d %q; want %d and %q", args[0], args[1], code, errOut, exitUsage, want)
		}
	}
}
