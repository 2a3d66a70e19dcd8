package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

func TestMiscCommands(t *testing.T) {
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
