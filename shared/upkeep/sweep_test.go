package upkeep_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/internal/standin"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// swGoogle stands in for Google in sweep and refresh tests (package standin).
type swGoogle = standin.Google

func swKeyJSON(email string) map[string]any { return standin.KeyJSON(email) }

const swOwner = "owner@example.com"

func swService(t testing.TB, g connector.Google) (*upkeep.Keeper, *store.MemorySecrets) {
	t.Helper()
	sec := store.NewMemorySecrets()
	return upkeep.New(&connector.Service{Store: store.NewMemory(), Secrets: sec, Google: g,
		Policy: connector.Policy{Admins: []string{"admin@example.com"}}}, nil), sec
}

// swClock is a clock a test sets outside a synctest bubble (the sweep tests whose stores and
// service must agree on the time without a bubble's fake one).
type swClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *swClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock on by d.
func (c *swClock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// swClockedService is a Keeper over a memory store and secrets (a wrapper of sec, or sec
// itself) that read one swClock, starting at 2026-12-06 12:00 UTC.
func swClockedService(sec *store.MemorySecrets, secrets connector.SecretStore) (*upkeep.Keeper, *store.Memory, *swClock) {
	clock := &swClock{now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	sec.Now = clock.Now
	mem := store.NewMemory()
	mem.Now = clock.Now
	return upkeep.New(&connector.Service{Store: mem, Secrets: secrets, Google: &swGoogle{}, Now: clock.Now,
		Policy: connector.Policy{Admins: []string{"admin@example.com"}}}, nil), mem, clock
}

// swRegister registers n service-account connectors (without verification) named
// PREFIX-0..n-1 and returns their ids.
func swRegister(t testing.TB, s *upkeep.Keeper, prefix string, n int, keyJSON func(i int) map[string]any) []string {
	t.Helper()
	return standin.Register(t, s.Service, swOwner, prefix, n, keyJSON)
}

func swDefaultKey(int) map[string]any { return swKeyJSON("sa@demo-project.iam.gserviceaccount.com") }

// googleLatency stands for the time Google takes to answer, in a synctest bubble's clock:
// it keeps calls in flight together without any real waiting.
const googleLatency = time.Second

func slowly(ctx context.Context) error {
	select {
	case <-time.After(googleLatency):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestSweepRecordsStatus(t *testing.T) { synctest.Test(t, testSweepRecordsStatus) }

func testSweepRecordsStatus(t *testing.T) {
	g := &swGoogle{}
	s, _ := swService(t, g)
	ids := swRegister(t, s, "c", 30, swDefaultKey)
	failing := map[string]bool{"c-3": true, "c-17": true}
	g.TokenFunc = func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
		if err := slowly(ctx); err != nil {
			return connector.Token{}, err
		}
		if failing[gr.Connector.Name] {
			return connector.Token{}, connector.Errorf(connector.ErrUpstreamDenied, "Permission denied for %s", gr.Connector.Name)
		}
		return connector.Token{Value: "ya29.ok", Expiry: time.Now().Add(time.Hour)}, nil
	}
	rep, err := s.Sweep(context.Background(), upkeep.SweepOptions{Concurrency: 4})
	if err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	if rep.Checked != 30 || rep.OK != 28 || rep.Failed != 2 || rep.Skipped != 0 {
		t.Errorf("Sweep report = %+v; want checked 30, ok 28, failed 2", rep)
	}
	if m := g.MaxFlight.Load(); m != 4 {
		t.Errorf("Sweep ran up to %d checks at once; want 4 (its concurrency)", m)
	}
	for i, id := range ids {
		c, err := s.Store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		want := connector.StateOK
		if failing[c.Name] {
			want = connector.StateError
		}
		if c.Status.State != want || c.Status.CheckedAt.IsZero() {
			t.Errorf("connector %d status = %+v; want %s with checked_at", i, c.Status, want)
		}
		if want == connector.StateError && !strings.Contains(c.Status.Error, "Permission denied") {
			t.Errorf("connector %d error = %q; want Google's denial", i, c.Status.Error)
		}
	}
}

// TestSweepPerConnectorTimeout: a connector whose check hangs fails at the per-connector
// deadline, while the others finish.
func TestSweepPerConnectorTimeout(t *testing.T) { synctest.Test(t, testSweepPerConnectorTimeout) }

func testSweepPerConnectorTimeout(t *testing.T) {
	g := &swGoogle{}
	s, _ := swService(t, g)
	swRegister(t, s, "c", 3, swDefaultKey)
	g.TokenFunc = func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
		if gr.Connector.Name == "c-1" {
			<-ctx.Done() // hangs until the per-connector deadline
			return connector.Token{}, ctx.Err()
		}
		if err := slowly(ctx); err != nil {
			return connector.Token{}, err
		}
		return connector.Token{Value: "ya29.ok", Expiry: time.Now().Add(time.Hour)}, nil
	}
	// Under the core's bound on one resource type's check (20 s), so that the sweep's
	// deadline, not verification's, ends the check.
	const timeout = 10 * time.Second
	start := time.Now()
	rep, err := s.Sweep(context.Background(), upkeep.SweepOptions{Timeout: timeout})
	if err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	if took := time.Since(start); took != timeout {
		t.Errorf("Sweep took %s; want the per-connector timeout, %s", took, timeout)
	}
	if rep.OK != 2 || rep.Failed != 0 || rep.Inconclusive != 1 {
		t.Errorf("Sweep with one hanging connector = %+v; want ok 2, inconclusive 1", rep)
	}
	c, _ := s.Store.GetByName(context.Background(), "c-1")
	if c.Status.State == connector.StateError || !strings.Contains(c.Status.Inconclusive, "did not finish") || c.Status.InconclusiveAt.IsZero() {
		t.Errorf("hanging connector status = %+v; want its verdict kept and the check marked inconclusive", c.Status)
	}
}

// TestSweepTwiceAtOnce: two sweeps overlapping (their checks in flight together) both
// finish without errors and leave every connector ok.
func TestSweepTwiceAtOnce(t *testing.T) { synctest.Test(t, testSweepTwiceAtOnce) }

func testSweepTwiceAtOnce(t *testing.T) {
	g := &swGoogle{TokenFunc: func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
		if err := slowly(ctx); err != nil {
			return connector.Token{}, err
		}
		return connector.Token{Value: "ya29.ok", Expiry: time.Now().Add(time.Hour)}, nil
	}}
	s, _ := swService(t, g)
	ids := swRegister(t, s, "c", 40, swDefaultKey)
	var wg sync.WaitGroup
	g.MaxFlight.Store(0)
	reps := make([]upkeep.SweepReport, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = s.Sweep(context.Background(), upkeep.SweepOptions{Concurrency: 8})
		}()
	}
	wg.Wait()
	if m := g.MaxFlight.Load(); m <= 8 {
		t.Errorf("the two sweeps had at most %d checks in flight together; want more than one sweep's 8 (they must overlap)", m)
	}
	for i := range 2 {
		if errs[i] != nil || len(reps[i].Errors) != 0 {
			t.Errorf("concurrent Sweep %d = %+v, %v; want no errors", i, reps[i], errs[i])
		}
		if reps[i].OK+reps[i].Skipped != 40 {
			t.Errorf("concurrent Sweep %d = %+v; want every connector ok or skipped", i, reps[i])
		}
	}
	for _, id := range ids {
		if c, _ := s.Store.Get(context.Background(), id); c.Status.State != connector.StateOK {
			t.Errorf("connector %s after two sweeps: %+v; want ok", id, c.Status)
		}
	}
}

func TestSweepSkipsDisabledAndRemovesOrphans(t *testing.T) {
	g := &swGoogle{}
	s, sec := swService(t, g)
	clock := time.Now().Add(-time.Hour) // secrets created an hour ago
	sec.Now = func() time.Time { return clock }
	ids := swRegister(t, s, "c", 3, swDefaultKey)
	ctx := context.Background()

	// c-0 is disabled: sweep leaves it alone.
	c0, _ := s.Store.Get(ctx, ids[0])
	if err := s.Store.SetStatus(ctx, c0, connector.Status{State: connector.StateDisabled, Error: "pinned version destroyed"}); err != nil {
		t.Fatal(err)
	}
	// An orphan secret (its connector is gone) and a fresh one (a registration in flight).
	if _, err := sec.AddVersion(ctx, "gone-connector", connector.Secrets{Token: "x"}); err != nil {
		t.Fatal(err)
	}
	clock = time.Now()
	if _, err := sec.AddVersion(ctx, "in-flight", connector.Secrets{Token: "y"}); err != nil {
		t.Fatal(err)
	}

	rep, err := s.Sweep(ctx, upkeep.SweepOptions{})
	if err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	if rep.Checked != 2 || rep.Skipped != 1 || rep.OrphansRemoved != 1 {
		t.Errorf("Sweep = %+v; want checked 2, skipped 1 (disabled), orphans removed 1", rep)
	}
	if c0, _ = s.Store.Get(ctx, ids[0]); c0.Status.State != connector.StateDisabled {
		t.Errorf("disabled connector after sweep: %+v; want still disabled", c0.Status)
	}
	left, _ := sec.ListConnectorIDs(ctx)
	for _, id := range left {
		if id == "gone-connector" {
			t.Errorf("orphan secret survived the sweep")
		}
	}
	if len(left) != 4 {
		t.Errorf("secrets after sweep = %v; want the 3 connectors' and the in-flight one", left)
	}
	rep, _ = s.Sweep(ctx, upkeep.SweepOptions{KeepOrphans: true})
	if rep.OrphansRemoved != 0 {
		t.Errorf("Sweep(KeepOrphans) removed %d", rep.OrphansRemoved)
	}
}

// raceStore makes the first status write of each connector lose to a concurrent user's
// update (its configuration changes, as its revision says).
type raceStore struct {
	connector.Store
	mu   sync.Mutex
	lost map[string]bool
}

func (r *raceStore) SetStatus(ctx context.Context, c *connector.Connector, st connector.Status) error {
	r.mu.Lock()
	first := !r.lost[c.ID]
	r.lost[c.ID] = true
	r.mu.Unlock()
	if first {
		cur, err := r.Store.Get(ctx, c.ID)
		if err != nil {
			return err
		}
		cur.Description = "edited meanwhile"
		if err := r.Store.Update(ctx, cur); err != nil {
			return err
		}
	}
	return r.Store.SetStatus(ctx, c, st)
}

func TestSweepRetriesConflicts(t *testing.T) {
	g := &swGoogle{}
	s, _ := swService(t, g)
	ids := swRegister(t, s, "c", 5, swDefaultKey)
	s.Store = &raceStore{Store: s.Store, lost: map[string]bool{}}
	rep, err := s.Sweep(context.Background(), upkeep.SweepOptions{})
	if err != nil || rep.OK != 5 {
		t.Fatalf("Sweep with conflicts = %+v, %v; want 5 ok", rep, err)
	}
	for _, id := range ids {
		c, _ := s.Store.Get(context.Background(), id)
		if c.Status.State != connector.StateOK || c.Description != "edited meanwhile" {
			t.Errorf("connector after conflict retry: %+v, description %q; want ok and the concurrent edit kept", c.Status, c.Description)
		}
	}
}

func TestSweepListFailure(t *testing.T) {
	s, _ := swService(t, &swGoogle{})
	s.Store = failingList{s.Store}
	if _, err := s.Sweep(context.Background(), upkeep.SweepOptions{}); connector.KindOf(err) != connector.ErrUpstreamUnavailable {
		t.Errorf("Sweep with a failing store = %v; want upstream_unavailable", err)
	}
}

type failingList struct{ connector.Store }

func (failingList) List(context.Context, connector.Filter, connector.Page) ([]*connector.Connector, string, error) {
	return nil, "", connector.Errorf(connector.ErrUpstreamUnavailable, "firestore down")
}

func TestAuthorizeOperator(t *testing.T) {
	s, _ := swService(t, &swGoogle{})
	for _, tc := range []struct {
		email string
		want  error
	}{
		{"admin@example.com", nil},
		{"ADMIN@example.com", nil},
		{"owner@example.com", connector.ErrPermission},
		{"", connector.ErrUnauthenticated},
	} {
		if err := s.AuthorizeOperator(connector.Principal{Email: tc.email}); !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("AuthorizeOperator(%q) = %v; want %v", tc.email, err, tc.want)
		}
	}
}

func TestSweepRefusesImplicitConnectorsThePolicyNoLongerAllows(t *testing.T) {
	g := &swGoogle{}
	s, _ := swService(t, g)
	s.Policy.AllowImplicit = true
	no := false
	c, _, err := s.Register(context.Background(), connector.Principal{Email: swOwner}, connector.RegisterRequest{
		Name: "ambient", AuthMethod: configschema.Implicit,
		Configuration: map[string]any{"project_id": "demo-project"}, Verify: &no,
	})
	if err != nil {
		t.Fatalf("Register implicit = %v", err)
	}
	s.Policy.AllowImplicit = false // the deployment turned implicit methods off
	rep, err := s.Sweep(context.Background(), upkeep.SweepOptions{})
	if err != nil || rep.Failed != 1 {
		t.Fatalf("Sweep = %+v, %v; want one failed check", rep, err)
	}
	if n := g.Calls.Load(); n != 0 {
		t.Errorf("Google token calls = %d; want 0: the service's own identity is not used for a refused method", n)
	}
	got, err := s.Store.Get(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.State != connector.StateError || !strings.Contains(got.Status.Error, "GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS") {
		t.Errorf("status = %+v; want error naming GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS", got.Status)
	}
}

// TestSweepOutageKeepsTheVerdict: a sweep while Google answers 503 keeps each connector's
// last verdict and records that the check could not be made; the next sweep that can check
// clears the mark.
func TestSweepOutageKeepsTheVerdict(t *testing.T) {
	g := &swGoogle{}
	s, _ := swService(t, g)
	swRegister(t, s, "c", 2, swDefaultKey)
	if _, err := s.Sweep(context.Background(), upkeep.SweepOptions{}); err != nil {
		t.Fatal(err)
	}
	g.TokenFunc = func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
		return connector.Token{}, &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "Google is unavailable or throttling (HTTP 503)"}
	}
	rep, err := s.Sweep(context.Background(), upkeep.SweepOptions{})
	if err != nil || rep.Failed != 0 || rep.Inconclusive != 2 {
		t.Fatalf("Sweep during an outage = %+v, %v; want 2 inconclusive, none failed", rep, err)
	}
	for _, name := range []string{"c-0", "c-1"} {
		c, _ := s.Store.GetByName(context.Background(), name)
		if c.Status.State != connector.StateOK || c.Status.Error != "" || !strings.Contains(c.Status.Inconclusive, "HTTP 503") {
			t.Errorf("%s status after an outage sweep = %+v; want ok kept, inconclusive with the reason", name, c.Status)
		}
	}
	g.TokenFunc = nil
	if rep, err := s.Sweep(context.Background(), upkeep.SweepOptions{}); err != nil || rep.OK != 2 {
		t.Fatalf("Sweep after the outage = %+v, %v", rep, err)
	}
	c, _ := s.Store.GetByName(context.Background(), "c-0")
	if c.Status.Inconclusive != "" || !c.Status.InconclusiveAt.IsZero() {
		t.Errorf("status after a conclusive sweep = %+v; want the inconclusive mark cleared", c.Status)
	}
}
