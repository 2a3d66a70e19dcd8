package main

import (
	"encoding/json"
	"strings"
	"testing"

	fakeworld "github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

// TestRotateCommand: register --rotation-period opts in; describe shows the pinned key's id
// (never material), its age, the period and the next rotation; `gcpconn rotate` (owner) pins
// a new key and prints its id; another caller is refused with exit 4 (not found for them);
// a user-account connector's rotation period is refused naming the field (exit 3).
func TestRotateCommand(t *testing.T) {
	s := clienttest.Start(t)
	const account = "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	if err := s.Fake.World().AddBinding(fakeworld.Binding{Resource: "projects/zenml-core/serviceAccounts/" + account,
		Role: "roles/iam.serviceAccountKeyAdmin", Members: []string{"serviceAccount:" + account}}); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, s, alice)
	key, err := s.Fake.KeyJSON(account)
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		ID string `json:"private_key_id"`
	}
	_ = json.Unmarshal(key, &k)
	p := w.writeFile("key.json", key)
	w.ok("register", "rot", "--auth-method", "service-account", "--service_account_json=@"+p,
		"--resource-type", "gcs-bucket", "--resource-id", "gs://zenml-bucket-sl", "--rotation-period", "30d")
	out := w.ok("describe", "rot")
	for _, want := range []string{"KEY ID", k.ID + " (0m old)", "KEY ROTATION", "every 30d", "NEXT ROTATION"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("describe shows key material:\n%s", out)
	}

	out = w.ok("-o", "json", "rotate", "rot")
	var res struct {
		Rotated bool   `json:"rotated"`
		KeyID   string `json:"key_id"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Rotated || res.KeyID == "" || res.KeyID == k.ID || strings.Contains(out, "private_key\"") {
		t.Fatalf("rotate -o json = %s (%v); want rotated with a new key id, no material", out, err)
	}
	if out := w.ok("describe", "rot"); !strings.Contains(out, res.KeyID) {
		t.Errorf("describe after rotate does not show the new key %s:\n%s", res.KeyID, out)
	}
	out = w.ok("rotate", "rot")
	if !strings.Contains(out, "Rotated the key of service connector `rot`: key ") {
		t.Errorf("rotate = %q", out)
	}
	bob := newWorld(t, s, bob)
	if _, errOut, code := bob.gcpconn("rotate", "rot"); code != exitNotFound {
		t.Errorf("rotate as another caller: exit %d (%s); want %d", code, errOut, exitNotFound)
	}
	if _, _, code := w.gcpconn("rotate"); code != exitUsage {
		t.Errorf("rotate without NAME: exit %d; want %d", code, exitUsage)
	}
	if out, _, code := w.gcpconn("rotate", "--help"); code != 0 || !strings.Contains(out, "10 keys") {
		t.Errorf("rotate --help: exit %d, %q", code, out)
	}
}
