package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

// TestListTokenUpdateCommands: register --no-verify, list with filters, list-types -o json, token
// (plain and -o json) and update (rename, remove a label) against the in-process stack.
func TestListTokenUpdateCommands(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	key, _ := s.Fake.KeyJSON(admin)
	kp := w.writeFile("key.json", key)

	verifies := s.Calls("/verify")
	out := w.ok("register", "quiet", "--auth-method", "service-account", "--service_account_json=@"+kp, "--no-verify", "--label", "env=dev", "--resource-type", "gcs-bucket")
	if out != "Successfully registered service connector `quiet`.\n" {
		t.Errorf("register --no-verify = %q", out)
	}
	if s.Calls("/verify") != verifies {
		t.Errorf("register --no-verify called /verify")
	}
	w.ok("register", "other", "--auth-method", "service-account", "--service_account_json=@"+kp, "--resource-type", "gcp-generic")

	if out := w.ok("list", "--label", "env=dev"); !strings.Contains(out, "quiet") || strings.Contains(out, "other") {
		t.Errorf("list --label env=dev:\n%s", out)
	}
	if out := w.ok("list", "--resource-type", "gcp-generic", "-o", "json"); !strings.Contains(out, `"name": "other"`) || strings.Contains(out, `"name": "quiet"`) {
		t.Errorf("list --resource-type gcp-generic:\n%s", out)
	}
	if out := w.ok("list", "--name", "nothing-here"); out != "No connectors found.\n" {
		t.Errorf("list of nothing = %q", out)
	}
	// list-types -o json is the server's spec (its texts belong to the core; no golden file).
	var types struct {
		ConnectorTypes []struct {
			ResourceTypes []any `json:"resource_types"`
			AuthMethods   []any `json:"auth_methods"`
		} `json:"connector_types"`
	}
	if err := json.Unmarshal([]byte(w.ok("list-types", "-o", "json", "--resource-type", "gcs-bucket")), &types); err != nil ||
		len(types.ConnectorTypes) != 1 || len(types.ConnectorTypes[0].ResourceTypes) != 1 || len(types.ConnectorTypes[0].AuthMethods) != 6 {
		t.Errorf("list-types -o json --resource-type gcs-bucket = %+v, %v; want one type, one resource type, six methods", types, err)
	}

	// token prints the token alone; -o json the whole answer.
	tok := strings.TrimSpace(w.ok("token", "quiet", "--resource-id", "gs://zenml-bucket-sl", "--lifetime", "20m", "--read-only"))
	if !strings.HasPrefix(tok, "ya29.") || strings.Contains(tok, "\n") {
		t.Errorf("token = %q; want one access token", tok)
	}
	var cred struct {
		ResourceID string `json:"resource_id"`
		Downscoped bool   `json:"downscoped"`
		Lifetime   struct {
			Requested, Applied int64
		} `json:"lifetime"`
	}
	if err := json.Unmarshal([]byte(w.ok("token", "quiet", "--resource-id", "zenml-bucket-sl", "--lifetime", "1200", "-o", "json")), &cred); err != nil {
		t.Fatal(err)
	}
	if cred.ResourceID != "gs://zenml-bucket-sl" || !cred.Downscoped || cred.Lifetime.Requested != 1200 {
		t.Errorf("token -o json = %+v", cred)
	}
	if _, errOut, code := w.gcpconn("token", "quiet", "--resource-type", "kubernetes-cluster"); code != exitAuth || !strings.HasPrefix(errOut, "error: permission_denied: ") {
		t.Errorf("token for a type the connector does not serve = exit %d %q", code, errOut)
	}

	// update: configuration replaces; remove-label drops.
	out = w.ok("update", "quiet", "--remove-label", "env", "--name", "loud", "-o", "json")
	if !strings.Contains(out, `"name": "loud"`) || strings.Contains(out, `"env"`) {
		t.Errorf("update --remove-label --name:\n%s", out)
	}
}

// TestStoppedStackIsUnavailable: with the development identity and nothing listening (the
// stack of scripts/dev.sh stopped), a command exits 7 (unavailable), not 5 (denied): failing to
// reach the token issuer or the server denies nothing.
func TestStoppedStackIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	w := &world{t: t, home: t.TempDir(), extra: []string{"GCPCONN_URL=" + closed, "GCPCONN_DEV_ISSUER=" + closed,
		"GCPCONN_DEV_EMAIL=" + alice}}
	_, errOut, code := w.gcpconn("list")
	if code != exitUnavailable || strings.Contains(errOut, "denied") || strings.Contains(errOut, "unauthenticated") {
		t.Errorf("gcpconn list with the stack stopped = exit %d %q; want %d (unavailable)", code, errOut, exitUnavailable)
	}
	// A token given outright: the server itself cannot be reached.
	_, errOut, code = w.gcpconn("--id-token", "eyJhbGciOiJSUzI1NiJ9.e30.sig", "list")
	if code != exitUnavailable {
		t.Errorf("gcpconn list with a token and the server stopped = exit %d %q; want %d", code, errOut, exitUnavailable)
	}
}
