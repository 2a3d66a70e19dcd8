package connector_test

// Fault tests of the registry's write order: with either store failing at each step of
// register, update and delete (before or after its write is applied), no connector may point
// at a missing or unusable secret, and after sweep's orphan removal no secret may be left
// without a connector.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/internal/faultports"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Fault injection (package faultports; shared/upkeep's rotation tests use it too).
type (
	rgFault         = faultports.Fault
	rgInjector      = faultports.Injector
	rgFaultyStore   = faultports.Store
	rgFaultySecrets = faultports.Secrets
)

// rgFaultEnv is an rgEnv whose Service sees both stores through fault injectors.
func rgFaultEnv(t *testing.T) (*rgEnv, *rgInjector) {
	e := rgNew(t)
	in := &rgInjector{}
	e.svc.Store = rgFaultyStore{Store: e.store, In: in}
	e.svc.Secrets = rgFaultySecrets{SecretStore: e.secrets, In: in}
	return e, in
}

// noDangling fails the test if a stored connector pins a secret version it cannot read.
func (e *rgEnv) noDangling(t *testing.T, when string) {
	t.Helper()
	for _, c := range e.connectors(t) {
		if c.SecretVersion == "" {
			t.Errorf("%s: connector %s pins no secret version; every connector here has a secret", when, c.ID)
			continue
		}
		if _, err := e.secrets.Access(context.Background(), c.ID, c.SecretVersion); err != nil {
			t.Errorf("%s: connector %s pins secret version %s, which cannot be read: %v (a dangling reference)", when, c.ID, c.SecretVersion, err)
		}
	}
}

// noOrphans fails the test if a secret has no connector.
func (e *rgEnv) noOrphans(t *testing.T, when string) {
	t.Helper()
	have := map[string]bool{}
	for _, c := range e.connectors(t) {
		have[c.ID] = true
	}
	for _, id := range e.secretIDs(t) {
		if !have[id] {
			t.Errorf("%s: the secret of %s has no connector (an orphan)", when, id)
		}
	}
}

// sweepOrphans runs a sweep once what was left behind is past its grace period (orphan
// secrets, unpinned versions), and checks that only pinned versions are enabled then.
func (e *rgEnv) sweepOrphans(t *testing.T) {
	t.Helper()
	e.clock.Advance(max(connector.OrphanGrace, upkeep.VersionGrace) + time.Minute)
	rep, err := keeper(e.svc).Sweep(context.Background(), upkeep.SweepOptions{})
	if err != nil || len(rep.Errors) > 0 {
		t.Fatalf("Sweep() = %+v, %v", rep, err)
	}
	for _, c := range e.connectors(t) {
		if v := e.secrets.Versions(c.ID); !slices.Equal(v, []string{c.SecretVersion}) {
			t.Errorf("enabled versions of %s after sweep = %q; want only the pinned %q", c.ID, v, c.SecretVersion)
		}
	}
}

type rgScenario struct {
	name   string
	faults []rgFault
	ok     bool // the use case reports success
	// clean: nothing is left for sweep (no orphan secret, no unpinned enabled version).
	clean bool
}

func unavailable(op string, nth int, after bool) rgFault {
	return rgFault{Op: op, Nth: nth, After: after}
}

func TestRegisterUnderFaults(t *testing.T) {
	refused := rgFault{Op: "store.Create", Kind: connector.ErrAlreadyExists}
	scenarios := []rgScenario{
		{"no fault", nil, true, true},
		{"name check unavailable", []rgFault{unavailable("store.GetByName", 1, false)}, false, true},
		{"secret write fails", []rgFault{unavailable("secrets.AddVersion", 1, false)}, false, true},
		{"secret written, then an error", []rgFault{unavailable("secrets.AddVersion", 1, true)}, false, true},
		{"secret written, error, cleanup fails", []rgFault{unavailable("secrets.AddVersion", 1, true), unavailable("secrets.Delete", 1, false)}, false, false},
		{"create refused", []rgFault{refused}, false, true},
		{"create refused, cleanup fails", []rgFault{refused, unavailable("secrets.Delete", 1, false)}, false, false},
		{"create not applied, outcome unknown", []rgFault{unavailable("store.Create", 1, false)}, false, false},
		{"create applied, outcome unknown", []rgFault{unavailable("store.Create", 1, true)}, true, true},
		{"create not applied, read-back fails", []rgFault{unavailable("store.Create", 1, false), unavailable("store.Get", 1, false)}, false, false},
		{"create applied, read-back fails", []rgFault{unavailable("store.Create", 1, true), unavailable("store.Get", 1, false)}, false, true},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			e, in := rgFaultEnv(t)
			in.Arm(sc.faults...)
			c, _, err := e.svc.Register(context.Background(), rgP(rgAlice), rgReq("orders", "ya29.first"))
			in.CheckFired(t)
			if (err == nil) != sc.ok {
				t.Errorf("Register = %v; want success %v", err, sc.ok)
			}
			if err == nil {
				got, gerr := e.store.Get(context.Background(), c.ID)
				if gerr != nil || got.SecretVersion != c.SecretVersion {
					t.Errorf("Register succeeded but the store has %v, %v; want the connector pinning %q", got, gerr, c.SecretVersion)
				}
			}
			e.noDangling(t, "after Register")
			if sc.clean {
				e.noOrphans(t, "after Register, before sweep")
			}
			e.sweepOrphans(t)
			e.noOrphans(t, "after sweep")
			e.noDangling(t, "after sweep")
			if n := len(e.connectors(t)); n > 1 {
				t.Errorf("%d connectors after one registration; want at most 1", n)
			}
		})
	}
}

func TestUpdateUnderFaults(t *testing.T) {
	// The update's store writes: 1 marks the connector for version cleanup, 2 pins the new
	// version.
	conflict := rgFault{Op: "store.Update", Nth: 2, Kind: connector.ErrConflict}
	scenarios := []rgScenario{
		{"no fault", nil, true, true},
		{"cleanup mark conflicts", []rgFault{{Op: "store.Update", Nth: 1, Kind: connector.ErrConflict}}, false, true},
		{"cleanup mark unavailable", []rgFault{unavailable("store.Update", 1, false)}, false, true},
		{"lookup unavailable", []rgFault{unavailable("store.Get", 1, false)}, false, true},
		{"old secret unreadable", []rgFault{unavailable("secrets.Access", 1, false)}, false, true},
		{"new version write fails", []rgFault{unavailable("secrets.AddVersion", 1, false)}, false, true},
		{"new version written, then an error", []rgFault{unavailable("secrets.AddVersion", 1, true)}, false, false},
		{"update conflicts", []rgFault{conflict}, false, true},
		{"update conflicts, destroying the new version fails", []rgFault{conflict, unavailable("secrets.DestroyVersion", 1, false)}, false, false},
		{"update not applied, outcome unknown", []rgFault{unavailable("store.Update", 2, false)}, false, false},
		{"update applied, outcome unknown", []rgFault{unavailable("store.Update", 2, true)}, true, true},
		{"update applied, read-back fails", []rgFault{unavailable("store.Update", 2, true), unavailable("store.Get", 2, false)}, false, false},
		{"update not applied, read-back fails", []rgFault{unavailable("store.Update", 2, false), unavailable("store.Get", 2, false)}, false, false},
		{"old version not destroyed", []rgFault{unavailable("secrets.DestroyVersion", 1, false)}, true, false},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			e, in := rgFaultEnv(t)
			ctx := context.Background()
			old := e.register(t, rgAlice, rgReq("orders", "ya29.first"))
			in.Arm(sc.faults...)
			up, err := e.svc.Update(ctx, rgP(rgAlice), old.ID, rgNewToken("ya29.second"))
			in.CheckFired(t)
			if (err == nil) != sc.ok {
				t.Errorf("Update = %v; want success %v", err, sc.ok)
			}
			stored, gerr := e.store.Get(ctx, old.ID)
			if gerr != nil {
				t.Fatalf("the connector is gone after a failed update: %v", gerr)
			}
			if err == nil && stored.SecretVersion != up.SecretVersion {
				t.Errorf("Update succeeded pinning %q but the store pins %q", up.SecretVersion, stored.SecretVersion)
			}
			sec, aerr := e.secrets.Access(ctx, old.ID, stored.SecretVersion)
			if aerr == nil && stored.SecretVersion != old.SecretVersion && sec.Token != "ya29.second" {
				t.Errorf("the new pinned version does not hold the new token")
			}
			e.noDangling(t, "after Update")
			if sc.clean {
				if v := e.secrets.Versions(old.ID); !slices.Equal(v, []string{stored.SecretVersion}) {
					t.Errorf("enabled versions after Update = %q; want only the pinned %q", v, stored.SecretVersion)
				}
			}
			e.sweepOrphans(t)
			e.noOrphans(t, "after sweep")
			e.noDangling(t, "after sweep")
		})
	}
}

func TestDeleteUnderFaults(t *testing.T) {
	scenarios := []rgScenario{
		{"no fault", nil, true, true},
		{"lookup unavailable", []rgFault{unavailable("store.Get", 1, false)}, false, true},
		{"delete not applied", []rgFault{unavailable("store.Delete", 1, false)}, false, true},
		{"delete applied, outcome unknown", []rgFault{unavailable("store.Delete", 1, true)}, false, false},
		{"secret delete fails", []rgFault{unavailable("secrets.Delete", 1, false)}, true, false},
		{"secret deleted, then an error", []rgFault{unavailable("secrets.Delete", 1, true)}, true, true},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			e, in := rgFaultEnv(t)
			ctx := context.Background()
			c := e.register(t, rgAlice, rgReq("orders", "ya29.first"))
			in.Arm(sc.faults...)
			err := e.svc.Delete(ctx, rgP(rgAlice), c.ID)
			in.CheckFired(t)
			if (err == nil) != sc.ok {
				t.Errorf("Delete = %v; want success %v", err, sc.ok)
			}
			if _, gerr := e.store.Get(ctx, c.ID); err == nil && connector.KindOf(gerr) != connector.ErrNotFound {
				t.Errorf("Delete succeeded but Get = %v; want ErrNotFound", gerr)
			}
			e.noDangling(t, "after Delete")
			if sc.clean {
				e.noOrphans(t, "after Delete, before sweep")
			}
			e.sweepOrphans(t)
			e.noOrphans(t, "after sweep")
			e.noDangling(t, "after sweep")
		})
	}
}

// TestConcurrentRegisterUnderFaults races 50 registrations of one name while the secret
// store fails some cleanups: exactly one wins, and sweep leaves no orphan.
func TestConcurrentRegisterUnderFaults(t *testing.T) {
	e, in := rgFaultEnv(t)
	var faults []rgFault
	for i := 1; i <= 50; i += 7 {
		faults = append(faults, unavailable("secrets.Delete", i, false))
	}
	in.Arm(faults...)
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = e.svc.Register(context.Background(), rgP(rgAlice), rgReq("contended", fmt.Sprint("ya29.", i)))
		}()
	}
	wg.Wait()
	wins := 0
	var other []string
	for _, err := range errs {
		switch connector.KindOf(err) {
		case "":
			wins++
		case connector.ErrAlreadyExists:
		default:
			other = append(other, err.Error())
		}
	}
	if wins != 1 || len(other) > 0 {
		t.Fatalf("50 concurrent registrations: %d succeeded, other errors %q; want exactly 1 and none", wins, strings.Join(other, "; "))
	}
	e.noDangling(t, "after the race")
	e.sweepOrphans(t)
	e.noOrphans(t, "after sweep")
	e.noDangling(t, "after sweep")
}

// TestSweepKeepsYoungUnpinnedVersions: an unpinned version younger than VersionGrace may be
// pinned by an update in flight, so sweep keeps it; once older, sweep destroys it and keeps
// the pinned one, disabled or not.
func TestSweepKeepsYoungUnpinnedVersions(t *testing.T) {
	e := rgNew(t)
	ctx := context.Background()
	c := e.register(t, rgAlice, rgReq("orders", "ya29.first"))
	// An update marks the connector for version cleanup before it adds its version, and
	// stops (here) before it pins it.
	if _, err := e.svc.UpdateConnector(ctx, c.ID, func(cur *connector.Connector) bool { cur.CleanupAfter = e.clock.Now(); return true }); err != nil {
		t.Fatal(err)
	}
	inFlight, err := e.secrets.AddVersion(ctx, c.ID, connector.Secrets{Token: "ya29.second"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(upkeep.VersionGrace - time.Minute)
	if rep, err := keeper(e.svc).Sweep(ctx, upkeep.SweepOptions{}); err != nil || rep.VersionsRemoved != 0 {
		t.Fatalf("Sweep = %+v, %v; want nothing removed", rep, err)
	}
	if v := e.secrets.Versions(c.ID); !slices.Equal(v, []string{c.SecretVersion, inFlight}) {
		t.Fatalf("enabled versions after a sweep within the grace = %q; want %q and %q", v, c.SecretVersion, inFlight)
	}
	if err := e.secrets.DisableVersion(ctx, c.ID, c.SecretVersion); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	rep, err := keeper(e.svc).Sweep(ctx, upkeep.SweepOptions{})
	if err != nil || rep.VersionsRemoved != 1 {
		t.Fatalf("Sweep = %+v, %v; want 1 version removed", rep, err)
	}
	vs, _ := e.secrets.ListVersions(ctx, c.ID)
	for _, v := range vs {
		want := upkeep.VersionDestroyed
		if v.Name == c.SecretVersion {
			want = upkeep.VersionDisabled // the pinned one is refresh's and update's business
		}
		if v.State != want {
			t.Errorf("version %s is %s after sweep; want %s", v.Name, v.State, want)
		}
	}
	if cur, err := e.store.Get(ctx, c.ID); err != nil || !cur.CleanupAfter.IsZero() {
		t.Errorf("after the cleanup, the connector's mark = %v, %v; want it cleared", cur.CleanupAfter, err)
	}
}
