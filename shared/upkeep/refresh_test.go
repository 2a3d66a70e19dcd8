package upkeep_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

func TestVersionID(t *testing.T) {
	for in, want := range map[string]string{"projects/p/secrets/s/versions/3": "3", "3": "3", "": ""} {
		if got := upkeep.VersionID(in); got != want {
			t.Errorf("VersionID(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestRefreshLifecycle walks one connector through the events Secret Manager sends, in the
// core (the HTTP test sends the same events in Pub/Sub push format).
func TestRefreshLifecycle(t *testing.T) {
	g := &swGoogle{}
	s, sec := swService(t, g)
	ids := swRegister(t, s, "c", 1, swDefaultKey)
	id := ids[0]
	ctx := context.Background()
	get := func() *connector.Connector {
		t.Helper()
		c, err := s.Store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := get()
	v1 := c.SecretVersion
	vals, _ := sec.Access(ctx, id, v1)
	v2, _ := sec.AddVersion(ctx, id, vals)
	ev := func(typ, version string) upkeep.SecretEvent {
		return upkeep.SecretEvent{Type: typ, ConnectorID: id, Secret: "projects/p/secrets/connector-" + id, Version: version}
	}

	steps := []struct {
		name      string
		ev        upkeep.SecretEvent
		wantPin   string
		wantState connector.State
		wantErr   bool
	}{
		{"add newer version", ev(upkeep.EventVersionAdd, v2), v2, connector.StateOK, false},
		{"duplicate add", ev(upkeep.EventVersionAdd, v2), v2, connector.StateOK, false},
		{"stale add of the old version", ev(upkeep.EventVersionAdd, v1), v2, connector.StateOK, false},
		{"disable unpinned", ev(upkeep.EventVersionDisable, v1), v2, connector.StateOK, false},
		{"destroy pinned", ev(upkeep.EventVersionDestroy, v2), v2, connector.StateDisabled, false},
		{"duplicate destroy", ev(upkeep.EventVersionDestroy, v2), v2, connector.StateDisabled, false},
		{"enable pinned again", ev(upkeep.EventVersionEnable, v2), v2, connector.StateOK, false},
		{"secret deleted", ev(upkeep.EventSecretDelete, ""), v2, connector.StateDisabled, false},
		{"unknown event type", ev("SECRET_UPDATE", ""), v2, connector.StateDisabled, false},
		{"unknown connector", upkeep.SecretEvent{Type: upkeep.EventVersionAdd, ConnectorID: "nope", Version: "9"}, v2, connector.StateDisabled, false},
		{"foreign secret", upkeep.SecretEvent{Type: upkeep.EventVersionAdd, Version: "9"}, v2, connector.StateDisabled, false},
	}
	for _, st := range steps {
		err := s.Refresh(ctx, st.ev)
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: Refresh = %v; want error %v", st.name, err, st.wantErr)
		}
		c := get()
		if c.SecretVersion != st.wantPin || c.Status.State != st.wantState {
			t.Fatalf("%s: pinned %q state %q (%s); want %q %q", st.name, c.SecretVersion, c.Status.State, c.Status.Error, st.wantPin, st.wantState)
		}
	}

	// Google unavailable while verifying a new version: the event must be retried.
	v3, _ := sec.AddVersion(ctx, id, vals)
	g.TokenFunc = func(context.Context, connector.Grant) (connector.Token, error) {
		return connector.Token{}, connector.Errorf(connector.ErrUpstreamUnavailable, "busy")
	}
	if err := s.Store.SetStatus(ctx, get(), connector.Status{State: connector.StateOK}); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx, ev(upkeep.EventVersionAdd, v3)); connector.KindOf(err) != connector.ErrUpstreamUnavailable {
		t.Errorf("Refresh with Google unavailable = %v; want upstream_unavailable (retry)", err)
	}
	if got := get().SecretVersion; got != v2 {
		t.Errorf("pinned after failed refresh = %q; want %q", got, v2)
	}
	// A rotate event records rotation due exactly once.
	g.TokenFunc = nil
	if err := s.Refresh(ctx, ev(upkeep.EventSecretRotate, "")); err != nil || !get().Status.RotationDue {
		t.Errorf("Refresh(SECRET_ROTATE) = %v, rotation due %v; want nil, true", err, get().Status.RotationDue)
	}
	writes := &statusWrites{Store: s.Store}
	s.Store = writes
	_ = s.Refresh(ctx, ev(upkeep.EventSecretRotate, ""))
	if writes.n != 0 {
		t.Errorf("a duplicate SECRET_ROTATE wrote the status again (%d writes)", writes.n)
	}
}

// statusWrites counts status writes.
type statusWrites struct {
	connector.Store
	n int
}

func (s *statusWrites) SetStatus(ctx context.Context, c *connector.Connector, st connector.Status) error {
	s.n++
	return s.Store.SetStatus(ctx, c, st)
}

// refreshWithNewVersion registers one connector and adds a version of its secret (the same
// values) without pinning it: what a refresh of that version's event finds.
func refreshWithNewVersion(t *testing.T) (s *upkeep.Keeper, id, version string) {
	t.Helper()
	s, sec := swService(t, &swGoogle{})
	id = swRegister(t, s, "c", 1, swDefaultKey)[0]
	ctx := context.Background()
	c, err := s.Store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := sec.Access(ctx, id, c.SecretVersion)
	if err != nil {
		t.Fatal(err)
	}
	if version, err = sec.AddVersion(ctx, id, vals); err != nil {
		t.Fatal(err)
	}
	return s, id, version
}

// TestRefreshAddGrace: an update adds a version and pins it moments later; the event of that
// version, arriving in between, must leave the update alone. In the bubble, synctest.Wait
// returns once Refresh is blocked in its grace wait; the update writes then, and the refresh
// that follows must see it. Without the grace the refresh pins the version first and the
// update's write finds a connector that is no longer in the state it expects.
func TestRefreshAddGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, id, v2 := refreshWithNewVersion(t)
		ctx := context.Background()
		start := time.Now()
		refreshed := make(chan error, 1)
		go func() {
			refreshed <- s.Refresh(ctx, upkeep.SecretEvent{Type: upkeep.EventVersionAdd, ConnectorID: id, Version: v2, PublishTime: start})
		}()
		synctest.Wait() // Refresh waits out the grace
		cur, _ := s.Store.Get(ctx, id)
		cur.SecretVersion, cur.Description = v2, "updated"
		if err := s.Store.Update(ctx, cur); err != nil {
			t.Fatalf("the update lost to the refresh: %v", err)
		}
		if err := <-refreshed; err != nil {
			t.Fatalf("Refresh = %v", err)
		}
		if waited := time.Since(start); waited != upkeep.RefreshAddGrace {
			t.Errorf("Refresh acted after %s; want the grace, %s", waited, upkeep.RefreshAddGrace)
		}
		if c, _ := s.Store.Get(ctx, id); c.SecretVersion != v2 || c.Description != "updated" || c.Status.State != connector.StateUnknown {
			t.Errorf("after update + refresh: pinned %s, description %q, status %+v; want the update's write untouched", c.SecretVersion, c.Description, c.Status)
		}
	})
}

// TestRefreshAddActsAtOnceOnOldEvents: an event published longer ago than the grace (a
// redelivery) is acted on without waiting.
func TestRefreshAddActsAtOnceOnOldEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, id, v2 := refreshWithNewVersion(t)
		ctx := context.Background()
		start := time.Now()
		err := s.Refresh(ctx, upkeep.SecretEvent{Type: upkeep.EventVersionAdd, ConnectorID: id, Version: v2,
			PublishTime: start.Add(-upkeep.RefreshAddGrace)})
		if err != nil || time.Since(start) != 0 {
			t.Fatalf("Refresh of an old event = %v after %s; want nil at once", err, time.Since(start))
		}
		if c, _ := s.Store.Get(ctx, id); c.SecretVersion != v2 {
			t.Errorf("pinned %s after refresh; want %s", c.SecretVersion, v2)
		}
	})
}
