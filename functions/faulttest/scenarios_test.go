package faulttest

import (
	"net/http"
	"testing"

	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// expectOutage fails unless a is a 503 with Retry-After (upstream_unavailable).
func expectOutage(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("%s = %d %s; want 503 with Retry-After (an outage, retrying will work)", what, a.status, a.raw)
	}
}

// expectStatus fails unless r.do answered one of want.
func expectStatus(t *testing.T, what string, a answer, want ...int) {
	t.Helper()
	for _, w := range want {
		if a.status == w {
			return
		}
	}
	t.Errorf("%s = %d %s; want one of %v", what, a.status, a.raw, want)
}

// TestGoogleFaults injects the fake Google's faults one at a time (storage down, a secret
// version that cannot be added or disabled, a secret that cannot be deleted, Secret Manager
// hanging) around registers, updates and deletes; after each, a sweep must leave documents
// and secrets one to one with only pinned versions enabled, and an outage during a check must
// leave the last verdict in place, marked inconclusive.
func TestGoogleFaults(t *testing.T) {
	r := newRig(t)
	expectStatus(t, "register base", r.do("POST", "/register", owner, r.spec("base")), http.StatusCreated)
	r.sweep()
	r.checkAtRest("baseline")
	if st := r.status("base"); st.State != connector.StateOK || st.Inconclusive != "" {
		t.Fatalf("base after a clean sweep: %+v; want ok, conclusive", st)
	}

	undo := r.inject("storage.*", faults.Fault{Status: http.StatusServiceUnavailable})
	expectOutage(t, "register while storage answers 503", r.do("POST", "/register", owner, r.spec("storage-down")))
	r.sweep()
	if st := r.status("base"); st.State != connector.StateOK || st.Inconclusive == "" {
		t.Errorf("base after a sweep while storage answers 503: %+v; want the last verdict (ok) kept, marked inconclusive", st)
	}
	undo()
	r.checkAtRest("storage 503")

	undo = r.inject("secretmanager.versions.disable", faults.Fault{Status: http.StatusServiceUnavailable, Times: 1})
	other := map[string]any{"project_id": "zenml-core", "service_account_json": r.keyOf("zenml-bucket-sl@zenml-core.iam.gserviceaccount.com")}
	expectStatus(t, "update (new key) while disabling the replaced version fails once",
		r.do("PUT", "/register?connector=base", owner, map[string]any{"configuration": other, "verify": false}),
		http.StatusOK, http.StatusServiceUnavailable)
	if n := r.fake.Faults().Count("secretmanager.versions.disable"); n == 0 {
		t.Fatal("the update never tried to disable the replaced version: the fault was not exercised")
	}
	undo()
	expectStatus(t, "update back to the admin key", r.do("PUT", "/register?connector=base", owner,
		map[string]any{"configuration": r.spec("")["configuration"]}), http.StatusOK)
	r.sweep()
	r.checkAtRest("versions.disable 503 once")

	undo = r.inject("secretmanager.versions.add", faults.Fault{Status: http.StatusServiceUnavailable})
	expectOutage(t, "register while versions.add answers 503", r.do("POST", "/register", owner, r.spec("no-add")))
	undo()
	r.sweep()
	r.checkAtRest("versions.add 503")

	expectStatus(t, "register doomed", r.do("POST", "/register", owner, r.spec("doomed")), http.StatusCreated)
	undo = r.inject("secretmanager.secrets.delete", faults.Fault{Status: http.StatusServiceUnavailable, Times: 1})
	expectStatus(t, "delete while secrets.delete fails once", r.do("DELETE", "/register?connector=doomed", owner, nil),
		http.StatusNoContent, http.StatusServiceUnavailable)
	undo()
	r.sweep()
	r.checkAtRest("secrets.delete 503 once")

	undo = r.inject("secretmanager.*", faults.Fault{Timeout: true})
	expectOutage(t, "register while Secret Manager hangs", r.do("POST", "/register", owner, r.spec("hanging")))
	undo()
	r.sweep()
	r.checkAtRest("Secret Manager hanging")

	if st := r.status("base"); st.State != connector.StateOK || st.Inconclusive != "" {
		t.Errorf("base after a clean sweep: %+v; want ok, conclusive again", st)
	}
}

// TestFirestoreFaults freezes the Firestore emulator (SIGSTOP: connections open, no
// answers) during a register and a list, then restarts it (its data lost): every request is
// answered within its deadline (503 with Retry-After while the store is frozen), the service
// answers again as soon as the store does, and sweeps leave documents and secrets one to one.
func TestFirestoreFaults(t *testing.T) {
	r := newRig(t)
	expectStatus(t, "register before", r.do("POST", "/register", owner, r.spec("before")), http.StatusCreated)

	if err := r.emu.Freeze(); err != nil {
		t.Fatal(err)
	}
	expectOutage(t, "register while Firestore is frozen", r.do("POST", "/register", owner, r.spec("frozen")))
	expectOutage(t, "list while Firestore is frozen", r.do("GET", "/list", owner, nil))
	if err := r.emu.Thaw(); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, "list after the thaw", r.do("GET", "/list", owner, nil), http.StatusOK)
	r.sweep()
	r.checkAtRest("Firestore frozen")

	r.emu.Restart(t)
	expectStatus(t, "first list after the restart", r.do("GET", "/list", owner, nil), http.StatusOK)
	r.sweep() // every secret's document is gone with the old emulator: orphans
	r.checkAtRest("Firestore restarted")
	expectStatus(t, "register after the restart", r.do("POST", "/register", owner, r.spec("after")), http.StatusCreated)
	r.sweep()
	r.checkAtRest("register after the restart")
	if st := r.status("after"); st.State != connector.StateOK || st.Inconclusive != "" {
		t.Errorf("after: %+v; want ok, conclusive", st)
	}
}
