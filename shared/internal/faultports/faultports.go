// Package faultports makes the core's storage ports fail on purpose, for the fault tests of
// shared/connector (the registry's write order) and shared/upkeep (rotation and sweep).
//
// A [Fault] names one operation ("store.Create", "secrets.AddVersion", "keys.Create", ...),
// which of its calls fails (Nth, 1-based) and whether the failure comes before the wrapped
// port acts or after it has applied the call (After: the caller cannot tell which). An
// [Injector] holds the armed faults and counts the calls; [Store] and [Secrets] route every
// call of the ports they wrap through it, and [Injector.Do] does the same for any other
// operation a test wraps itself.
package faultports

import (
	"context"
	"sync"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Fault makes the Nth call of Op fail with an error of Kind.
type Fault struct {
	Op    string         // "store.Create", "secrets.AddVersion", ...
	Nth   int            // 1-based; 0 means 1
	After bool           // fail after the wrapped port applied the call
	Kind  connector.Kind // "" means ErrUpstreamUnavailable (outcome unknown)
}

// Injector runs calls through the armed faults. The zero value has none armed.
type Injector struct {
	mu     sync.Mutex
	faults []Fault
	calls  map[string]int
	fired  map[int]bool
}

// Do runs call as operation op, failing it as an armed fault says.
func (in *Injector) Do(op string, call func() error) error {
	in.mu.Lock()
	if in.calls == nil {
		in.calls, in.fired = map[string]int{}, map[int]bool{}
	}
	in.calls[op]++
	n := in.calls[op]
	idx := -1
	for i, f := range in.faults {
		if f.Op == op && max(f.Nth, 1) == n && !in.fired[i] {
			idx = i
			in.fired[i] = true
			break
		}
	}
	in.mu.Unlock()
	if idx < 0 {
		return call()
	}
	f := in.faults[idx]
	kind := f.Kind
	if kind == "" {
		kind = connector.ErrUpstreamUnavailable
	}
	injected := &connector.Error{Kind: kind, Message: "injected fault in " + op}
	if !f.After {
		return injected
	}
	if err := call(); err != nil {
		return err
	}
	return injected
}

// Arm replaces the armed faults with fs and starts counting calls afresh.
func (in *Injector) Arm(fs ...Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults, in.calls, in.fired = fs, map[string]int{}, map[int]bool{}
}

// CheckFired fails the test for every armed fault that never fired (the scenario would not
// test what it says), then disarms them.
func (in *Injector) CheckFired(t testing.TB) {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, f := range in.faults {
		if !in.fired[i] {
			t.Errorf("fault %+v never fired: the scenario does not test what it says", f)
		}
	}
	in.faults = nil
}

// Store is a connector.Store whose Create, Get, GetByName, Update and Delete go through In
// as "store.<Method>".
type Store struct {
	connector.Store
	In *Injector
}

func (s Store) Create(ctx context.Context, c *connector.Connector) error {
	return s.In.Do("store.Create", func() error { return s.Store.Create(ctx, c) })
}

func (s Store) Get(ctx context.Context, id string) (c *connector.Connector, err error) {
	err = s.In.Do("store.Get", func() error { c, err = s.Store.Get(ctx, id); return err })
	return c, err
}

func (s Store) GetByName(ctx context.Context, name string) (c *connector.Connector, err error) {
	err = s.In.Do("store.GetByName", func() error { c, err = s.Store.GetByName(ctx, name); return err })
	return c, err
}

func (s Store) Update(ctx context.Context, c *connector.Connector) error {
	return s.In.Do("store.Update", func() error { return s.Store.Update(ctx, c) })
}

func (s Store) Delete(ctx context.Context, id string) error {
	return s.In.Do("store.Delete", func() error { return s.Store.Delete(ctx, id) })
}

// SecretStore is what Secrets wraps: the core's port and the listings sweep reads. The
// memory store (store.MemorySecrets) has them all.
type SecretStore interface {
	connector.SecretStore
	upkeep.SecretVersions
	upkeep.SecretAges
}

// Secrets is a SecretStore whose AddVersion, Access (AccessFresh too), DestroyVersion and
// Delete go through In as "secrets.<Method>"; its listings pass through untouched.
type Secrets struct {
	SecretStore
	In *Injector
}

func (s Secrets) AddVersion(ctx context.Context, id string, sec connector.Secrets) (v string, err error) {
	err = s.In.Do("secrets.AddVersion", func() error { v, err = s.SecretStore.AddVersion(ctx, id, sec); return err })
	return v, err
}

func (s Secrets) Access(ctx context.Context, id, v string) (sec connector.Secrets, err error) {
	err = s.In.Do("secrets.Access", func() error { sec, err = s.SecretStore.Access(ctx, id, v); return err })
	return sec, err
}

// AccessFresh goes through In as "secrets.Access" too: a fresh read is an access.
func (s Secrets) AccessFresh(ctx context.Context, id, v string) (sec connector.Secrets, err error) {
	err = s.In.Do("secrets.Access", func() error { sec, err = s.SecretStore.AccessFresh(ctx, id, v); return err })
	return sec, err
}

func (s Secrets) DestroyVersion(ctx context.Context, id, v string) error {
	return s.In.Do("secrets.DestroyVersion", func() error { return s.SecretStore.DestroyVersion(ctx, id, v) })
}

func (s Secrets) Delete(ctx context.Context, id string) error {
	return s.In.Do("secrets.Delete", func() error { return s.SecretStore.Delete(ctx, id) })
}
