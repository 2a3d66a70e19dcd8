package upkeep_test

// Fault tests of the registry's write order: with either store failing at each step of
// register, update and delete (before or after its write is applied), no connector may point
// at a missing or unusable secret, and after sweep's orphan removal no secret may be left
// without a connector.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Fault injection for the rotation tests, as shared/connector's registry tests have it.

// rgFault makes the nth call of one operation fail with an error of kind kind: before the
// wrapped store acts, or after it has applied the call (the caller cannot tell which).
type rgFault struct {
	op    string // "store.Create", "secrets.AddVersion", ...
	nth   int    // 1-based; 0 means 1
	after bool
	kind  connector.Kind // "" means ErrUpstreamUnavailable (outcome unknown)
}

type rgInjector struct {
	mu     sync.Mutex
	faults []rgFault
	calls  map[string]int
	fired  map[int]bool
}

// do runs call through the armed faults of op.
func (in *rgInjector) do(op string, call func() error) error {
	in.mu.Lock()
	in.calls[op]++
	n := in.calls[op]
	idx := -1
	for i, f := range in.faults {
		if f.op == op && max(f.nth, 1) == n && !in.fired[i] {
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
	kind := f.kind
	if kind == "" {
		kind = connector.ErrUpstreamUnavailable
	}
	injected := &connector.Error{Kind: kind, Message: "injected fault in " + op}
	if !f.after {
		return injected
	}
	if err := call(); err != nil {
		return err
	}
	return injected
}

type rgFaultyStore struct {
	connector.Store
	in *rgInjector
}

func (s rgFaultyStore) Create(ctx context.Context, c *connector.Connector) error {
	return s.in.do("store.Create", func() error { return s.Store.Create(ctx, c) })
}

func (s rgFaultyStore) Get(ctx context.Context, id string) (c *connector.Connector, err error) {
	err = s.in.do("store.Get", func() error { c, err = s.Store.Get(ctx, id); return err })
	return c, err
}

func (s rgFaultyStore) GetByName(ctx context.Context, name string) (c *connector.Connector, err error) {
	err = s.in.do("store.GetByName", func() error { c, err = s.Store.GetByName(ctx, name); return err })
	return c, err
}

func (s rgFaultyStore) Update(ctx context.Context, c *connector.Connector) error {
	return s.in.do("store.Update", func() error { return s.Store.Update(ctx, c) })
}

func (s rgFaultyStore) Delete(ctx context.Context, id string) error {
	return s.in.do("store.Delete", func() error { return s.Store.Delete(ctx, id) })
}

type rgFaultySecrets struct {
	connector.SecretStore
	in *rgInjector
}

func (s rgFaultySecrets) AddVersion(ctx context.Context, id string, sec connector.Secrets) (v string, err error) {
	err = s.in.do("secrets.AddVersion", func() error { v, err = s.SecretStore.AddVersion(ctx, id, sec); return err })
	return v, err
}

func (s rgFaultySecrets) Access(ctx context.Context, id, v string) (sec connector.Secrets, err error) {
	err = s.in.do("secrets.Access", func() error { sec, err = s.SecretStore.Access(ctx, id, v); return err })
	return sec, err
}

func (s rgFaultySecrets) DestroyVersion(ctx context.Context, id, v string) error {
	return s.in.do("secrets.DestroyVersion", func() error { return s.SecretStore.DestroyVersion(ctx, id, v) })
}

func (s rgFaultySecrets) Delete(ctx context.Context, id string) error {
	return s.in.do("secrets.Delete", func() error { return s.SecretStore.Delete(ctx, id) })
}

func (s rgFaultySecrets) ListVersions(ctx context.Context, id string) ([]upkeep.SecretVersion, error) {
	return s.SecretStore.(upkeep.SecretVersions).ListVersions(ctx, id)
}

func (s rgFaultySecrets) SecretCreateTimes(ctx context.Context) (map[string]time.Time, error) {
	return s.SecretStore.(upkeep.SecretAges).SecretCreateTimes(ctx)
}

// rgFaultEnv is an rgEnv whose Service sees both stores through fault injectors.

func (in *rgInjector) arm(fs ...rgFault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults, in.calls, in.fired = fs, map[string]int{}, map[int]bool{}
}

func (in *rgInjector) checkFired(t *testing.T) {
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

// noDangling fails the test if a stored connector pins a secret version it cannot read.
