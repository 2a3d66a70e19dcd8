package connector_test

// Deadline tests of the registry: with the metadata store frozen (every call hangs until its
// context ends), register and update answer by the request's deadline, never a cleanup's
// budget later, and say in the log what they left for sweep.

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// frozenStore hangs every call while frozen is set, until the call's context ends.
type frozenStore struct {
	connector.Store
	frozen *atomic.Bool
}

func (s frozenStore) wait(ctx context.Context) error {
	if !s.frozen.Load() {
		return nil
	}
	<-ctx.Done()
	return &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "the store did not answer", Err: ctx.Err()}
}

func (s frozenStore) Create(ctx context.Context, c *connector.Connector) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Create(ctx, c)
}

func (s frozenStore) Get(ctx context.Context, id string) (*connector.Connector, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, id)
}

func (s frozenStore) Update(ctx context.Context, c *connector.Connector) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Update(ctx, c)
}

func TestFrozenStoreAnswersByTheDeadline(t *testing.T) {
	synctest.Test(t, testFrozenStoreAnswersByTheDeadline)
}

func testFrozenStoreAnswersByTheDeadline(t *testing.T) {
	const deadline = 60 * time.Second
	for _, op := range []string{"register", "update"} {
		e := rgNew(t)
		var logs bytes.Buffer
		e.svc.Log = slog.New(slog.NewTextHandler(&logs, nil))
		frozen := &atomic.Bool{}
		e.svc.Store = frozenStore{Store: e.store, frozen: frozen}
		old := e.register(t, rgAlice, rgReq("orders", "ya29.first"))
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		var err error
		switch op {
		case "register":
			// GetByName (the name check) is not frozen: the create and its read-back are.
			frozen.Store(true)
			_, _, err = e.svc.Register(ctx, rgP(rgAlice), rgReq("payments", "ya29.second"))
		case "update":
			e.svc.Store = frozenUpdates{frozenStore{Store: e.store, frozen: frozen}, &atomic.Int32{}}
			frozen.Store(true)
			_, err = e.svc.Update(ctx, rgP(rgAlice), old.ID, rgNewToken("ya29.second"))
		}
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Fatalf("%s with the store frozen succeeded", op)
		}
		if took > deadline {
			t.Errorf("%s with the store frozen answered after %s; want by the request's deadline, %s", op, took, deadline)
		}
		if !strings.Contains(logs.String(), "left for sweep") {
			t.Errorf("%s left a secret (version) behind without a log line saying so:\n%s", op, logs.String())
		}
		frozen.Store(false)
		e.sweepOrphans(t) // and sweep repairs what was left
		e.noOrphans(t, op+" after sweep")
		e.noDangling(t, op+" after sweep")
	}
}

// frozenUpdates freezes the update's own write and every call after it: the lookup before
// an update, and its first write (the cleanup mark before the new secret version), answer.
type frozenUpdates struct {
	frozenStore
	updates *atomic.Int32
}

func (s frozenUpdates) Get(ctx context.Context, id string) (*connector.Connector, error) {
	if s.updates.Load() >= 2 {
		return s.frozenStore.Get(ctx, id)
	}
	return s.Store.Get(ctx, id)
}

func (s frozenUpdates) Update(ctx context.Context, c *connector.Connector) error {
	if s.updates.Add(1) < 2 {
		return s.Store.Update(ctx, c) // the cleanup mark before the new version
	}
	return s.frozenStore.Update(ctx, c)
}
