package upkeep_test

// Key rotation through the real Google adapter (shared/gcp) against the fake's IAM keys API,
// with an injected clock (the Service's and the fake world's, which dates keys), and faults
// injected at every step: after the next RepairRotation no key gcpconn created is left
// unreferenced, no connector is half-rotated, and no key gcpconn did not create is deleted.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/rotation"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

const rtAccount = "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"

// rtClock is an injected clock that tests move by hand.
type rtClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rtClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *rtClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// rtSecrets is rgFaultySecrets that also schedules rotation (in memory).
type rtSecrets struct {
	rgFaultySecrets
	mem *store.MemorySecrets
}

func (s rtSecrets) SetRotation(ctx context.Context, id string, p time.Duration, next time.Time) error {
	return s.In.Do("secrets.SetRotation", func() error { return s.mem.SetRotation(ctx, id, p, next) })
}

// rtStore is rgFaultyStore that also keeps key cleanup records (in memory).
type rtStore struct {
	rgFaultyStore
	kc connector.Store
}

func (s rtStore) PutCleanup(ctx context.Context, k connector.KeyCleanup) error {
	return s.In.Do("store.PutCleanup", func() error { return s.kc.PutCleanup(ctx, k) })
}

func (s rtStore) ListCleanups(ctx context.Context) (out []connector.KeyCleanup, err error) {
	err = s.In.Do("store.ListCleanups", func() error { out, err = s.kc.ListCleanups(ctx); return err })
	return out, err
}

func (s rtStore) DeleteCleanup(ctx context.Context, id string) error {
	return s.In.Do("store.DeleteCleanup", func() error { return s.kc.DeleteCleanup(ctx, id) })
}

// rtKeys injects faults into the KeyManager: "after" on keys.Create is a key created whose
// answer never arrived (a crash between the IAM call's return and the write of its id).
type rtKeys struct {
	upkeep.KeyManager
	in *rgInjector
}

func (k rtKeys) CreateKey(ctx context.Context, g connector.Grant, email string) (id, file string, err error) {
	err = k.in.Do("keys.Create", func() error { id, file, err = k.KeyManager.CreateKey(ctx, g, email); return err })
	if err != nil {
		return "", "", err
	}
	return id, file, nil
}

func (k rtKeys) DeleteKey(ctx context.Context, g connector.Grant, email, id string) error {
	return k.in.Do("keys.Delete", func() error { return k.KeyManager.DeleteKey(ctx, g, email, id) })
}

type rtEnv struct {
	svc   *upkeep.Keeper
	srv   *fakegcp.Server
	clock *rtClock
	in    *rgInjector
	mem   *store.MemorySecrets
	id    string
	// registered is the id of the key the connector was registered with (not gcpconn's).
	registered string
}

// rtNew registers a connector rotating every 30 days with rtAccount's first key; the account
// may manage its own keys.
func rtNew(t *testing.T) *rtEnv {
	t.Helper()
	srv := fakegcptest.StartExported(t, fakegcp.Options{})
	if err := srv.World().AddBinding(world.Binding{Resource: "projects/zenml-core/serviceAccounts/" + rtAccount,
		Role: "roles/iam.serviceAccountKeyAdmin", Members: []string{"serviceAccount:" + rtAccount}}); err != nil {
		t.Fatal(err)
	}
	clock := &rtClock{t: time.Now().UTC().Truncate(time.Second)}
	srv.World().SetClock(clock.Now) // dates new keys
	g := gcp.New(gcp.EndpointsFromEnv())
	in := &rgInjector{}
	mem := store.NewMemorySecrets()
	mstore := store.NewMemory()
	svc := upkeep.New(&connector.Service{Store: rtStore{rgFaultyStore{Store: mstore, In: in}, mstore},
		Secrets: rtSecrets{rgFaultySecrets{SecretStore: mem, In: in}, mem}, Google: g,
		Now: clock.Now}, rtKeys{KeyManager: g, in: in})
	raw, err := srv.KeyJSON(rtAccount)
	if err != nil {
		t.Fatal(err)
	}
	var key map[string]any
	_ = json.Unmarshal(raw, &key)
	c, _, err := svc.Register(context.Background(), connector.Principal{Email: swOwner}, connector.RegisterRequest{
		Name: "rotating", AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCSBucket, ResourceID: "gs://zenml-bucket-sl",
		Configuration:  map[string]any{"project_id": "zenml-core", "service_account_json": key},
		RotationPeriod: 30 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if got := mem.Rotation(c.ID); got.Period != 30*24*time.Hour || !got.Next.Equal(clock.Now().Add(30*24*time.Hour)) {
		t.Errorf("secret rotation schedule = %+v; want every 720h from %v", got, clock.Now().Add(30*24*time.Hour))
	}
	return &rtEnv{svc: svc, srv: srv, clock: clock, in: in, mem: mem, id: c.ID, registered: key["private_key_id"].(string)}
}

func (e *rtEnv) get(t *testing.T) *connector.Connector {
	t.Helper()
	c, err := e.svc.Store.Get(context.Background(), e.id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// keys returns the ids of the account's live keys.
func (e *rtEnv) keys(t *testing.T) []string {
	t.Helper()
	ks, err := e.srv.World().Keys(rtAccount)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}

// mints checks that the connector mints a token.
func (e *rtEnv) mints(t *testing.T, when string) {
	t.Helper()
	_, err := e.svc.Mint(context.Background(), connector.Principal{Email: swOwner}, connector.MintRequest{Ref: "rotating", ResourceType: resourceid.GCSBucket})
	if err != nil {
		t.Errorf("%s: mint = %v; want a token", when, err)
	}
}

// settled checks, after RepairRotation has run past the rotation budget, that nothing is in
// flight, every live key of the account is the registered one, another's, or referenced by
// the connector, and the connector mints.
func (e *rtEnv) settled(t *testing.T, when string, others ...string) {
	t.Helper()
	e.clock.Add(upkeep.RotationBudget + time.Second)
	if _, err := e.svc.RepairRotation(context.Background(), e.get(t)); err != nil {
		t.Fatalf("%s: RepairRotation = %v", when, err)
	}
	c := e.get(t)
	if c.Rotation.Pending != nil {
		t.Errorf("%s: a rotation is still pending after repair: %+v", when, *c.Rotation.Pending)
	}
	ok := append([]string{e.registered, c.Rotation.KeyID}, others...)
	for _, r := range c.Rotation.Retired {
		ok = append(ok, r.KeyID)
	}
	for _, k := range e.keys(t) {
		if !slices.Contains(ok, k) {
			t.Errorf("%s: key %s of the account is an orphan (connector knows %v)", when, k, ok)
		}
	}
	for _, k := range append([]string{e.registered}, others...) {
		if !slices.Contains(e.keys(t), k) {
			t.Errorf("%s: key %s, which gcpconn did not create, was deleted", when, k)
		}
	}
	if _, err := e.mem.Access(context.Background(), c.ID, c.SecretVersion); err != nil {
		t.Errorf("%s: the pinned version %s cannot be read: %v", when, c.SecretVersion, err)
	}
	e.mints(t, when)
}

// TestRotateKeyAgainstFake: a due rotation pins a new key that mints; a duplicate or concurrent
// event makes no second key; the replaced key gcpconn created is deleted after the grace, the
// registered key (not gcpconn's) is left in place while its version is destroyed.
func TestRotateKeyAgainstFake(t *testing.T) {
	e := rtNew(t)
	ctx := context.Background()
	if ok, err := e.svc.RotateKey(ctx, e.id, false); ok || err != nil {
		t.Fatalf("RotateKey before it is due = %v, %v; want nothing done", ok, err)
	}
	e.clock.Add(30 * 24 * time.Hour)
	if ok, err := e.svc.RotateKey(ctx, e.id, false); !ok || err != nil {
		t.Fatalf("RotateKey when due = %v, %v; want a new key pinned", ok, err)
	}
	c := e.get(t)
	if c.Rotation.KeyID == e.registered || !c.Rotation.KeyManaged || c.Rotation.Generation != 1 || len(c.Rotation.Retired) != 1 || c.Rotation.Retired[0].KeyID != e.registered {
		t.Fatalf("after the rotation: %+v; want a new managed key, generation 1, the registered key retired", c.Rotation)
	}
	// New tokens come from the new key: with the registered key disabled, minting works.
	e.srv.World().SetKeyDisabled(rtAccount, e.registered, true)
	e.mints(t, "registered key disabled")
	e.srv.World().SetKeyDisabled(rtAccount, e.registered, false)
	first := c.Rotation.KeyID

	if ok, err := e.svc.RotateKey(ctx, e.id, false); ok || err != nil {
		t.Errorf("a duplicate event: RotateKey = %v, %v; want nothing done", ok, err)
	}
	e.clock.Add(30 * 24 * time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	rotated := 0
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := e.svc.RotateKey(ctx, e.id, false)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				rotated++
			}
			if err != nil {
				t.Errorf("concurrent RotateKey = %v", err)
			}
		}()
	}
	wg.Wait()
	if n := len(e.keys(t)); rotated != 1 || n != 3 {
		t.Errorf("5 concurrent events: %d rotations, %d keys; want 1 rotation and 3 keys (registered, first, second)", rotated, n)
	}
	c = e.get(t)
	if n, err := e.svc.RepairRotation(ctx, c); n != 0 || err != nil {
		t.Errorf("RepairRotation inside the grace = %d, %v; want nothing deleted", n, err)
	}
	e.clock.Add(rotation.Grace)
	n, err := e.svc.RepairRotation(ctx, e.get(t))
	if err != nil || n != 1 {
		t.Errorf("RepairRotation after the grace = %d, %v; want the first rotated key deleted", n, err)
	}
	if ks := e.keys(t); slices.Contains(ks, first) || !slices.Contains(ks, e.registered) || len(ks) != 2 {
		t.Errorf("keys after the grace = %v; want %s deleted and the registered %s kept", ks, first, e.registered)
	}
	c = e.get(t)
	if len(c.Rotation.Retired) != 0 {
		t.Errorf("retired after the grace = %+v; want none", c.Rotation.Retired)
	}
	if _, err := e.mem.Access(ctx, c.ID, "1"); connector.KindOf(err) != connector.ErrFailedPrecondition {
		t.Errorf("the registered key's version after the grace: %v; want it destroyed", err)
	}
	e.mints(t, "after the grace")
}

// TestRotateKeyFaults injects a fault at each step of a rotation; after the next repair no
// key is orphaned and the connector pins a working key.
func TestRotateKeyFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []rgFault
		fake   string // a fake endpoint failing once with 503
	}{
		{name: "list keys fails", fake: "iam.serviceAccountKeys.list"},
		{name: "create fails", fake: "iam.serviceAccountKeys.create"},
		{name: "key created, answer lost", faults: []rgFault{{Op: "keys.Create", After: true}}},
		{name: "claim write fails", faults: []rgFault{{Op: "store.Update", Nth: 1}}},
		{name: "key id write fails", faults: []rgFault{{Op: "store.Update", Nth: 2}}},
		{name: "key id write fails, then its delete", faults: []rgFault{{Op: "store.Update", Nth: 2}, {Op: "keys.Delete"}}},
		{name: "secret write fails", faults: []rgFault{{Op: "secrets.AddVersion"}}},
		{name: "secret written, answer lost", faults: []rgFault{{Op: "secrets.AddVersion", After: true}}},
		{name: "version write fails", faults: []rgFault{{Op: "store.Update", Nth: 3}}},
		{name: "pin fails", faults: []rgFault{{Op: "store.Update", Nth: 4}}},
		{name: "pin applied, answer lost", faults: []rgFault{{Op: "store.Update", Nth: 4, After: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := rtNew(t)
			ctx := context.Background()
			other, err := e.srv.World().CreateKey(rtAccount) // someone else's key, made before
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Add(30 * 24 * time.Hour)
			e.in.Arm(tc.faults...)
			if tc.fake != "" {
				e.srv.Faults().Set(tc.fake, faults.Fault{Status: 503, Times: 1})
			}
			_, rerr := e.svc.RotateKey(ctx, e.id, false)
			t.Logf("RotateKey: %v", rerr)
			e.in.CheckFired(t)
			e.srv.Faults().Set("*", faults.Fault{})
			// At once, without a repair: nothing stuck in progress, the failure recorded, the
			// old key (or a verified new one) pinned and minting.
			c := e.get(t)
			if p := c.Rotation.Pending; p != nil && p.State() != rotation.Verifying {
				t.Errorf("after the failure: rotation left %s: %+v; want it released (or verifying)", p.State(), *p)
			}
			if rerr != nil && c.Rotation.Pending == nil && c.Rotation.LastError == "" && c.Rotation.Generation == 0 {
				t.Errorf("after the failure (%v): rotation.last_error is empty", rerr)
			}
			e.mints(t, "after the failure")
			// Someone else creates a key after the rotation's window (the IAM call's deadline
			// and the time Google may still take to act on it): never taken for ours.
			e.clock.Add(10 * time.Minute)
			late, err := e.srv.World().CreateKey(rtAccount)
			if err != nil {
				t.Fatal(err)
			}
			// The next rotate rotates (or pins the verifying key), with no sweep in between.
			if ok, err := e.svc.RotateKey(ctx, e.id, true); !ok || err != nil {
				t.Errorf("the next rotation = %v, %v; want a new key pinned", ok, err)
			}
			e.settled(t, "after the next rotation and a repair", other.ID, late.ID)
			e.clock.Add(30 * 24 * time.Hour)
			if ok, err := e.svc.RotateKey(ctx, e.id, true); !ok || err != nil {
				t.Errorf("a later rotation = %v, %v; want a new key", ok, err)
			}
			e.settled(t, "after the next rotation", other.ID, late.ID)
		})
	}
}

// TestRotateKeyRefusals: Google's refusals of a new key are told apart (the 10-key limit, an
// organisation policy, a missing permission; anything else passes Google's message through),
// each recorded in rotation.last_error with nothing left in progress and the old key minting.
func TestRotateKeyRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     faults.Fault
		want, not string
	}{
		{"key limit", faults.Fault{Status: 400, GoogleStatus: "FAILED_PRECONDITION", Message: "Precondition check failed."},
			"at most 10 keys", "policy"},
		{"organisation policy", faults.Fault{Status: 400, GoogleStatus: "FAILED_PRECONDITION", Message: "Key creation is not allowed on this service account.",
			Violation: "constraints/iam.disableServiceAccountKeyCreation"}, "organisation policy (constraints/iam.disableServiceAccountKeyCreation) forbids", "10 keys"},
		{"missing permission", faults.Fault{Status: 403, Message: "Permission 'iam.serviceAccountKeys.create' denied on resource (or it may not exist)."},
			"permission denied: Google refused to create a key", "10 keys"},
		{"another precondition", faults.Fault{Status: 400, GoogleStatus: "FAILED_PRECONDITION", Message: "The service account is being deleted."},
			"The service account is being deleted", "10 keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := rtNew(t)
			tc.fault.Times = 1
			e.srv.Faults().Set("iam.serviceAccountKeys.create", tc.fault)
			_, err := e.svc.RotateKey(context.Background(), e.id, true)
			if connector.KindOf(err) != connector.ErrFailedPrecondition || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.not) {
				t.Errorf("RotateKey = %v; want a failed precondition saying %q (not %q)", err, tc.want, tc.not)
			}
			c := e.get(t)
			if c.Rotation.Pending != nil || !strings.Contains(c.Rotation.LastError, tc.want) || c.Rotation.KeyID != e.registered {
				t.Errorf("rotation after the refusal = %+v; want nothing in progress, last_error saying %q, the registered key pinned", c.Rotation, tc.want)
			}
			e.mints(t, "after the refusal")
			if ok, err := e.svc.RotateKey(context.Background(), e.id, true); !ok || err != nil {
				t.Errorf("the next rotation = %v, %v; want a new key", ok, err)
			}
		})
	}
}

// TestKeysCleanedAfterUpdateAndDelete: the keys gcpconn created for a connector are deleted
// after the grace by the repair (sweep), with the identity that can delete them, after an
// update to another account's key (the old account's keys, deleted with the old key, never
// counted as deleted on a 404 under the new account) and after the connector is deleted (a
// cleanup record keeps them and the secret until then); the registered key is left.
func TestKeysCleanedAfterUpdateAndDelete(t *testing.T) {
	const newAccount = "connectors-admin@zenml-core.iam.gserviceaccount.com"
	for _, how := range []string{"update", "delete", "delete, sharded sweep"} {
		t.Run(how, func(t *testing.T) {
			e := rtNew(t)
			ctx := context.Background()
			for range 2 {
				if ok, err := e.svc.RotateKey(ctx, e.id, true); !ok || err != nil {
					t.Fatalf("RotateKey = %v, %v", ok, err)
				}
			}
			if n := len(e.keys(t)); n != 3 {
				t.Fatalf("%d keys after two rotations; want the registered one and two of gcpconn's", n)
			}
			owner := connector.Principal{Email: swOwner}
			if how == "update" {
				raw, err := e.srv.KeyJSON(newAccount)
				if err != nil {
					t.Fatal(err)
				}
				var key map[string]any
				_ = json.Unmarshal(raw, &key)
				if _, err := e.svc.Update(ctx, owner, "rotating", connector.UpdateRequest{Verify: new(bool),
					Configuration: map[string]any{"project_id": "zenml-core", "service_account_json": key}}); err != nil {
					t.Fatalf("Update = %v", err)
				}
			} else if err := e.svc.Delete(ctx, owner, "rotating"); err != nil {
				t.Fatalf("Delete = %v", err)
			}
			sweep := func() {
				t.Helper()
				if how == "delete, sharded sweep" {
					e.svc.Runs, e.svc.Shards = &store.MemoryRuns{}, upkeep.LocalShards{Keeper: e.svc}
					if _, err := e.svc.StartSweep(ctx, upkeep.SweepOptions{}, 0); err != nil {
						t.Fatalf("StartSweep = %v", err)
					}
					return
				}
				if _, err := e.svc.Sweep(ctx, upkeep.SweepOptions{KeepOrphans: how == "update"}); err != nil {
					t.Fatalf("Sweep = %v", err)
				}
			}
			sweep()
			if n := len(e.keys(t)); n != 3 {
				t.Errorf("inside the grace: %d keys; want all 3 kept", n)
			}
			e.clock.Add(rotation.Grace + time.Minute)
			sweep()
			if ks := e.keys(t); len(ks) != 1 || ks[0] != e.registered {
				t.Errorf("after the grace: keys of %s = %v; want only the registered %s", rtAccount, ks, e.registered)
			}
			if how != "update" {
				if ids, _ := e.mem.ListConnectorIDs(ctx); len(ids) != 0 {
					t.Errorf("secrets left after the cleanup: %v", ids)
				}
				if recs, _ := e.svc.Store.ListCleanups(ctx); len(recs) != 0 {
					t.Errorf("cleanup records left: %+v", recs)
				}
			}
		})
	}
}

// TestManualRotationsStayUnderKeyLimit: twelve manual rotations in an hour on an account
// with no other keys never fail for Google's 10-key limit: the oldest key gcpconn retired
// is deleted early once no token minted from it can be in use. When tokens minted from
// every retired key are still valid, the rotation is refused before it claims anything,
// saying how many keys are gcpconn's retired ones and when the next may go; nothing is
// left in progress and the pinned key mints.
func TestManualRotationsStayUnderKeyLimit(t *testing.T) {
	for _, minting := range []bool{false, true} {
		t.Run(fmt.Sprintf("minting %v", minting), func(t *testing.T) {
			e := rtNew(t)
			ctx := context.Background()
			for i := range 12 {
				e.clock.Add(5 * time.Minute)
				ok, err := e.svc.RotateKey(ctx, e.id, true)
				c := e.get(t)
				if minting && i == 9 {
					if ok || connector.KindOf(err) != connector.ErrFailedPrecondition || !strings.Contains(err.Error(), "8 of them are keys gcpconn retired from this connector") ||
						!strings.Contains(err.Error(), "may be deleted at") || c.Rotation.Pending != nil || len(e.keys(t)) != 10 {
						t.Fatalf("rotation %d with every retired key's tokens live = %v, %v, pending %v, %d keys; want a refusal before any claim, saying so", i+1, ok, err, c.Rotation.Pending, len(e.keys(t)))
					}
					e.mints(t, "after the refusal")
					return
				}
				if !ok || err != nil {
					t.Fatalf("rotation %d at +%dm = %v, %v (keys %d); want a new key", i+1, 5*(i+1), ok, err, len(e.keys(t)))
				}
				if ks := e.keys(t); !slices.Contains(ks, c.Rotation.KeyID) || !slices.Contains(ks, e.registered) || len(ks) > upkeep.MaxKeysPerAccount {
					t.Fatalf("after rotation %d: keys %v; want the pinned %s and the registered key, at most 10", i+1, ks, c.Rotation.KeyID)
				}
				if minting {
					e.mints(t, fmt.Sprintf("after rotation %d", i+1))
				}
			}
		})
	}
}

// TestLostCreateSearch: a create whose answer never arrived, and whose key Google makes
// late (after the call's deadline), is found and deleted once no late create can land; a
// key another connector of the same account created in that window, and records (here in the
// cleanup record it left when deleted), is never taken for it. A manual rotation moves the secret's rotation schedule.
func TestLostCreateSearch(t *testing.T) {
	e := rtNew(t)
	ctx := context.Background()
	e.clock.Add(24 * time.Hour)
	e.in.Arm(rgFault{Op: "keys.Create"})
	if _, err := e.svc.RotateKey(ctx, e.id, true); err == nil {
		t.Fatal("RotateKey with the create's answer lost = nil; want an error")
	}
	c := e.get(t)
	if c.Rotation.Pending != nil || c.Rotation.LastError == "" || len(c.Rotation.Retired) != 1 || c.Rotation.Retired[0].Lost == nil {
		t.Fatalf("after the lost create: rotation %+v; want it released, last_error set and a lost-key record", c.Rotation)
	}
	e.clock.Add(90 * time.Second)
	late, err := e.srv.World().CreateKey(rtAccount) // Google acts on the call after its deadline
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := e.srv.KeyJSON(rtAccount)
	var key map[string]any
	_ = json.Unmarshal(raw, &key)
	other, _, err := e.svc.Register(ctx, connector.Principal{Email: swOwner}, connector.RegisterRequest{
		Name: "same-account", AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCSBucket, ResourceID: "gs://zenml-bucket-sl",
		Configuration: map[string]any{"project_id": "zenml-core", "service_account_json": key}, RotationPeriod: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.svc.RotateKey(ctx, other.ID, true); !ok || err != nil {
		t.Fatalf("RotateKey of another connector of the account = %v, %v", ok, err)
	}
	others, _ := e.svc.Store.Get(ctx, other.ID)
	// Deleted: its key waits in a cleanup record for the grace, and is not ours either.
	if err := e.svc.Delete(ctx, connector.Principal{Email: swOwner}, "same-account"); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.RepairRotation(ctx, e.get(t)); n != 0 || err != nil {
		t.Errorf("RepairRotation before the window closed = %d, %v; want nothing deleted yet", n, err)
	}
	e.clock.Add(5 * time.Minute)
	if n, err := e.svc.RepairRotation(ctx, e.get(t)); n != 1 || err != nil {
		t.Errorf("RepairRotation after the window = %d, %v; want the late key deleted", n, err)
	}
	ks := e.keys(t)
	if slices.Contains(ks, late.ID) || !slices.Contains(ks, others.Rotation.KeyID) || !slices.Contains(ks, e.registered) {
		t.Errorf("keys after the search: %v; want %s (late, ours) deleted, %s (the other connector's) and the registered key kept", ks, late.ID, others.Rotation.KeyID)
	}
	if ok, err := e.svc.RotateKey(ctx, e.id, true); !ok || err != nil {
		t.Fatalf("RotateKey = %v, %v", ok, err)
	}
	if got := e.mem.Rotation(e.id); !got.Next.Equal(e.clock.Now().Add(30 * 24 * time.Hour)) {
		t.Errorf("after a manual rotation the secret's next rotation is %v; want a period from now (%v)", got.Next, e.clock.Now().Add(30*24*time.Hour))
	}
}
