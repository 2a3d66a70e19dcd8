package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// TestConcurrentRegisterOverGoogleStores races 50 registrations of one name through the
// registry over the production adapters: Firestore (the emulator) and Secret Manager (the
// emulator/ fake through the real REST client). Exactly one wins, the others are
// already_exists, and no orphan secret is left, not even one waiting for sweep.
func TestConcurrentRegisterOverGoogleStores(t *testing.T) {
	fs := newFirestore(t) // skips without the emulator
	sm, check := startSMFake(t).pair(store.SecretManagerOptions{Topic: smTopic})
	svc := &connector.Service{Store: fs, Secrets: sm}
	ctx := context.Background()
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = svc.Register(ctx, connector.Principal{Email: "alice@example.com"}, rgLikeRequest("contended", fmt.Sprint("ya29.", i)))
		}()
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch connector.KindOf(err) {
		case "":
			wins++
		case connector.ErrAlreadyExists:
		default:
			t.Errorf("Register #%d = %v; want nil or already_exists", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent registrations of one name: %d succeeded; want exactly 1", n, wins)
	}
	c, err := fs.GetByName(ctx, "contended")
	if err != nil {
		t.Fatalf("GetByName(contended) = %v", err)
	}
	if _, err := check.Access(ctx, c.ID, c.SecretVersion); err != nil {
		t.Errorf("the winner pins secret version %q, which cannot be read: %v", c.SecretVersion, err)
	}
	ids, err := check.ListConnectorIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{c.ID}) {
		t.Errorf("connector secrets after the race = %q; want only the winner's [%s]", ids, c.ID)
	}
}

// failingStore makes one call of a connector.Store fail with upstream_unavailable, before
// the wrapped store acts or after it has applied the call: the two outcomes a caller cannot
// tell apart when Firestore does not answer.
type failingStore struct {
	connector.Store
	op    string // "Create", "Update" or "Delete"
	after bool
	fired bool
}

func (s *failingStore) fail(op string, call func() error) error {
	if op != s.op || s.fired {
		return call()
	}
	s.fired = true
	if s.after {
		if err := call(); err != nil {
			return err
		}
	}
	return &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "injected: firestore did not answer"}
}

func (s *failingStore) Create(ctx context.Context, c *connector.Connector) error {
	return s.fail("Create", func() error { return s.Store.Create(ctx, c) })
}

func (s *failingStore) Update(ctx context.Context, c *connector.Connector) error {
	return s.fail("Update", func() error { return s.Store.Update(ctx, c) })
}

func (s *failingStore) Delete(ctx context.Context, id string) error {
	return s.fail("Delete", func() error { return s.Store.Delete(ctx, id) })
}

// TestRegistryOverGoogleStoresUnderFaults runs register, update and delete over Firestore
// (the emulator) and Secret Manager (the fake) while one of them fails at one step; Secret
// Manager failures are the fake's injected 503s, Firestore failures a wrapper that fails
// the write before or after applying it. Afterwards no connector pins an unreadable
// version, and after sweep's orphan removal no secret is left without a connector.
func TestRegistryOverGoogleStoresUnderFaults(t *testing.T) {
	emulatorClient(t) // skips without the Firestore emulator
	fake := startSMFake(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		step  string // register, update or delete
		sm    string // Secret Manager endpoint answering 503 once
		fsOp  string // Firestore write that fails
		after bool   // the Firestore write is applied before the failure
	}{
		{name: "register: secret write fails", step: "register", sm: "secretmanager.versions.add"},
		{name: "register: firestore create fails", step: "register", fsOp: "Create"},
		{name: "register: firestore create applied, no answer", step: "register", fsOp: "Create", after: true},
		{name: "update: new version write fails", step: "update", sm: "secretmanager.versions.add"},
		{name: "update: firestore update fails", step: "update", fsOp: "Update"},
		{name: "update: firestore update applied, no answer", step: "update", fsOp: "Update", after: true},
		{name: "update: old version destroy fails", step: "update", sm: "secretmanager.versions.destroy"},
		{name: "delete: firestore delete fails", step: "delete", fsOp: "Delete"},
		{name: "delete: firestore delete applied, no answer", step: "delete", fsOp: "Delete", after: true},
		{name: "delete: secret delete fails", step: "delete", sm: "secretmanager.secrets.delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFirestore(t)
			sm, check := fake.pair(store.SecretManagerOptions{})
			failing := &failingStore{Store: fs}
			svc := &connector.Service{Store: failing, Secrets: sm}
			alice := connector.Principal{Email: "alice@example.com"}
			var c *connector.Connector
			if tt.step != "register" {
				var err error
				if c, _, err = svc.Register(ctx, alice, rgLikeRequest("orders", "ya29.first")); err != nil {
					t.Fatalf("Register = %v", err)
				}
			}
			failing.op, failing.after = tt.fsOp, tt.after
			if tt.sm != "" {
				fake.srv.Faults().Set(tt.sm, faults.Fault{Status: 503, Times: 1})
			}
			switch tt.step {
			case "register":
				_, _, _ = svc.Register(ctx, alice, rgLikeRequest("orders", "ya29.first"))
			case "update":
				exp := time.Now().Add(2 * time.Hour)
				verify := false
				_, _ = svc.Update(ctx, alice, c.ID, connector.UpdateRequest{
					Configuration: map[string]any{"project_id": "proj-1", "token": "ya29.second"}, ExpiresAt: &exp, Verify: &verify})
			case "delete":
				_ = svc.Delete(ctx, alice, c.ID)
			}
			if tt.sm != "" && slices.ContainsFunc(fake.srv.Faults().Snapshot(), func(s faults.FaultSpec) bool { return s.Endpoint == tt.sm }) {
				fake.srv.Faults().Set(tt.sm, faults.Fault{})
				t.Errorf("the fault on %s never fired", tt.sm)
			}
			if tt.fsOp != "" && !failing.fired {
				t.Errorf("the Firestore %s fault never fired", tt.fsOp)
			}
			smNoDangling(t, fs, check)
			svc.Now = func() time.Time { return time.Now().Add(connector.OrphanGrace + time.Minute) }
			orphans, err := (&upkeep.Keeper{Service: svc}).Orphans(ctx)
			if err != nil {
				t.Fatalf("Orphans = %v", err)
			}
			for _, id := range orphans {
				if err := sm.Delete(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			smNoDangling(t, fs, check)
			ids, err := check.ListConnectorIDs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if _, err := fs.Get(ctx, id); err != nil {
					t.Errorf("after sweep, the secret of %s has no connector: %v", id, err)
				}
			}
		})
	}
}
