package main

import (
	"encoding/json"
	"strings"
	"testing"

	fakeworld "github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

// TestStatusCommand: against the in-process stack, a connector on the demo world's empty
// account (it reaches nothing) shows as failing with why, in the text and in -o json; a
// connector that rotates its key is counted ok, listed among the oldest keys, and its
// rotation is listed once it falls within --due-within; the last sweep line says it is not
// reported rather than inventing one; a bad --due-within is a usage error naming the flag.
func TestStatusCommand(t *testing.T) {
	s := clienttest.Start(t)
	const account = "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	if err := s.Fake.World().AddBinding(fakeworld.Binding{Resource: "projects/zenml-core/serviceAccounts/" + account,
		Role: "roles/iam.serviceAccountKeyAdmin", Members: []string{"serviceAccount:" + account}}); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, s, alice)
	emptyKey, _ := s.Fake.KeyJSON(empty)
	if _, _, code := w.gcpconn("register", "gcp-empty-sa", "--type", "gcp", "--auth-method", "service-account",
		"--service_account_json=@"+w.writeFile("empty.json", emptyKey), "--project_id=zenml-core"); code != exitVerify {
		t.Fatalf("register gcp-empty-sa = exit %d; want %d (registered, failing)", code, exitVerify)
	}
	key, _ := s.Fake.KeyJSON(account)
	w.ok("register", "rot", "--auth-method", "service-account", "--service_account_json=@"+w.writeFile("key.json", key),
		"--resource-type", "gcs-bucket", "--resource-id", "gs://zenml-bucket-sl", "--rotation-period", "30d")

	out := w.ok("status")
	for _, want := range []string{"CONNECTORS  2: 1 ok, 0 partial, 1 error, 0 disabled, 0 unchecked; 0 inconclusive",
		"LAST SWEEP  ", "Failing:", "gcp-empty-sa", "Oldest keys:", "rot"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Key rotations:") {
		t.Errorf("status lists a rotation due in 30 days with the default 7-day window:\n%s", out)
	}

	var st fleetStatus
	out = w.ok("status", "-o", "json", "--due-within", "31d")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if st.Connectors != 2 || st.States["error"] != 1 || st.States["ok"] != 1 || len(st.Failing) != 1 {
		t.Fatalf("status -o json = %+v; want 2 connectors, 1 ok, 1 error failing", st)
	}
	f := st.Failing[0]
	if f.Name != "gcp-empty-sa" || f.State != "error" || f.Reason == "" || f.CheckedAt == nil {
		t.Errorf("failing = %+v; want gcp-empty-sa in error with a reason and the check time", f)
	}
	if !strings.Contains(w.ok("status"), f.Reason[:min(40, len(f.Reason))]) {
		t.Errorf("status text does not show why gcp-empty-sa fails (%q)", f.Reason)
	}
	if len(st.Rotations) != 1 || st.Rotations[0].Name != "rot" || st.Rotations[0].State != "due" {
		t.Errorf("rotations = %+v; want rot due within 31 days", st.Rotations)
	}
	if len(st.OldestKeys) != 1 || st.OldestKeys[0].Name != "rot" || st.OldestKeys[0].KeyID == "" {
		t.Errorf("oldest keys = %+v; want rot's key", st.OldestKeys)
	}
	if st.LastSweep != nil || st.LastSweepNote != "shown to admins only" || strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("status -o json for a user shows a sweep run (admins only) or key material:\n%s", out)
	}

	_, errOut, code := w.gcpconn("status", "--due-within", "soon")
	if code == 0 || !strings.Contains(errOut, "--due-within") {
		t.Errorf("status --due-within soon = exit %d, %q; want a usage error naming the flag", code, errOut)
	}
}
