package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/functions/client"
	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

// TestServeMetadataStorageClient: the Go storage client, with no ADC file and
// GCE_METADATA_HOST pointing at `gcpconn serve-metadata`, reads the bucket with the
// connector's down-scoped token.
func TestServeMetadataStorageClient(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	registerAdmin(t, w, "gcs-data", "--resource-type", "gcs-bucket")

	cmd := exec.Command(filepath.Join(binDir, "gcpconn"), "serve-metadata", "gcs-data", "--resource-type", "gcs-bucket", "--resource-id", "gs://zenml-bucket-sl")
	cmd.Env = w.env()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by PID: the process this test started
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "GCE_METADATA_HOST=")
	if err != nil || !ok {
		t.Fatalf("serve-metadata printed %q, %v; want GCE_METADATA_HOST=ADDR", line, err)
	}

	// The library finds no ADC file, so it asks the metadata server.
	t.Setenv("GCE_METADATA_HOST", addr)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	os.Unsetenv("GOOGLE_APPLICATION_CREDENTIALS")
	ctx := context.Background()
	sc, err := storage.NewClient(ctx, option.WithEndpoint(s.Fake.URL("storage")+"/storage/v1/"))
	if err != nil {
		t.Fatalf("storage.NewClient: %v", err)
	}
	defer sc.Close()
	mints := s.Calls("/mint-token")
	r, err := sc.Bucket("zenml-bucket-sl").Object("README.txt").NewReader(ctx)
	if err != nil {
		t.Fatalf("read gs://zenml-bucket-sl/README.txt through the metadata server: %v", err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if !strings.Contains(string(b), "single-instance connector") {
		t.Errorf("object = %q", b)
	}
	if s.Calls("/mint-token") != mints {
		t.Errorf("the metadata server minted again for a token it had cached")
	}
	// The token is down-scoped to the bucket: another bucket is refused.
	if _, err := sc.Bucket("zenml-internal-artifact-store").Object("runs/1/model.pkl").NewReader(ctx); err == nil {
		t.Errorf("read of another bucket succeeded with the down-scoped token")
	}
}

func TestMetadataServerRefresh(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	m := &metadataServer{Now: func() time.Time { return now }, Mint: func(context.Context) (*client.Credential, error) {
		n++
		return &client.Credential{AccessToken: "tok" + string(rune('0'+n)), ExpiresAt: now.Add(time.Hour), ProjectID: "p"}, nil
	}}
	tok := func() string {
		c, err := m.token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return c.AccessToken
	}
	if got := tok(); got != "tok1" {
		t.Errorf("first token = %s; want tok1", got)
	}
	now = now.Add(54 * time.Minute)
	if got := tok(); got != "tok1" {
		t.Errorf("token with 6 min left = %s; want the cached tok1", got)
	}
	now = now.Add(2 * time.Minute)
	if got := tok(); got != "tok2" {
		t.Errorf("token with 4 min left = %s; want a fresh tok2", got)
	}
}

// redirectTransport sends requests for Google's OAuth2 token endpoint to the fake's (the test's
// stand-in for DNS); everything else goes out unchanged.
type redirectTransport struct{ tokenURL *url.URL }

func (rt redirectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "oauth2.googleapis.com" {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.URL.Path = rt.tokenURL.Scheme, rt.tokenURL.Host, rt.tokenURL.Path
		r.Host = rt.tokenURL.Host
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestLoginADCStorageClient: after `gcpconn login` wrote a connector's stored key (a
// generate_temporary_tokens=false connector) as gcloud's ADC file, the Google auth library
// finds it by its own discovery (HOME) and the storage client reads the bucket with it.
func TestLoginADCStorageClient(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	registerAdmin(t, w, "gcp-key", "--resource-type", "gcs-bucket", "--generate_temporary_tokens=false")
	w.ok("login", "gcp-key", "--resource-type", "gcs-bucket", "--resource-id", "gs://zenml-bucket-sl")

	t.Setenv("HOME", w.home)
	t.Setenv("CLOUDSDK_CONFIG", "")
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	os.Unsetenv("GOOGLE_APPLICATION_CREDENTIALS")
	tokenURL, _ := url.Parse(s.Fake.BaseURL() + "/token")
	ctx := context.Background()
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"},
		Client: &http.Client{Transport: redirectTransport{tokenURL}},
	})
	if err != nil {
		t.Fatalf("DetectDefault after login: %v", err)
	}
	sc, err := storage.NewClient(ctx, option.WithAuthCredentials(creds), option.WithEndpoint(s.Fake.URL("storage")+"/storage/v1/"))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	r, err := sc.Bucket("zenml-bucket-sl").Object("data/train.csv").NewReader(ctx)
	if err != nil {
		t.Fatalf("read through the ADC file: %v", err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "x,y\n1,2\n3,4\n" {
		t.Errorf("object = %q", b)
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:0", true},
		{"127.0.0.1:8089", true},
		{"[::1]:0", true},
		{"localhost:0", true},
		{"0.0.0.0:8089", false},
		{":8089", false},
		{"[::]:0", false},
		{"10.0.0.1:80", false},
		{"example.com:80", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if got := isLoopbackAddr(tt.addr); got != tt.want {
			t.Errorf("isLoopbackAddr(%q) = %v; want %v", tt.addr, got, tt.want)
		}
	}
}
