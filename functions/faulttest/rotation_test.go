package faulttest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// rotAccount is the demo account whose key the rotating connector holds; it may manage its
// own keys (the default rotation identity).
const rotAccount = "connectors-admin@zenml-core.iam.gserviceaccount.com"

// TestRotationFaults fails each step of POST /rotate in turn over HTTP, against the
// production stores (Firestore emulator, the fake's Secret Manager) and the fake's IAM keys
// API: IAM create answering 503, hanging past the request's deadline, refusing (org policy,
// permission), list answering 503, Secret Manager's versions.add answering 503, the new key
// not verifying, Firestore frozen. Every one ends well: nothing left "in progress" (or an
// entry "verifying" that the next rotate completes), the failure in rotation.last_error, the
// old key still pinned and minting, and the next rotate rotating. After a sweep past the
// grace, the account holds the registered key and the pinned one only, and documents and
// secrets are one to one with only pinned versions enabled.
func TestRotationFaults(t *testing.T) {
	r := newRig(t)
	r.fake.World().SetClock(r.svc.Now) // Google dates keys by the service's (shifted) clock
	if err := r.fake.World().AddBinding(world.Binding{Resource: "projects/zenml-core/serviceAccounts/" + rotAccount,
		Role: "roles/iam.serviceAccountKeyAdmin", Members: []string{"serviceAccount:" + rotAccount}}); err != nil {
		t.Fatal(err)
	}
	spec := r.spec("rot")
	spec["rotation_period"] = "30d"
	expectStatus(t, "register rot", r.do("POST", "/register", owner, spec), http.StatusCreated)
	registered := r.rotation("rot").KeyID
	for _, tc := range []struct {
		name     string
		endpoint string
		fault    faults.Fault
		freeze   bool // freeze Firestore instead
		warmup   bool // new keys take 3 minutes to work instead
		want     []int
	}{
		{name: "IAM create 503", endpoint: "iam.serviceAccountKeys.create", fault: faults.Fault{Status: 503, Times: 1}, want: []int{503}},
		{name: "IAM create hangs", endpoint: "iam.serviceAccountKeys.create", fault: faults.Fault{Timeout: true, Times: 1}, want: []int{503}},
		{name: "IAM create refused by policy", endpoint: "iam.serviceAccountKeys.create", fault: faults.Fault{Status: 400, Times: 1,
			GoogleStatus: "FAILED_PRECONDITION", Message: "Key creation is not allowed on this service account.",
			Violation: "constraints/iam.disableServiceAccountKeyCreation"}, want: []int{412}},
		{name: "IAM create forbidden", endpoint: "iam.serviceAccountKeys.create", fault: faults.Fault{Status: 403, Times: 1}, want: []int{412}},
		{name: "IAM list 503", endpoint: "iam.serviceAccountKeys.list", fault: faults.Fault{Status: 503, Times: 1}, want: []int{503}},
		{name: "Secret Manager add 503", endpoint: "secretmanager.versions.add", fault: faults.Fault{Status: 503, Times: 1}, want: []int{503}},
		{name: "new key not working within the request", warmup: true, want: []int{200}},
		{name: "Firestore frozen", freeze: true, want: []int{503}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.rotation("rot")
			var a answer
			switch {
			case tc.freeze:
				a = r.frozenRotate()
			case tc.warmup:
				r.fake.World().SetKeyWarmup(3 * time.Minute)
				a = r.do("POST", "/rotate", owner, map[string]any{"connector": "rot"})
				r.fake.World().SetKeyWarmup(0)
				if p := r.rotation("rot").Pending; a.body["rotated"] != false || p == nil || p.State() != rotation.Verifying {
					t.Errorf("rotate with a key still warming up = %s, pending %+v; want rotated false and the entry verifying", a.raw, p)
				}
			default:
				undo := r.inject(tc.endpoint, tc.fault)
				a = r.do("POST", "/rotate", owner, map[string]any{"connector": "rot"})
				undo()
				if r.fake.Faults().Count(tc.endpoint) == 0 {
					t.Fatalf("%s was never called: the fault was not exercised", tc.endpoint)
				}
			}
			expectStatus(t, "rotate with "+tc.name, a, tc.want...)
			after := r.rotation("rot")
			if after.Pending != nil && after.Pending.State() != rotation.Verifying {
				t.Errorf("after %s: rotation left %s (%+v); want it released or verifying", tc.name, after.Pending.State(), *after.Pending)
			}
			if a.status != http.StatusOK && after.LastError == "" && !tc.freeze {
				t.Errorf("after %s (%d): rotation.last_error is empty", tc.name, a.status)
			}
			if after.Pending == nil && after.Generation == before.Generation && after.KeyID != before.KeyID {
				t.Errorf("after %s: pinned key %s; want %s kept", tc.name, after.KeyID, before.KeyID)
			}
			expectStatus(t, "mint after "+tc.name, r.do("POST", "/mint-token", owner,
				map[string]any{"connector": "rot", "resource_type": "gcs-bucket", "resource_id": "gs://zenml-bucket-sl"}), http.StatusOK)
			// The windows of a lost create pass; the next rotate rotates (or pins the verifying key).
			r.shift.Add(int64(5 * time.Minute))
			n := r.do("POST", "/rotate", owner, map[string]any{"connector": "rot"})
			expectStatus(t, "the next rotate after "+tc.name, n, http.StatusOK)
			if n.body["rotated"] != true {
				t.Errorf("the next rotate after %s = %s; want rotated true", tc.name, n.raw)
			}
		})
	}
	r.shift.Add(int64(rotation.Grace))
	r.sweep()
	r.checkAtRest("after the rotation faults and a sweep past the grace")
	keys, err := r.fake.World().Keys(rotAccount)
	if err != nil {
		t.Fatal(err)
	}
	pinned := r.rotation("rot").KeyID
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	if len(ids) != 2 || !slices.Contains(ids, registered) || !slices.Contains(ids, pinned) {
		t.Errorf("keys of %s after the sweep: %v; want only the registered %s and the pinned %s", rotAccount, ids, registered, pinned)
	}
}

// rotation is the stored rotation state of the connector named name.
func (r *rig) rotation(name string) rotation.State {
	r.t.Helper()
	c, err := r.svc.Store.GetByName(context.Background(), name)
	if err != nil {
		r.t.Fatalf("GetByName(%s) = %v", name, err)
	}
	return c.Rotation
}

// frozenRotate sends POST /rotate while Firestore is frozen, then thaws it.
func (r *rig) frozenRotate() answer {
	r.t.Helper()
	if err := r.emu.Freeze(); err != nil {
		r.t.Fatal(err)
	}
	a := r.do("POST", "/rotate", owner, map[string]any{"connector": "rot"})
	if err := r.emu.Thaw(); err != nil {
		r.t.Fatal(fmt.Errorf("thaw: %w", err))
	}
	return a
}
