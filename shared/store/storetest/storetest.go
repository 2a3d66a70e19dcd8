// Package storetest is the contract suite of gcpconn's storage ports: every
// connector.Store must pass Run and every connector.SecretStore must pass RunSecrets.
//
// A store test calls the suite with a constructor that returns a fresh, empty store for each
// subtest (its own Firestore collection or project, its own fake Secret Manager):
//
//	func TestMemory(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) connector.Store { return store.NewMemory() })
//	}
//
// The suite checks behaviour the use cases rely on: unique names also under concurrency,
// reads by id and by name, filters, ordering and paging, optimistic updates, renames,
// status writes and cleanup-mark writes that leave the revision alone, deletes, the error kinds of each failure, and
// that callers never alias stored values.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Sample returns a fully populated connector with the given id and name, the kind of value
// every store must round-trip field by field.
func Sample(id, name string) *connector.Connector {
	gen := false
	return &connector.Connector{
		ID:                id,
		Name:              name,
		Type:              connector.TypeGCP,
		AuthMethod:        configschema.ServiceAccount,
		Description:       "sample connector " + name,
		Labels:            map[string]string{"team": "data", "env": "dev"},
		ResourceTypes:     []connector.ResourceType{resourceid.GCSBucket},
		ResourceID:        "gs://bucket-" + id,
		SupportsInstances: false,
		Config: connector.Config{
			ProjectID:               "proj-1",
			ServiceAccountEmail:     "sa@proj-1.iam.gserviceaccount.com",
			TargetPrincipal:         "target@proj-1.iam.gserviceaccount.com",
			Delegates:               []string{"d1@proj-1.iam.gserviceaccount.com", "d2@proj-1.iam.gserviceaccount.com"},
			GenerateTemporaryTokens: &gen,
		},
		SecretFields:      []string{configschema.FieldServiceAccountJSON},
		SecretVersion:     "3",
		Owner:             "owner@example.com",
		Users:             []string{"ci@example.com", "dev@example.com"},
		ExpiresAt:         time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		ExpirationSeconds: 1800,
		CleanupAfter:      time.Date(2029, 6, 9, 0, 0, 0, 0, time.UTC),
		Status: connector.Status{
			State:          connector.StatePartial,
			CheckedAt:      time.Date(2029, 6, 7, 8, 9, 10, 0, time.UTC),
			Error:          "permission denied on bucket",
			RotationDue:    true,
			FailingTypes:   "gcs-bucket,kubernetes-cluster",
			Inconclusive:   "the check could not be made: Google is unavailable",
			InconclusiveAt: time.Date(2029, 6, 8, 0, 0, 0, 0, time.UTC),
			TokensVersion:  "3",
			TokensUntil:    time.Date(2029, 6, 8, 1, 0, 0, 0, time.UTC),
		},
		Rotation: rotation.State{
			Period:       30 * 24 * time.Hour,
			KeyID:        "key-" + id,
			KeyCreatedAt: time.Date(2029, 5, 1, 2, 3, 4, 0, time.UTC),
			KeyManaged:   true,
			KeyTracked:   true,
			Generation:   4,
			Pending: &rotation.Pending{Generation: 5, Claim: "c0ffee", StartedAt: time.Date(2029, 6, 1, 0, 0, 1, 0, time.UTC),
				FromVersion: "3", KnownKeys: []string{"key-" + id, "k-old"}, Email: "sa@p.iam.gserviceaccount.com", KeyID: "k-new", Version: "4",
				VerifyBy: time.Date(2029, 6, 1, 1, 0, 1, 0, time.UTC)},
			Retired: []rotation.RetiredKey{
				{KeyID: "k-old", Version: "2", Email: "sa@p.iam.gserviceaccount.com", RetiredAt: time.Date(2029, 5, 1, 2, 3, 4, 0, time.UTC),
					DeleteAfter: time.Date(2029, 5, 1, 4, 3, 4, 0, time.UTC), Managed: true,
					TokensUntil: time.Date(2029, 5, 1, 3, 0, 0, 0, time.UTC), TokensTracked: true},
				{KeyID: "k-registered", Version: "1", DeleteAfter: time.Date(2029, 4, 1, 4, 3, 4, 0, time.UTC)},
				{Email: "other@p.iam.gserviceaccount.com", Managed: true, DeleteAfter: time.Date(2029, 6, 1, 0, 3, 0, 0, time.UTC),
					Lost: &rotation.LostKey{From: time.Date(2029, 6, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2029, 6, 1, 0, 3, 0, 0, time.UTC), KnownKeys: []string{"k-a"}}},
			},
			LastError: "the new key failed verification",
		},
	}
}

// Run runs the connector.Store contract suite. newStore must return a fresh, empty store
// each time it is called.
func Run(t *testing.T, newStore func(t *testing.T) connector.Store) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, newStore(t)) })
	t.Run("NoAliasing", func(t *testing.T) { testNoAliasing(t, newStore(t)) })
	t.Run("CreateDuplicate", func(t *testing.T) { testCreateDuplicate(t, newStore(t)) })
	t.Run("ConcurrentCreateOneName", func(t *testing.T) { testConcurrentCreate(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, newStore(t)) })
	t.Run("UpdateStale", func(t *testing.T) { testUpdateStale(t, newStore(t)) })
	t.Run("ConcurrentUpdate", func(t *testing.T) { testConcurrentUpdate(t, newStore(t)) })
	t.Run("SetStatus", func(t *testing.T) { testSetStatus(t, newStore(t)) })
	t.Run("SetStatusStale", func(t *testing.T) { testSetStatusStale(t, newStore(t)) })
	t.Run("ConcurrentSetStatus", func(t *testing.T) { testConcurrentSetStatus(t, newStore(t)) })
	t.Run("Rename", func(t *testing.T) { testRename(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("ListFilters", func(t *testing.T) { testListFilters(t, newStore(t)) })
	t.Run("ListPaging", func(t *testing.T) { testListPaging(t, newStore(t)) })
	t.Run("ListPagingWithFilter", func(t *testing.T) { testListPagingWithFilter(t, newStore(t)) })
	t.Run("ListPagingAcrossWrites", func(t *testing.T) { testListPagingAcrossWrites(t, newStore(t)) })
	t.Run("ListBadToken", func(t *testing.T) { testListBadToken(t, newStore(t)) })
	t.Run("KeyCleanups", func(t *testing.T) { testKeyCleanups(t, newStore(t)) })
	t.Run("CleanupMark", func(t *testing.T) { testCleanupMark(t, newStore(t)) })
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustCreate(t *testing.T, s connector.Store, c *connector.Connector) *connector.Connector {
	t.Helper()
	if err := s.Create(ctx(t), c); err != nil {
		t.Fatalf("Create(%q) = %v; want nil", c.Name, err)
	}
	return c
}

func mustGet(t *testing.T, s connector.Store, id string) *connector.Connector {
	t.Helper()
	c, err := s.Get(ctx(t), id)
	if err != nil {
		t.Fatalf("Get(%q) = %v; want nil", id, err)
	}
	return c
}

func wantKind(t *testing.T, call string, err error, want connector.Kind) {
	t.Helper()
	if got := connector.KindOf(err); got != want {
		t.Errorf("%s = %v (kind %q); want kind %q", call, err, got, want)
	}
	if err != nil && !errors.Is(err, want) {
		t.Errorf("errors.Is(%s error, %q) = false; want true", call, want)
	}
}

// Equal reports how got differs from want, ignoring what stores set (timestamps, revision)
// and nil-versus-empty maps and slices; "" means equal.
func Equal(got, want *connector.Connector) string {
	g, w := normalize(got), normalize(want)
	if !g.ExpiresAt.Equal(w.ExpiresAt) {
		return fmt.Sprintf("ExpiresAt = %v; want %v", g.ExpiresAt, w.ExpiresAt)
	}
	if !g.CleanupAfter.Equal(w.CleanupAfter) {
		return fmt.Sprintf("CleanupAfter = %v; want %v", g.CleanupAfter, w.CleanupAfter)
	}
	if !g.Status.CheckedAt.Equal(w.Status.CheckedAt) {
		return fmt.Sprintf("Status.CheckedAt = %v; want %v", g.Status.CheckedAt, w.Status.CheckedAt)
	}
	g.ExpiresAt, w.ExpiresAt = time.Time{}, time.Time{}
	g.CleanupAfter, w.CleanupAfter = time.Time{}, time.Time{}
	g.Status.CheckedAt, w.Status.CheckedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("connector = %+v; want %+v", g, w)
	}
	return ""
}

func normalize(c *connector.Connector) connector.Connector {
	d := *c
	d.Labels = map[string]string{}
	for k, v := range c.Labels {
		d.Labels[k] = v
	}
	d.ResourceTypes = append([]connector.ResourceType{}, c.ResourceTypes...)
	d.SecretFields = append([]string{}, c.SecretFields...)
	d.Users = append([]string{}, c.Users...)
	d.Config.Delegates = append([]string{}, c.Config.Delegates...)
	d.CreatedAt, d.UpdatedAt, d.Revision = time.Time{}, time.Time{}, 0
	return d
}

func testCreateGet(t *testing.T, s connector.Store) {
	in := Sample("id-1", "alpha")
	want := Sample("id-1", "alpha")
	mustCreate(t, s, in)
	if in.CreatedAt.IsZero() || in.UpdatedAt.IsZero() {
		t.Errorf("Create set CreatedAt = %v, UpdatedAt = %v; want both set", in.CreatedAt, in.UpdatedAt)
	}
	if in.Revision <= 0 {
		t.Errorf("Create set Revision = %d; want > 0", in.Revision)
	}
	byID := mustGet(t, s, "id-1")
	if d := Equal(byID, want); d != "" {
		t.Errorf("Get(id-1): %s", d)
	}
	if !byID.CreatedAt.Equal(in.CreatedAt) || byID.Revision != in.Revision {
		t.Errorf("Get(id-1) CreatedAt, Revision = %v, %d; want %v, %d (as Create set them)", byID.CreatedAt, byID.Revision, in.CreatedAt, in.Revision)
	}
	byName, err := s.GetByName(ctx(t), "alpha")
	if err != nil {
		t.Fatalf("GetByName(alpha) = %v; want nil", err)
	}
	if d := Equal(byName, want); d != "" {
		t.Errorf("GetByName(alpha): %s", d)
	}

	// A connector with every optional field empty round-trips too.
	bare := &connector.Connector{ID: "id-2", Name: "bare", Type: connector.TypeGCP, AuthMethod: configschema.Implicit,
		ResourceTypes: slices.Clone(resourceid.Types), Config: connector.Config{ProjectID: "p"}, Owner: "o@example.com"}
	mustCreate(t, s, bare)
	got := mustGet(t, s, "id-2")
	if d := Equal(got, &connector.Connector{ID: "id-2", Name: "bare", Type: connector.TypeGCP, AuthMethod: configschema.Implicit,
		ResourceTypes: slices.Clone(resourceid.Types), Config: connector.Config{ProjectID: "p"}, Owner: "o@example.com"}); d != "" {
		t.Errorf("Get(id-2): %s", d)
	}
	if got.Config.GenerateTemporaryTokens != nil {
		t.Errorf("Get(id-2).Config.GenerateTemporaryTokens = %v; want nil (unset)", *got.Config.GenerateTemporaryTokens)
	}
}

func testNoAliasing(t *testing.T, s connector.Store) {
	in := Sample("id-1", "alpha")
	mustCreate(t, s, in)
	in.Labels["team"] = "changed-after-create"
	in.Users[0] = "mallory@example.com"
	in.Config.Delegates[0] = "x"
	*in.Config.GenerateTemporaryTokens = true

	got := mustGet(t, s, "id-1")
	if d := Equal(got, Sample("id-1", "alpha")); d != "" {
		t.Fatalf("after mutating the created value, Get(id-1): %s", d)
	}
	got.Labels["team"] = "changed-after-get"
	got.ResourceTypes[0] = resourceid.DockerRegistry
	got.SecretFields[0] = "x"
	*got.Config.GenerateTemporaryTokens = true
	again := mustGet(t, s, "id-1")
	if d := Equal(again, Sample("id-1", "alpha")); d != "" {
		t.Errorf("after mutating a read value, Get(id-1): %s", d)
	}
	list, _, err := s.List(ctx(t), connector.Filter{}, connector.Page{})
	if err != nil || len(list) != 1 {
		t.Fatalf("List() = %d connectors, %v; want 1, nil", len(list), err)
	}
	list[0].Labels["team"] = "changed-after-list"
	if d := Equal(mustGet(t, s, "id-1"), Sample("id-1", "alpha")); d != "" {
		t.Errorf("after mutating a listed value, Get(id-1): %s", d)
	}
}

func testCreateDuplicate(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	err := s.Create(ctx(t), Sample("id-2", "alpha"))
	wantKind(t, `Create(id-2, "alpha") after "alpha" exists`, err, connector.ErrAlreadyExists)
	err = s.Create(ctx(t), Sample("id-1", "beta"))
	wantKind(t, `Create(id-1, "beta") after id-1 exists`, err, connector.ErrAlreadyExists)
	if _, err := s.Get(ctx(t), "id-2"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("Get(id-2) after its failed create = %v; want ErrNotFound", err)
	}
	if _, err := s.GetByName(ctx(t), "beta"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("GetByName(beta) after its failed create = %v; want ErrNotFound", err)
	}
	if got := mustGet(t, s, "id-1"); got.Name != "alpha" {
		t.Errorf("Get(id-1).Name = %q; want %q (untouched by the failed creates)", got.Name, "alpha")
	}
}

func testConcurrentCreate(t *testing.T, s connector.Store) {
	i := ExactlyOneWins(t, "concurrent creates of one name", 50, connector.ErrAlreadyExists, func(i int) error {
		return s.Create(ctx(t), Sample(fmt.Sprintf("id-%02d", i), "contended"))
	})
	winner := fmt.Sprintf("id-%02d", i)
	got, err := s.GetByName(ctx(t), "contended")
	if err != nil || got.ID != winner {
		t.Errorf("GetByName(contended) = %v, %v; want the winner %s", got, err, winner)
	}
	all, _, err := s.List(ctx(t), connector.Filter{}, connector.Page{Size: connector.MaxPageSize})
	if err != nil || len(all) != 1 {
		t.Errorf("List() after the race = %d connectors, %v; want 1", len(all), err)
	}
}

func testNotFound(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	_, err := s.Get(ctx(t), "missing")
	wantKind(t, "Get(missing)", err, connector.ErrNotFound)
	_, err = s.GetByName(ctx(t), "missing")
	wantKind(t, "GetByName(missing)", err, connector.ErrNotFound)
	_, err = s.GetByName(ctx(t), "id-1")
	wantKind(t, "GetByName(id-1) (an id, not a name)", err, connector.ErrNotFound)
	_, err = s.Get(ctx(t), "alpha")
	wantKind(t, "Get(alpha) (a name, not an id)", err, connector.ErrNotFound)
	ghost := Sample("missing", "ghost")
	ghost.Revision = 1
	wantKind(t, "Update(missing)", s.Update(ctx(t), ghost), connector.ErrNotFound)
	wantKind(t, "Delete(missing)", s.Delete(ctx(t), "missing"), connector.ErrNotFound)
}

func testUpdate(t *testing.T, s connector.Store) {
	created := mustCreate(t, s, Sample("id-1", "alpha"))
	c := mustGet(t, s, "id-1")
	c.Description = "updated"
	c.Labels = map[string]string{"only": "this"}
	c.Users = nil
	c.SecretVersion = "4"
	want := clone(c)
	// Update writes configuration: a status it carries is not written, the stored one stays.
	c.Status = connector.Status{State: connector.StateOK, CheckedAt: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}
	before := c.Revision
	if err := s.Update(ctx(t), c); err != nil {
		t.Fatalf("Update(id-1) = %v; want nil", err)
	}
	if c.Revision <= before {
		t.Errorf("Update set Revision = %d; want > %d", c.Revision, before)
	}
	if !c.Status.Equal(want.Status) {
		t.Errorf("Update set Status = %+v; want the stored %+v", c.Status, want.Status)
	}
	if c.UpdatedAt.Before(created.CreatedAt) {
		t.Errorf("Update set UpdatedAt = %v; want not before CreatedAt %v", c.UpdatedAt, created.CreatedAt)
	}
	got := mustGet(t, s, "id-1")
	if d := Equal(got, want); d != "" {
		t.Errorf("Get(id-1) after Update: %s", d)
	}
	if got.Revision != c.Revision || !got.CreatedAt.Equal(created.CreatedAt) || !got.UpdatedAt.Equal(c.UpdatedAt) {
		t.Errorf("Get(id-1) Revision, CreatedAt, UpdatedAt = %d, %v, %v; want %d, %v, %v",
			got.Revision, got.CreatedAt, got.UpdatedAt, c.Revision, created.CreatedAt, c.UpdatedAt)
	}
	// A second update from the fresh value works too.
	got.Description = "again"
	if err := s.Update(ctx(t), got); err != nil {
		t.Fatalf("second Update(id-1) = %v; want nil", err)
	}
	if got.Revision <= c.Revision {
		t.Errorf("second Update set Revision = %d; want > %d", got.Revision, c.Revision)
	}
}

func clone(c *connector.Connector) *connector.Connector {
	d := normalize(c)
	d.CreatedAt, d.UpdatedAt, d.Revision = c.CreatedAt, c.UpdatedAt, c.Revision
	return &d
}

func testUpdateStale(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	first := mustGet(t, s, "id-1")
	second := mustGet(t, s, "id-1")
	first.Description = "first writer"
	if err := s.Update(ctx(t), first); err != nil {
		t.Fatalf("Update(first) = %v; want nil", err)
	}
	second.Description = "second writer"
	wantKind(t, "Update(second) with a stale revision", s.Update(ctx(t), second), connector.ErrConflict)
	if got := mustGet(t, s, "id-1"); got.Description != "first writer" {
		t.Errorf("Get(id-1).Description = %q; want %q (the stale write must not land)", got.Description, "first writer")
	}
}

func testConcurrentUpdate(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	base := mustGet(t, s, "id-1")
	ExactlyOneWins(t, "concurrent updates from one revision", 10, connector.ErrConflict, func(i int) error {
		c := clone(base)
		c.Description = fmt.Sprintf("writer %d", i)
		return s.Update(ctx(t), c)
	})
	if got := mustGet(t, s, "id-1"); got.Revision <= base.Revision {
		t.Errorf("Get(id-1).Revision = %d; want > %d", got.Revision, base.Revision)
	}
}

// testSetStatus: SetStatus writes every status field and nothing else; it changes neither
// Revision nor UpdatedAt, so an Update conditioned on the revision read before it succeeds
// (and keeps the status).
func testSetStatus(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	c := mustGet(t, s, "id-1")
	userRead := clone(c)
	st := connector.Status{State: connector.StateError, CheckedAt: time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC),
		Error: "swept", FailingTypes: "gcs-bucket", RotationDue: true,
		Inconclusive: "the check did not finish within 30s", InconclusiveAt: time.Date(2031, 2, 4, 0, 0, 0, 0, time.UTC)}
	if err := s.SetStatus(ctx(t), c, st); err != nil {
		t.Fatalf("SetStatus(id-1) = %v; want nil", err)
	}
	if !c.Status.Equal(st) {
		t.Errorf("SetStatus set c.Status = %+v; want %+v", c.Status, st)
	}
	got := mustGet(t, s, "id-1")
	want := clone(userRead)
	want.Status = st
	if d := Equal(got, want); d != "" {
		t.Errorf("Get(id-1) after SetStatus: %s", d)
	}
	if got.Revision != userRead.Revision || !got.UpdatedAt.Equal(userRead.UpdatedAt) {
		t.Errorf("SetStatus changed Revision %d → %d, UpdatedAt %v → %v; want both unchanged",
			userRead.Revision, got.Revision, userRead.UpdatedAt, got.UpdatedAt)
	}
	userRead.Description = "user's update"
	if err := s.Update(ctx(t), userRead); err != nil {
		t.Fatalf("Update(id-1) conditioned on the revision read before SetStatus = %v; want nil", err)
	}
	after := mustGet(t, s, "id-1")
	if after.Description != "user's update" || !after.Status.Equal(st) || !userRead.Status.Equal(st) {
		t.Errorf("after Update: Description %q, Status %+v (returned %+v); want the update and the status SetStatus wrote",
			after.Description, after.Status, userRead.Status)
	}
	ghost := Sample("missing", "ghost")
	wantKind(t, "SetStatus(missing)", s.SetStatus(ctx(t), ghost, st), connector.ErrNotFound)
}

// testSetStatusStale: SetStatus is conditioned on the revision and the status the caller read.
func testSetStatusStale(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	ok := connector.Status{State: connector.StateOK, CheckedAt: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}

	first, second := mustGet(t, s, "id-1"), mustGet(t, s, "id-1")
	if err := s.SetStatus(ctx(t), first, connector.Status{State: connector.StateDisabled, Error: "destroyed"}); err != nil {
		t.Fatalf("SetStatus(first) = %v; want nil", err)
	}
	wantKind(t, "SetStatus(second) over another status write", s.SetStatus(ctx(t), second, ok), connector.ErrConflict)

	reconfigured := mustGet(t, s, "id-1")
	stale := clone(reconfigured)
	reconfigured.SecretVersion = "9"
	if err := s.Update(ctx(t), reconfigured); err != nil {
		t.Fatalf("Update = %v; want nil", err)
	}
	wantKind(t, "SetStatus with the revision before an update", s.SetStatus(ctx(t), stale, ok), connector.ErrConflict)
	if got := mustGet(t, s, "id-1"); got.Status.State != connector.StateDisabled {
		t.Errorf("Get(id-1).Status = %+v; want the first write's (the stale ones must not land)", got.Status)
	}
}

// testConcurrentSetStatus: of concurrent status writes decided from one read, exactly one lands.
func testConcurrentSetStatus(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	base := mustGet(t, s, "id-1")
	ExactlyOneWins(t, "concurrent status writes from one read", 10, connector.ErrConflict, func(i int) error {
		return s.SetStatus(ctx(t), clone(base), connector.Status{State: connector.StateError, Error: fmt.Sprintf("writer %d", i)})
	})
	if got := mustGet(t, s, "id-1"); got.Revision != base.Revision {
		t.Errorf("Get(id-1).Revision = %d; want %d (status writes keep it)", got.Revision, base.Revision)
	}
}

func testRename(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	mustCreate(t, s, Sample("id-2", "beta"))

	clash := mustGet(t, s, "id-1")
	clash.Name = "beta"
	wantKind(t, `Update(id-1) renaming to "beta"`, s.Update(ctx(t), clash), connector.ErrAlreadyExists)
	if got := mustGet(t, s, "id-1"); got.Name != "alpha" {
		t.Errorf("Get(id-1).Name after a clashing rename = %q; want %q", got.Name, "alpha")
	}
	if got, err := s.GetByName(ctx(t), "beta"); err != nil || got.ID != "id-2" {
		t.Errorf("GetByName(beta) after a clashing rename = %v, %v; want id-2", got, err)
	}

	c := mustGet(t, s, "id-1")
	c.Name = "gamma"
	if err := s.Update(ctx(t), c); err != nil {
		t.Fatalf(`Update(id-1) renaming to "gamma" = %v; want nil`, err)
	}
	if got, err := s.GetByName(ctx(t), "gamma"); err != nil || got.ID != "id-1" {
		t.Errorf("GetByName(gamma) = %v, %v; want id-1", got, err)
	}
	_, err := s.GetByName(ctx(t), "alpha")
	wantKind(t, "GetByName(alpha) after the rename", err, connector.ErrNotFound)
	// The old name is free again.
	mustCreate(t, s, Sample("id-3", "alpha"))
	names := listNames(t, s, connector.Filter{}, 0)
	if want := []string{"alpha", "beta", "gamma"}; !slices.Equal(names, want) {
		t.Errorf("List() names = %q; want %q", names, want)
	}
}

func testDelete(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	mustCreate(t, s, Sample("id-2", "beta"))
	if err := s.Delete(ctx(t), "id-1"); err != nil {
		t.Fatalf("Delete(id-1) = %v; want nil", err)
	}
	_, err := s.Get(ctx(t), "id-1")
	wantKind(t, "Get(id-1) after Delete", err, connector.ErrNotFound)
	_, err = s.GetByName(ctx(t), "alpha")
	wantKind(t, "GetByName(alpha) after Delete", err, connector.ErrNotFound)
	wantKind(t, "second Delete(id-1)", s.Delete(ctx(t), "id-1"), connector.ErrNotFound)
	mustGet(t, s, "id-2")
	mustCreate(t, s, Sample("id-3", "alpha")) // the name is free again
	if names := listNames(t, s, connector.Filter{}, 0); !slices.Equal(names, []string{"alpha", "beta"}) {
		t.Errorf("List() names = %q; want [alpha beta]", names)
	}
}

// listNames walks every page of a listing and returns the names in order.
func listNames(t *testing.T, s connector.Store, f connector.Filter, size int) []string {
	t.Helper()
	var names []string
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("List(%+v) did not end after 1000 pages", f)
		}
		cs, next, err := s.List(ctx(t), f, connector.Page{Size: size, Token: tok})
		if err != nil {
			t.Fatalf("List(%+v, size %d, page %d) = %v; want nil", f, size, pages, err)
		}
		if size > 0 && len(cs) > size {
			t.Errorf("List(size %d) page %d has %d connectors; want at most %d", size, pages, len(cs), size)
		}
		if next != "" && len(cs) == 0 {
			t.Errorf("List(size %d) page %d is empty with a next token; want the empty token", size, pages)
		}
		for _, c := range cs {
			names = append(names, c.Name)
		}
		if next == "" {
			return names
		}
		tok = next
	}
}

// filterSet is the set of connectors the filter and paging tests list.
func filterSet() []*connector.Connector {
	mk := func(id, name string, m connector.AuthMethod, rts []connector.ResourceType, labels map[string]string) *connector.Connector {
		c := Sample(id, name)
		c.AuthMethod, c.ResourceTypes, c.Labels = m, rts, labels
		if len(rts) != 1 {
			c.ResourceID = ""
		}
		return c
	}
	all := slices.Clone(resourceid.Types)
	return []*connector.Connector{
		mk("c1", "bucket-sa", configschema.ServiceAccount, []connector.ResourceType{resourceid.GCSBucket}, map[string]string{"env": "prod", "team": "data"}),
		mk("c2", "bucket-user", configschema.UserAccount, []connector.ResourceType{resourceid.GCSBucket}, map[string]string{"env": "dev"}),
		mk("c3", "gke-imp", configschema.Impersonation, []connector.ResourceType{resourceid.KubernetesCluster}, map[string]string{"env": "prod", "team": "ml"}),
		mk("c4", "multi-sa", configschema.ServiceAccount, all, map[string]string{"team": "data"}),
		mk("c5", "registry-token", configschema.OAuth2Token, []connector.ResourceType{resourceid.DockerRegistry}, nil),
		mk("c6", "generic-ext", configschema.ExternalAccount, []connector.ResourceType{resourceid.GCPGeneric}, map[string]string{"env": "prod", "a=b": "c"}),
		mk("c7", "multi-user", configschema.UserAccount, []connector.ResourceType{resourceid.GCSBucket, resourceid.DockerRegistry}, map[string]string{"env": ""}),
	}
}

func testListFilters(t *testing.T, s connector.Store) {
	for _, c := range filterSet() {
		mustCreate(t, s, c)
	}
	tests := []struct {
		name string
		f    connector.Filter
		want []string
	}{
		{"everything", connector.Filter{}, []string{"bucket-sa", "bucket-user", "generic-ext", "gke-imp", "multi-sa", "multi-user", "registry-token"}},
		{"name", connector.Filter{Name: "gke-imp"}, []string{"gke-imp"}},
		{"unknown name", connector.Filter{Name: "nope"}, nil},
		{"auth method", connector.Filter{AuthMethod: configschema.ServiceAccount}, []string{"bucket-sa", "multi-sa"}},
		{"resource type includes multi-type", connector.Filter{ResourceType: resourceid.GCSBucket}, []string{"bucket-sa", "bucket-user", "multi-sa", "multi-user"}},
		{"resource type of one multi-type only", connector.Filter{ResourceType: resourceid.KubernetesCluster}, []string{"gke-imp", "multi-sa"}},
		{"docker", connector.Filter{ResourceType: resourceid.DockerRegistry}, []string{"multi-sa", "multi-user", "registry-token"}},
		{"label value", connector.Filter{Labels: map[string]string{"env": "prod"}}, []string{"bucket-sa", "generic-ext", "gke-imp"}},
		{"label presence", connector.Filter{Labels: map[string]string{"env": ""}}, []string{"bucket-sa", "bucket-user", "generic-ext", "gke-imp", "multi-user"}},
		{"label with = in key", connector.Filter{Labels: map[string]string{"a=b": "c"}}, []string{"generic-ext"}},
		{"label key=value is not key a", connector.Filter{Labels: map[string]string{"a": "b=c"}}, nil},
		{"two labels", connector.Filter{Labels: map[string]string{"env": "prod", "team": "data"}}, []string{"bucket-sa"}},
		{"label presence and value", connector.Filter{Labels: map[string]string{"env": "", "team": "ml"}}, []string{"gke-imp"}},
		{"missing label", connector.Filter{Labels: map[string]string{"owner": ""}}, nil},
		{"auth method and type", connector.Filter{AuthMethod: configschema.UserAccount, ResourceType: resourceid.DockerRegistry}, []string{"multi-user"}},
		{"type and label", connector.Filter{ResourceType: resourceid.GCSBucket, Labels: map[string]string{"team": "data"}}, []string{"bucket-sa", "multi-sa"}},
		{"method, type and label", connector.Filter{AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCSBucket, Labels: map[string]string{"env": "prod"}}, []string{"bucket-sa"}},
		{"name and method mismatch", connector.Filter{Name: "gke-imp", AuthMethod: configschema.ServiceAccount}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listNames(t, s, tt.f, 0); !slices.Equal(got, tt.want) {
				t.Errorf("List(%+v) names = %q; want %q", tt.f, got, tt.want)
			}
		})
	}
}

func testListPaging(t *testing.T, s connector.Store) {
	var want []string
	for _, c := range filterSet() {
		mustCreate(t, s, c)
		want = append(want, c.Name)
	}
	sort.Strings(want)
	for _, size := range []int{-1, 0, 1, 2, 3, 6, 7, 8, connector.MaxPageSize + 1} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			if got := listNames(t, s, connector.Filter{}, size); !slices.Equal(got, want) {
				t.Errorf("List(size %d) over all pages = %q; want %q", size, got, want)
			}
		})
	}
	// A page that holds exactly the rest is the last page.
	cs, next, err := s.List(ctx(t), connector.Filter{}, connector.Page{Size: len(want)})
	if err != nil || len(cs) != len(want) || next != "" {
		t.Errorf("List(size %d) = %d connectors, next %q, %v; want %d, \"\", nil", len(want), len(cs), next, err, len(want))
	}
	cs, next, err = s.List(ctx(t), connector.Filter{}, connector.Page{Size: 3})
	if err != nil || len(cs) != 3 || next == "" {
		t.Fatalf("List(size 3) = %d connectors, next %q, %v; want 3, a token, nil", len(cs), next, err)
	}
}

func testListPagingWithFilter(t *testing.T, s connector.Store) {
	for _, c := range filterSet() {
		mustCreate(t, s, c)
	}
	for i := range 12 { // more non-matching connectors between the matching ones
		c := Sample(fmt.Sprintf("x%02d", i), fmt.Sprintf("bucket-x%02d", i))
		c.Labels = map[string]string{"env": "other"}
		mustCreate(t, s, c)
	}
	f := connector.Filter{Labels: map[string]string{"env": "prod"}}
	want := []string{"bucket-sa", "generic-ext", "gke-imp"}
	for _, size := range []int{1, 2, 3, 4} {
		if got := listNames(t, s, f, size); !slices.Equal(got, want) {
			t.Errorf("List(%+v, size %d) over all pages = %q; want %q", f, size, got, want)
		}
	}
	f = connector.Filter{ResourceType: resourceid.GCSBucket, Labels: map[string]string{"env": ""}}
	want = []string{"bucket-sa", "bucket-user", "bucket-x00", "bucket-x01", "bucket-x02", "bucket-x03", "bucket-x04", "bucket-x05",
		"bucket-x06", "bucket-x07", "bucket-x08", "bucket-x09", "bucket-x10", "bucket-x11", "multi-user"}
	for _, size := range []int{1, 4, 15, 16} {
		if got := listNames(t, s, f, size); !slices.Equal(got, want) {
			t.Errorf("List(%+v, size %d) over all pages = %q; want %q", f, size, got, want)
		}
	}
}

func testListPagingAcrossWrites(t *testing.T, s connector.Store) {
	for _, c := range filterSet() {
		mustCreate(t, s, c)
	}
	page1, next, err := s.List(ctx(t), connector.Filter{}, connector.Page{Size: 3})
	if err != nil || len(page1) != 3 || next == "" {
		t.Fatalf("List(size 3) = %d, %q, %v; want 3 connectors and a token", len(page1), next, err)
	}
	// Delete a listed connector and add one before the cursor and one after it.
	if err := s.Delete(ctx(t), page1[1].ID); err != nil {
		t.Fatalf("Delete(%s) = %v", page1[1].ID, err)
	}
	mustCreate(t, s, Sample("n1", "aaa-before"))
	mustCreate(t, s, Sample("n2", "zzz-after"))
	var rest []string
	for tok := next; tok != ""; {
		cs, n, err := s.List(ctx(t), connector.Filter{}, connector.Page{Size: 3, Token: tok})
		if err != nil {
			t.Fatalf("List(next) = %v", err)
		}
		for _, c := range cs {
			rest = append(rest, c.Name)
		}
		tok = n
	}
	want := []string{"gke-imp", "multi-sa", "multi-user", "registry-token", "zzz-after"}
	if !slices.Equal(rest, want) {
		t.Errorf("pages after the first = %q; want %q (no repeats, no skips)", rest, want)
	}
}

func testListBadToken(t *testing.T, s connector.Store) {
	mustCreate(t, s, Sample("id-1", "alpha"))
	for _, tok := range []string{"garbage!!", "bm90LWEtdG9rZW4", "n1:alpha", "%%%"} {
		_, _, err := s.List(ctx(t), connector.Filter{}, connector.Page{Token: tok})
		wantKind(t, fmt.Sprintf("List(token %q)", tok), err, connector.ErrInvalid)
	}
}

// testKeyCleanups: the store's key cleanup records (Store.PutCleanup ...) return what was
// put, whole, replace a connector's record and delete it (twice is no error).
func testKeyCleanups(t *testing.T, s connector.Store) {
	kc := s
	ctx := context.Background()
	want := connector.KeyCleanup{ConnectorID: "c1", Name: "gone", Keys: Sample("c1", "gone").Rotation.Retired}
	if err := kc.PutCleanup(ctx, want); err != nil {
		t.Fatalf("PutCleanup = %v", err)
	}
	if err := kc.PutCleanup(ctx, connector.KeyCleanup{ConnectorID: "c2", Name: "other", Keys: want.Keys[:1]}); err != nil {
		t.Fatalf("PutCleanup = %v", err)
	}
	got, err := kc.ListCleanups(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("ListCleanups = %d records, %v; want 2", len(got), err)
	}
	i := slices.IndexFunc(got, func(k connector.KeyCleanup) bool { return k.ConnectorID == "c1" })
	if i < 0 || !reflect.DeepEqual(got[i], want) {
		t.Errorf("ListCleanups record c1 = %+v; want %+v", got, want)
	}
	want.Keys = want.Keys[1:]
	if err := kc.PutCleanup(ctx, want); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := kc.DeleteCleanup(ctx, "c2"); err != nil {
			t.Errorf("DeleteCleanup = %v", err)
		}
	}
	got, err = kc.ListCleanups(ctx)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("after replace and delete: %+v, %v; want only %+v", got, err, want)
	}
}

// cleanupMarks is upkeep.CleanupMarks (named here so that the suite needs no import of it).
type cleanupMarks interface {
	SetCleanupAfter(ctx context.Context, c *connector.Connector, next time.Time) error
}

// testCleanupMark: SetCleanupAfter writes the mark alone, conditioned on the revision and the
// mark the caller read, and leaves Revision, UpdatedAt and Status, so a user's update
// conditioned on the revision read before it still succeeds.
func testCleanupMark(t *testing.T, s connector.Store) {
	cm, ok := s.(cleanupMarks)
	if !ok {
		t.Skip("the store does not write cleanup marks alone")
	}
	mustCreate(t, s, Sample("id-1", "alpha"))
	userRead, c, stale := mustGet(t, s, "id-1"), mustGet(t, s, "id-1"), mustGet(t, s, "id-1")
	if err := cm.SetCleanupAfter(ctx(t), c, time.Time{}); err != nil || !c.CleanupAfter.IsZero() {
		t.Fatalf("SetCleanupAfter(id-1, zero) = %v, mark %v; want nil and the mark cleared", err, c.CleanupAfter)
	}
	got := mustGet(t, s, "id-1")
	want := clone(userRead)
	want.CleanupAfter = time.Time{}
	if d := Equal(got, want); d != "" || got.Revision != userRead.Revision || !got.UpdatedAt.Equal(userRead.UpdatedAt) {
		t.Errorf("Get(id-1) after clearing the mark: %s; Revision %d → %d, UpdatedAt %v → %v; want only the mark changed",
			d, userRead.Revision, got.Revision, userRead.UpdatedAt, got.UpdatedAt)
	}
	later := time.Date(2032, 1, 2, 3, 4, 5, 0, time.UTC)
	wantKind(t, "SetCleanupAfter over another mark write", cm.SetCleanupAfter(ctx(t), stale, later), connector.ErrConflict)
	userRead.Description = "user's update"
	if err := s.Update(ctx(t), userRead); err != nil {
		t.Fatalf("Update(id-1) conditioned on the revision read before the mark was cleared = %v; want nil", err)
	}
	c = mustGet(t, s, "id-1")
	wantKind(t, "SetCleanupAfter with the revision before an update", cm.SetCleanupAfter(ctx(t), stale, later), connector.ErrConflict)
	if err := cm.SetCleanupAfter(ctx(t), c, later); err != nil || !mustGet(t, s, "id-1").CleanupAfter.Equal(later) {
		t.Errorf("SetCleanupAfter(id-1, %v) = %v; want nil and the mark moved", later, err)
	}
	wantKind(t, "SetCleanupAfter(missing)", cm.SetCleanupAfter(ctx(t), Sample("missing", "ghost"), later), connector.ErrNotFound)
}
