package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestRunServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	worldFile := filepath.Join(dir, "world.yaml")
	doc := "projects: [{id: demo-proj, number: 42}]\n" +
		"service_accounts: [{email: runner@demo-proj.iam.gserviceaccount.com}]\n" +
		"runtime_service_account: runner@demo-proj.iam.gserviceaccount.com\n"
	if err := os.WriteFile(worldFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-world", worldFile, "-keys-dir", filepath.Join(dir, "keys")}, pw, io.Discard)
		pw.Close()
	}()
	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# fakegcp ready") {
			break
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	req, _ := http.NewRequest(http.MethodGet, "http://"+env["GCE_METADATA_HOST"]+"/computeMetadata/v1/project/project-id", nil)
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("metadata request = %v (env %v)", err, env)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "demo-proj" {
		t.Errorf("project-id = %q; want demo-proj from the world file", body)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "runner@demo-proj.iam.gserviceaccount.com.json")); err != nil {
		t.Errorf("key file: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run = %v; want nil after cancel", err)
	}
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Errorf("metadata request after stop succeeded; want connection refused")
	}
}

func TestRunFlags(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-print-world"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "zenml-bucket-sl") {
		t.Errorf("run(-print-world) = %v, output %d bytes; want the demo YAML", err, out.Len())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("projects: [{id: NOPE}]"), 0o600)
	if err := run(context.Background(), []string{"-world", bad}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "invalid id") {
		t.Errorf("run(bad world) = %v; want an invalid id error", err)
	}
	if err := run(context.Background(), []string{"-world", filepath.Join(t.TempDir(), "missing.yaml")}, io.Discard, io.Discard); err == nil {
		t.Errorf("run(missing world) = nil; want an error")
	}
}
