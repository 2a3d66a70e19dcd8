package fakegcp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2/google"

	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(context.Background(), world.Demo(), opts)
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return s
}

func envMap(lines []string) map[string]string {
	m := map[string]string{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

func TestStartEnvAndIdentity(t *testing.T) {
	dir := t.TempDir()
	s := start(t, Options{KeysDir: dir})
	env := envMap(s.Env())
	base := s.BaseURL()
	for _, k := range []string{"GCPCONN_ENDPOINT_OAUTH2", "GCPCONN_ENDPOINT_STS", "GCPCONN_ENDPOINT_IAMCREDENTIALS", "GCPCONN_ISSUER"} {
		if env[k] != base {
			t.Errorf("Env %s = %q; want %q", k, env[k], base)
		}
	}
	if env["GCE_METADATA_HOST"] != strings.TrimPrefix(base, "http://") || env["GCPCONN_JWKS_URL"] != base+"/oauth2/v3/certs" || env["GCPCONN_PROJECT"] != "zenml-core" {
		t.Errorf("Env = %v; want metadata host, JWKS URL and project", env)
	}

	// A caller ID token verifies against the advertised JWKS and issuer.
	idt, err := s.IDToken("alice@example.com", "https://gcpconn.example")
	if err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(idt, "."); len(parts) != 3 {
		t.Fatalf("IDToken = %d parts; want a JWT", len(parts))
	}
	resp, err := http.Get(env["GCPCONN_JWKS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct{ Keys []map[string]string }
	_ = json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	if len(jwks.Keys) != 1 || jwks.Keys[0]["alg"] != "RS256" {
		t.Errorf("JWKS = %v; want one RS256 key", jwks)
	}

	// Key files: one per account, 0600, Google's token_uri; usable with the token
	// endpoint override.
	files := s.KeyFiles()
	path := files["zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"]
	if path != filepath.Join(dir, "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com.json") {
		t.Fatalf("KeyFiles = %v; want a file per account in %s", files, dir)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", st, err)
	}
	b, _ := os.ReadFile(path)
	kj, err := s.KeyJSON("zenml-bucket-sl@zenml-core.iam.gserviceaccount.com")
	if err != nil || strings.TrimSpace(string(b)) != strings.TrimSpace(string(kj)) {
		t.Errorf("key file differs from KeyJSON (%v)", err)
	}
	conf, err := google.JWTConfigFromJSON(b, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatal(err)
	}
	conf.TokenURL = env["GCPCONN_ENDPOINT_OAUTH2"] + "/token"
	tok, err := conf.TokenSource(context.Background()).Token()
	if err != nil {
		t.Fatalf("Token() from the key file at the fake = %v", err)
	}
	if got, err := s.Tokens().Lookup(tok.AccessToken); err != nil || got.Email != "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com" {
		t.Errorf("Lookup = %+v, %v", got, err)
	}
	if s.Faults().Count("oauth2.token") != 1 {
		t.Errorf("Count(oauth2.token) = %d; want 1", s.Faults().Count("oauth2.token"))
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil {
		t.Errorf("ca.pem not written: %v", err)
	}
}

func TestServeTLSWithOwnCA(t *testing.T) {
	s := start(t, Options{})
	url, err := s.serve("probe", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}), true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "https://127.0.0.1:") || s.URL("probe") != url {
		t.Fatalf("serve = %q (URL %q); want an https loopback URL recorded under its name", url, s.URL("probe"))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM()) {
		t.Fatal("CACertPEM does not parse")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET with the fake's CA = %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Errorf("body = %q; want hello", body)
	}
	if _, err := http.Get(url); err == nil {
		t.Errorf("GET without the fake's CA succeeded; want a certificate error")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Get(url); err == nil {
		t.Errorf("GET after Close succeeded; want connection refused")
	}
}

func TestStartRejectsBusyAddr(t *testing.T) {
	s := start(t, Options{})
	addr := strings.TrimPrefix(s.BaseURL(), "http://")
	if _, err := Start(context.Background(), world.Demo(), Options{Addr: addr}); err == nil {
		t.Errorf("Start on a busy address = nil error; want a listen error")
	}
}

func TestLeafCertAndOnClose(t *testing.T) {
	s, err := Start(context.Background(), world.Demo(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := s.leafCert("zenml-test-cluster.us-east1.gke.goog")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACertPEM())
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "zenml-test-cluster.us-east1.gke.goog", Roots: pool}); err != nil {
		t.Errorf("leaf certificate for a DNS endpoint does not verify with the CA: %v", err)
	}
	var order []int
	s.onClose(func() error { order = append(order, 1); return nil })
	s.onClose(func() error { order = append(order, 2); return nil })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(order) != 2 || order[0] != 2 || order[1] != 1 {
		t.Errorf("onClose order = %v; want [2 1] (reverse registration)", order)
	}
	if err := s.Close(); err != nil || len(order) != 2 {
		t.Errorf("second Close = %v, closers ran %d times; want nil and no re-run", err, len(order))
	}
}

func TestDebugRequestLog(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := start(t, Options{Logger: log})
	resp, err := http.Get(s.BaseURL() + "/tokeninfo?access_token=ya29.fake.secret-value")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "path=/tokeninfo") || !strings.Contains(out, "status=400") {
		t.Errorf("debug log = %q; want the path and status of the request", out)
	}
	if strings.Contains(out, "secret-value") {
		t.Errorf("debug log contains the query's token: %q", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestStartRefusesNonLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{addr: "127.0.0.1:0", ok: true},
		{addr: "localhost:0", ok: true},
		{addr: "[::1]:0", ok: true},
		{addr: ":0"},
		{addr: "0.0.0.0:0"},
		{addr: "[::]:0"},
		{addr: "192.0.2.1:0"},
		{addr: "example.com:0"},
		{addr: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := checkLoopback(tt.addr)
			if (err == nil) != tt.ok {
				t.Errorf("checkLoopback(%q) = %v; want ok %v", tt.addr, err, tt.ok)
			}
		})
	}
	if s, err := Start(context.Background(), world.Demo(), Options{Addr: "0.0.0.0:0"}); err == nil {
		s.Close()
		t.Errorf("Start(Addr 0.0.0.0:0) = nil error; want a refusal")
	}
}
