package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// VersionDisabler is implemented by secret stores that can disable a version without
// destroying it (as Secret Manager can). RunSecrets requires it and checks that a disabled
// version is refused too.
type VersionDisabler interface {
	DisableVersion(ctx context.Context, connectorID, version string) error
}

// RunSecrets runs the connector.SecretStore contract suite. newSecrets must return a fresh,
// empty secret store each time it is called.
func RunSecrets(t *testing.T, newSecrets func(t *testing.T) connector.SecretStore) {
	t.Run("AddAccess", func(t *testing.T) { testAddAccess(t, newSecrets(t)) })
	t.Run("Versions", func(t *testing.T) { testVersions(t, newSecrets(t)) })
	t.Run("NotFound", func(t *testing.T) { testSecretNotFound(t, newSecrets(t)) })
	t.Run("DestroyVersion", func(t *testing.T) { testDestroyVersion(t, newSecrets(t)) })
	t.Run("DisableVersion", func(t *testing.T) { testDisableVersion(t, newSecrets(t)) })
	t.Run("DeleteAndList", func(t *testing.T) { testDeleteAndList(t, newSecrets(t)) })
	t.Run("ConcurrentAdd", func(t *testing.T) { testConcurrentAdd(t, newSecrets(t)) })
	t.Run("CreateTimes", func(t *testing.T) { testCreateTimes(t, newSecrets(t)) })
	t.Run("RotationSchedule", func(t *testing.T) { testRotationSchedule(t, newSecrets(t)) })
	t.Run("ListVersions", func(t *testing.T) { testListVersions(t, newSecrets(t)) })
}

// testRotationSchedule: the store (SecretStore.SetRotation) sets and removes a schedule on an existing secret, refuses a missing one with ErrNotFound, and
// refuses a schedule it cannot keep (no notifications configured) naming rotation_period.
func testRotationSchedule(t *testing.T, s connector.SecretStore) {
	rs := s
	c := ctx(t)
	mustAdd(t, s, "rot1", SampleSecrets("a"))
	next := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	if err := rs.SetRotation(c, "rot1", 30*24*time.Hour, next); err != nil &&
		(connector.KindOf(err) != connector.ErrInvalid || connector.FieldOf(err) != "rotation_period") {
		t.Errorf("SetRotation(30d) = %v; want nil, or ErrInvalid naming rotation_period", err)
	}
	if err := rs.SetRotation(c, "rot1", 0, time.Time{}); err != nil {
		t.Errorf("SetRotation(0) = %v; want nil", err)
	}
	wantKind(t, "SetRotation of a missing secret", rs.SetRotation(c, "nosuch", 0, time.Time{}), connector.ErrNotFound)
}

// SampleSecrets returns secret values with every field set, unique to tag.
func SampleSecrets(tag string) connector.Secrets {
	return connector.Secrets{
		ServiceAccountJSON:  `{"type":"service_account","private_key":"KEY-` + tag + `"}`,
		UserAccountJSON:     `{"type":"authorized_user","refresh_token":"RT-` + tag + `"}`,
		ExternalAccountJSON: `{"type":"external_account","audience":"AUD-` + tag + `"}`,
		Token:               "ya29.TOKEN-" + tag + " with \"quotes\", newlines\n and ünïcode",
	}
}

func mustAdd(t *testing.T, s connector.SecretStore, id string, sec connector.Secrets) string {
	t.Helper()
	v, err := s.AddVersion(ctx(t), id, sec)
	if err != nil {
		t.Fatalf("AddVersion(%q) = %v; want nil", id, err)
	}
	if v == "" || v == "latest" {
		t.Fatalf("AddVersion(%q) = version %q; want a pinned version name", id, v)
	}
	return v
}

func wantAccess(t *testing.T, s connector.SecretStore, id, v string, want connector.Secrets) {
	t.Helper()
	got, err := s.Access(ctx(t), id, v)
	if err != nil {
		t.Fatalf("Access(%q, %q) = %v; want nil", id, v, err)
	}
	if got != want {
		t.Errorf("Access(%q, %q) returned other values than were added", id, v) // values are secret: not printed
	}
}

func testAddAccess(t *testing.T, s connector.SecretStore) {
	full := SampleSecrets("a")
	v := mustAdd(t, s, "conn-a", full)
	wantAccess(t, s, "conn-a", v, full)
	wantAccess(t, s, "conn-a", v, full) // a second read (cached or not) is the same

	oneField := connector.Secrets{Token: "ya29.only"}
	w := mustAdd(t, s, "conn-b", oneField)
	wantAccess(t, s, "conn-b", w, oneField)
}

func testVersions(t *testing.T, s connector.SecretStore) {
	v1 := mustAdd(t, s, "conn-a", SampleSecrets("1"))
	v2 := mustAdd(t, s, "conn-a", SampleSecrets("2"))
	if v1 == v2 {
		t.Fatalf("two AddVersion calls returned one version %q; want distinct versions", v1)
	}
	wantAccess(t, s, "conn-a", v1, SampleSecrets("1"))
	wantAccess(t, s, "conn-a", v2, SampleSecrets("2"))
	other := mustAdd(t, s, "conn-b", SampleSecrets("b"))
	wantAccess(t, s, "conn-b", other, SampleSecrets("b"))
	wantAccess(t, s, "conn-a", v2, SampleSecrets("2"))
}

func testSecretNotFound(t *testing.T, s connector.SecretStore) {
	v := mustAdd(t, s, "conn-a", SampleSecrets("a"))
	_, err := s.Access(ctx(t), "conn-missing", v)
	wantKind(t, "Access(conn-missing)", err, connector.ErrNotFound)
	_, err = s.Access(ctx(t), "conn-a", "999")
	wantKind(t, "Access(conn-a, 999)", err, connector.ErrNotFound)
}

func testDestroyVersion(t *testing.T, s connector.SecretStore) {
	v1 := mustAdd(t, s, "conn-a", SampleSecrets("1"))
	wantAccess(t, s, "conn-a", v1, SampleSecrets("1")) // fill any cache first
	v2 := mustAdd(t, s, "conn-a", SampleSecrets("2"))
	if err := s.DestroyVersion(ctx(t), "conn-a", v1); err != nil {
		t.Fatalf("DestroyVersion(conn-a, %s) = %v; want nil", v1, err)
	}
	_, err := s.Access(ctx(t), "conn-a", v1)
	wantKind(t, "Access of a destroyed version", err, connector.ErrFailedPrecondition)
	wantAccess(t, s, "conn-a", v2, SampleSecrets("2"))
	if err := s.DestroyVersion(ctx(t), "conn-a", v1); err != nil {
		t.Errorf("DestroyVersion of a destroyed version = %v; want nil", err)
	}
	if err := s.DestroyVersion(ctx(t), "conn-a", "999"); err != nil {
		t.Errorf("DestroyVersion of a missing version = %v; want nil", err)
	}
	if err := s.DestroyVersion(ctx(t), "conn-missing", "1"); err != nil {
		t.Errorf("DestroyVersion of a missing secret = %v; want nil", err)
	}
}

func testDisableVersion(t *testing.T, s connector.SecretStore) {
	d, ok := s.(VersionDisabler)
	if !ok {
		t.Fatalf("%T has no DisableVersion: every secret store must be able to disable a version without destroying it (storetest.VersionDisabler)", s)
	}
	v1 := mustAdd(t, s, "conn-a", SampleSecrets("1"))
	wantAccess(t, s, "conn-a", v1, SampleSecrets("1"))
	if err := d.DisableVersion(ctx(t), "conn-a", v1); err != nil {
		t.Fatalf("DisableVersion(conn-a, %s) = %v; want nil", v1, err)
	}
	_, err := s.Access(ctx(t), "conn-a", v1)
	wantKind(t, "Access of a disabled version", err, connector.ErrFailedPrecondition)
	if err := d.DisableVersion(ctx(t), "conn-a", "999"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("DisableVersion of a missing version = %v; want ErrNotFound", err)
	}
	if err := s.DestroyVersion(ctx(t), "conn-a", v1); err != nil {
		t.Errorf("DestroyVersion of a disabled version = %v; want nil", err)
	}
	_, err = s.Access(ctx(t), "conn-a", v1)
	wantKind(t, "Access of a disabled, then destroyed version", err, connector.ErrFailedPrecondition)
}

func testDeleteAndList(t *testing.T, s connector.SecretStore) {
	va := mustAdd(t, s, "conn-a", SampleSecrets("a"))
	mustAdd(t, s, "conn-a", SampleSecrets("a2"))
	mustAdd(t, s, "conn-b", SampleSecrets("b"))
	ids, err := s.ListConnectorIDs(ctx(t))
	if err != nil {
		t.Fatalf("ListConnectorIDs() = %v", err)
	}
	slices.Sort(ids)
	if want := []string{"conn-a", "conn-b"}; !slices.Equal(ids, want) {
		t.Errorf("ListConnectorIDs() = %q; want %q", ids, want)
	}
	if err := s.Delete(ctx(t), "conn-a"); err != nil {
		t.Fatalf("Delete(conn-a) = %v; want nil", err)
	}
	_, err = s.Access(ctx(t), "conn-a", va)
	wantKind(t, "Access after Delete", err, connector.ErrNotFound)
	if err := s.Delete(ctx(t), "conn-a"); err != nil {
		t.Errorf("second Delete(conn-a) = %v; want nil", err)
	}
	ids, err = s.ListConnectorIDs(ctx(t))
	if err != nil || !slices.Equal(ids, []string{"conn-b"}) {
		t.Errorf("ListConnectorIDs() after Delete = %q, %v; want [conn-b]", ids, err)
	}
	// A deleted connector's secret can be created again from scratch.
	v := mustAdd(t, s, "conn-a", SampleSecrets("again"))
	wantAccess(t, s, "conn-a", v, SampleSecrets("again"))
}

func testConcurrentAdd(t *testing.T, s connector.SecretStore) {
	const n = 10
	versions := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			versions[i], errs[i] = s.AddVersion(ctx(t), "conn-a", SampleSecrets(fmt.Sprint(i)))
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent AddVersion #%d = %v; want nil", i, errs[i])
		}
		if seen[versions[i]] {
			t.Errorf("concurrent AddVersion #%d returned version %q twice", i, versions[i])
		}
		seen[versions[i]] = true
	}
	for i := range n {
		wantAccess(t, s, "conn-a", versions[i], SampleSecrets(fmt.Sprint(i)))
	}
}

func testCreateTimes(t *testing.T, s connector.SecretStore) {
	a, ok := s.(upkeep.SecretAges) // what the registry's orphan listing needs
	if !ok {
		t.Fatalf("%T has no SecretCreateTimes: every secret store must report secret ages (upkeep.SecretAges, for the orphan listing)", s)
	}
	mustAdd(t, s, "conn-a", SampleSecrets("a"))
	times, err := a.SecretCreateTimes(ctx(t))
	if err != nil {
		t.Fatalf("SecretCreateTimes() = %v", err)
	}
	if len(times) != 1 || times["conn-a"].IsZero() {
		t.Errorf("SecretCreateTimes() = %v; want one non-zero time for conn-a", times)
	}
}

func testListVersions(t *testing.T, s connector.SecretStore) {
	l, ok := s.(upkeep.SecretVersions) // what sweep's repair of secrets at rest needs
	if !ok {
		t.Skipf("%T does not list secret versions", s)
	}
	if vs, err := l.ListVersions(ctx(t), "conn-missing"); err != nil || len(vs) != 0 {
		t.Errorf("ListVersions of a missing secret = %v, %v; want none, nil", vs, err)
	}
	v1 := mustAdd(t, s, "conn-a", SampleSecrets("1"))
	v2 := mustAdd(t, s, "conn-a", SampleSecrets("2"))
	v3 := mustAdd(t, s, "conn-a", SampleSecrets("3"))
	mustAdd(t, s, "conn-b", SampleSecrets("b"))
	if err := s.DestroyVersion(ctx(t), "conn-a", v1); err != nil {
		t.Fatal(err)
	}
	want := map[string]upkeep.VersionState{v1: upkeep.VersionDestroyed, v2: upkeep.VersionEnabled, v3: upkeep.VersionEnabled}
	if d, ok := s.(VersionDisabler); ok {
		if err := d.DisableVersion(ctx(t), "conn-a", v2); err != nil {
			t.Fatal(err)
		}
		want[v2] = upkeep.VersionDisabled
	}
	vs, err := l.ListVersions(ctx(t), "conn-a")
	if err != nil {
		t.Fatalf("ListVersions(conn-a) = %v", err)
	}
	got := map[string]upkeep.VersionState{}
	for _, v := range vs {
		got[v.Name] = v.State
		if v.CreatedAt.IsZero() {
			t.Errorf("version %s has no creation time", v.Name)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListVersions(conn-a) states = %v; want %v", got, want)
	}
}
