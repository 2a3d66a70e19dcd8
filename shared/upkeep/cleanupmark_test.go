package upkeep_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// metadataCounter counts the Secret Manager metadata reads of sweep: version listings and
// secret listings (the orphan search).
type metadataCounter struct {
	*store.MemorySecrets
	listVersions, listSecrets atomic.Int64
	mu                        sync.Mutex
	listed                    []string // the connectors whose versions were listed
}

func (m *metadataCounter) ListVersions(ctx context.Context, id string) ([]upkeep.SecretVersion, error) {
	m.listVersions.Add(1)
	m.mu.Lock()
	m.listed = append(m.listed, id)
	m.mu.Unlock()
	return m.MemorySecrets.ListVersions(ctx, id)
}

func (m *metadataCounter) SecretCreateTimes(ctx context.Context) (map[string]time.Time, error) {
	m.listSecrets.Add(1)
	return m.MemorySecrets.SecretCreateTimes(ctx)
}

// TestVersionCleanupOnlyWhereMarked: a sweep run over connectors with nothing to clean lists
// no secret versions and searches for orphans with one listing; an update marks its
// connector, and the next run lists (and cleans) exactly that connector's versions, then
// clears the mark, so the run after lists none again. Checked by breaking it: without the
// check of the mark every run lists all 30 connectors' versions; without the clear the
// third run lists the updated connector again.
func TestVersionCleanupOnlyWhereMarked(t *testing.T) {
	secrets := &metadataCounter{MemorySecrets: store.NewMemorySecrets()}
	s, _, clock := swClockedService(secrets.MemorySecrets, secrets)
	s.Runs = &store.MemoryRuns{}
	s.Shards = upkeep.LocalShards{Keeper: s}
	ids := swRegister(t, s, "c", 30, swDefaultKey)
	ctx := context.Background()
	run := func(when string) upkeep.SweepRunView {
		t.Helper()
		secrets.listVersions.Store(0)
		secrets.listSecrets.Store(0)
		secrets.listed = nil
		v, err := s.StartSweep(ctx, upkeep.SweepOptions{}, 10)
		if err != nil || v.State != "done" || v.Report.Checked != 30 {
			t.Fatalf("%s: run = %+v, %v; want done with 30 checked", when, v, err)
		}
		if n := secrets.listSecrets.Load(); n != 1 {
			t.Errorf("%s: %d secret listings (orphan search); want 1 per run", when, n)
		}
		return v
	}

	run("nothing pending")
	if n := secrets.listVersions.Load(); n != 0 {
		t.Errorf("nothing pending: %d version listings over 30 connectors; want 0", n)
	}

	updated, err := s.Update(ctx, connector.Principal{Email: swOwner}, ids[5], connector.UpdateRequest{
		Configuration: map[string]any{"project_id": "demo-project", "service_account_json": swKeyJSON("sa2@demo-project.iam.gserviceaccount.com")},
		Verify:        new(false)})
	if err != nil {
		t.Fatal(err)
	}
	// What an update can leave behind (its cleanup failed, or it stopped after its secret
	// write): an unpinned version of the updated connector.
	stray, err := secrets.AddVersion(ctx, ids[5], connector.Secrets{ServiceAccountJSON: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(upkeep.VersionGrace + time.Minute)

	v := run("after an update")
	if n := secrets.listVersions.Load(); n != 1 || !slices.Equal(secrets.listed, []string{ids[5]}) || v.Report.VersionsRemoved != 1 {
		t.Errorf("after an update: listed the versions of %q (%d listings), %d removed; want only %s's, 1 removed",
			secrets.listed, n, v.Report.VersionsRemoved, ids[5])
	}
	if enabled := secrets.Versions(ids[5]); !slices.Equal(enabled, []string{updated.SecretVersion}) || slices.Contains(enabled, stray) {
		t.Errorf("enabled versions of the updated connector = %q; want only the pinned %q", enabled, updated.SecretVersion)
	}
	if c, _ := s.Store.Get(ctx, ids[5]); !c.CleanupAfter.IsZero() {
		t.Errorf("after the cleanup the connector's mark = %v; want it cleared", c.CleanupAfter)
	}

	run("after the cleanup")
	if n := secrets.listVersions.Load(); n != 0 {
		t.Errorf("after the cleanup: %d version listings; want 0", n)
	}
}

// lostAdd is a secret store whose next AddVersion, once armed, stores the version but answers
// an error, as a write whose answer was lost does.
type lostAdd struct {
	*store.MemorySecrets
	armed atomic.Bool
}

func (s *lostAdd) AddVersion(ctx context.Context, id string, sec connector.Secrets) (string, error) {
	v, err := s.MemorySecrets.AddVersion(ctx, id, sec)
	if err == nil && s.armed.Swap(false) {
		return "", connector.Errorf(connector.ErrUpstreamUnavailable, "injected: the answer was lost")
	}
	return v, err
}

// TestRotationMarksItsConnectorForCleanup: a rotation whose new secret version was stored
// but whose answer was lost cannot record the version; its claim marked the connector, so
// the next sweep lists the secret's versions and destroys it. Checked by breaking it: without
// the mark in the claim the version stays enabled.
func TestRotationMarksItsConnectorForCleanup(t *testing.T) {
	keys := &rsKeys{live: map[string]time.Time{"k0": time.Now().Add(-100 * time.Hour)}}
	g := &swGoogle{TokenFunc: func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
		if err := keys.usable(gr); err != nil {
			return connector.Token{}, err
		}
		return connector.Token{Value: "ya29.x", Expiry: time.Now().Add(time.Hour)}, nil
	}}
	secrets := &lostAdd{MemorySecrets: store.NewMemorySecrets()}
	s := upkeep.New(&connector.Service{Store: store.NewMemory(), Secrets: secrets, Google: g}, keys)
	id := overdueFleet(t, s, []time.Duration{-20 * time.Hour})[0] // not due: sweep does not rotate it
	ctx := context.Background()
	secrets.armed.Store(true)
	if rotated, err := s.RotateKey(ctx, id, true); rotated || err == nil {
		t.Fatalf("RotateKey with its version's answer lost = %v, %v; want a failed rotation", rotated, err)
	}
	c, _ := s.Store.Get(ctx, id)
	if enabled := secrets.Versions(id); len(enabled) != 2 || c.CleanupAfter.IsZero() {
		t.Fatalf("after the failed rotation: enabled versions %q, mark %v; want the pinned one and the lost one, and the connector marked", enabled, c.CleanupAfter)
	}
	s.Now = func() time.Time { return time.Now().Add(upkeep.VersionGrace + time.Minute) }
	rep, err := s.Sweep(ctx, upkeep.SweepOptions{KeepOrphans: true})
	if err != nil || rep.VersionsRemoved != 1 {
		t.Errorf("Sweep = %+v, %v; want the lost version removed", rep, err)
	}
	if enabled := secrets.Versions(id); !slices.Equal(enabled, []string{c.SecretVersion}) {
		t.Errorf("enabled versions after sweep = %q; want only the pinned %q", enabled, c.SecretVersion)
	}
}

// TestClearingTheMarkKeepsTheRevision: background work never makes a user's update conflict.
// The sweep that cleans a marked connector's versions clears the mark without changing the
// revision, so an update conditioned on the revision read before the sweep still succeeds.
// Checked by breaking it: with the mark cleared by a configuration write (a store without
// CleanupMarks), the revision moves and the update fails with ErrConflict.
func TestClearingTheMarkKeepsTheRevision(t *testing.T) {
	secrets := store.NewMemorySecrets()
	s, _, clock := swClockedService(secrets, secrets)
	ids := swRegister(t, s, "c", 1, swDefaultKey)
	ctx := context.Background()
	if _, err := s.Update(ctx, connector.Principal{Email: swOwner}, ids[0], connector.UpdateRequest{
		Configuration: map[string]any{"project_id": "demo-project", "service_account_json": swKeyJSON("sa2@demo-project.iam.gserviceaccount.com")},
		Verify:        new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.AddVersion(ctx, ids[0], connector.Secrets{ServiceAccountJSON: "{}"}); err != nil {
		t.Fatal(err) // what an interrupted update leaves behind
	}
	clock.Advance(upkeep.VersionGrace + time.Minute)
	userRead, err := s.Store.Get(ctx, ids[0])
	if err != nil || userRead.CleanupAfter.IsZero() {
		t.Fatalf("Get after the update = mark %v, %v; want marked", userRead.CleanupAfter, err)
	}
	if rep, err := s.Sweep(ctx, upkeep.SweepOptions{}); err != nil || rep.VersionsRemoved != 1 {
		t.Fatalf("Sweep = %+v, %v; want the replaced version removed", rep, err)
	}
	swept, _ := s.Store.Get(ctx, ids[0])
	if !swept.CleanupAfter.IsZero() || swept.Revision != userRead.Revision {
		t.Fatalf("after the sweep: mark %v, revision %d (was %d); want the mark cleared, the revision kept",
			swept.CleanupAfter, swept.Revision, userRead.Revision)
	}
	userRead.Description = "edited by its owner"
	if err := s.Store.Update(ctx, userRead); err != nil {
		t.Errorf("an update conditioned on the revision read before the sweep = %v; want nil", err)
	}
}
