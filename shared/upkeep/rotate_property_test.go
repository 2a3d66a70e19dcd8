package upkeep_test

// A property test of key rotation: rotations killed at random points (between any two port
// calls, before or after the call takes effect) race with sweeps repairing from stale
// listings; whatever happens, no pinned key is ever deleted, and once the windows have passed
// and a healthy sweep ran, every key left at Google is the registered one or the pinned one:
// no created key was left unrecorded. Seeded math/rand, the in-memory store and the keys
// fake, time in a synctest bubble.

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/rotation"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// ppWorld is Google's keys of one account and the store, shared by every actor.
type ppWorld struct {
	mu         sync.Mutex
	n          int
	live       map[string]time.Time
	refuseFor  time.Duration
	flaky      *rand.Rand // when set, the token endpoint refuses two thirds of the new keys' tokens
	store      *store.Memory
	id         string
	violations []string
}

func (w *ppWorld) pinned() string {
	c, err := w.store.Get(context.Background(), w.id)
	if err != nil {
		return ""
	}
	return c.Rotation.KeyID
}

// ppActor is one process: its ports die at its crash point (the crash-th call, after or
// before that call takes effect) and fail from then on, as a killed instance's would.
type ppActor struct {
	w       *ppWorld
	mu      sync.Mutex
	calls   int
	crash   int // 0: never
	after   bool
	crashed bool
	// slow, when set, delays some calls by up to three minutes, a few by up to two hours (a
	// slow instance, a frozen one): rotations then overlap with sweeps that find them
	// abandoned or past their VerifyBy.
	slow *rand.Rand
}

var errKilled = &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "the process was killed"}

func (a *ppActor) do(call func() error) error {
	a.mu.Lock()
	if a.slow != nil && a.slow.Intn(4) == 0 {
		d := time.Duration(a.slow.Intn(180)) * time.Second
		if a.slow.Intn(10) == 0 {
			d = time.Duration(a.slow.Intn(int(2*upkeep.VerifyWindow/time.Second))) * time.Second
		}
		a.mu.Unlock()
		time.Sleep(d)
		a.mu.Lock()
	}
	a.calls++
	dying := a.crash > 0 && a.calls >= a.crash
	dead := a.crashed
	a.crashed = a.crashed || dying
	a.mu.Unlock()
	switch {
	case dead:
		return errKilled
	case dying && a.after:
		_ = call()
		return errKilled
	case dying:
		return errKilled
	}
	return call()
}

func (a *ppActor) CreateKey(ctx context.Context, g connector.Grant, email string) (id, file string, err error) {
	err = a.do(func() error {
		if err := ctx.Err(); err != nil {
			return err // past the call's deadline the request is never sent
		}
		a.w.mu.Lock()
		defer a.w.mu.Unlock()
		if len(a.w.live) >= upkeep.MaxKeysPerAccount {
			return fmt.Errorf("%w: limit", upkeep.ErrKeyLimit)
		}
		a.w.n++
		id = fmt.Sprintf("k%d", a.w.n)
		a.w.live[id] = time.Now()
		file = credjsontest.JSON(credjsontest.ServiceAccountKey(map[string]any{"private_key_id": id, "client_email": email}))
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return id, file, nil
}

func (a *ppActor) ListKeys(ctx context.Context, g connector.Grant, email string) (out []upkeep.KeyInfo, err error) {
	err = a.do(func() error {
		a.w.mu.Lock()
		defer a.w.mu.Unlock()
		for id, t := range a.w.live {
			out = append(out, upkeep.KeyInfo{ID: id, Created: t})
		}
		return nil
	})
	return out, err
}

func (a *ppActor) DeleteKey(ctx context.Context, g connector.Grant, email, id string) error {
	return a.do(func() error {
		if p := a.w.pinned(); p == id {
			a.w.mu.Lock()
			a.w.violations = append(a.w.violations, "deleted the pinned key "+id)
			a.w.mu.Unlock()
		}
		a.w.mu.Lock()
		defer a.w.mu.Unlock()
		delete(a.w.live, id)
		return nil
	})
}

func (a *ppActor) Token(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
	var tok connector.Token
	err := a.do(func() error {
		key, err := g.Secrets.ServiceAccountKey()
		if err != nil {
			return err
		}
		a.w.mu.Lock()
		defer a.w.mu.Unlock()
		created, ok := a.w.live[key.PrivateKeyID]
		flake := a.w.flaky != nil && key.PrivateKeyID != "k0" && a.w.flaky.Intn(3) != 0
		if !ok || flake || (key.PrivateKeyID != "k0" && time.Since(created) < a.w.refuseFor) {
			return &connector.Error{Kind: connector.ErrUpstreamDenied, Message: "invalid_grant: Invalid JWT Signature."}
		}
		tok = connector.Token{Value: "ya29.x", Expiry: time.Now().Add(time.Hour)}
		return nil
	})
	return tok, err
}

func (a *ppActor) ListResources(ctx context.Context, g connector.Grant, rt connector.ResourceType, id string) ([]string, error) {
	return []string{"demo-project"}, nil
}

func (a *ppActor) Cluster(ctx context.Context, g connector.Grant, id string) (connector.ClusterInfo, error) {
	return connector.ClusterInfo{}, nil
}

func (a *ppActor) BucketProject(context.Context, connector.Grant, string) (bool, error) {
	return true, nil
}

func (a *ppActor) RegistryHost(host string) string { return host }

type ppStore struct {
	connector.Store
	a *ppActor
}

func (s ppStore) Get(ctx context.Context, id string) (c *connector.Connector, err error) {
	err = s.a.do(func() error { c, err = s.Store.Get(ctx, id); return err })
	return c, err
}

func (s ppStore) Update(ctx context.Context, c *connector.Connector) error {
	return s.a.do(func() error { return s.Store.Update(ctx, c) })
}

func (s ppStore) SetStatus(ctx context.Context, c *connector.Connector, st connector.Status) error {
	return s.a.do(func() error { return s.Store.SetStatus(ctx, c, st) })
}

type ppSecrets struct {
	*store.MemorySecrets
	a *ppActor
}

func (s ppSecrets) SetRotation(ctx context.Context, id string, p time.Duration, next time.Time) error {
	return s.a.do(func() error { return s.MemorySecrets.SetRotation(ctx, id, p, next) })
}

func (s ppSecrets) AddVersion(ctx context.Context, id string, sec connector.Secrets) (v string, err error) {
	err = s.a.do(func() error { v, err = s.MemorySecrets.AddVersion(ctx, id, sec); return err })
	return v, err
}

func (s ppSecrets) Access(ctx context.Context, id, v string) (sec connector.Secrets, err error) {
	err = s.a.do(func() error { sec, err = s.MemorySecrets.Access(ctx, id, v); return err })
	return sec, err
}

func (s ppSecrets) AccessFresh(ctx context.Context, id, v string) (connector.Secrets, error) {
	return s.Access(ctx, id, v)
}

func (s ppSecrets) DestroyVersion(ctx context.Context, id, v string) error {
	return s.a.do(func() error { return s.MemorySecrets.DestroyVersion(ctx, id, v) })
}

// service is a's own instance of the service over the shared world.
func (a *ppActor) service(secrets *store.MemorySecrets) *upkeep.Keeper {
	return upkeep.New(&connector.Service{Store: ppStore{a.w.store, a}, Secrets: ppSecrets{secrets, a}, Google: a}, a)
}

func TestRotationPropertyCrashesAndStaleSweeps(t *testing.T) {
	const iterations = 300
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for i := range iterations {
		it := rng.Int63()
		synctest.Test(t, func(t *testing.T) {
			if msg := ppRun(t, rand.New(rand.NewSource(it))); msg != "" {
				t.Fatalf("iteration %d (seed %d): %s", i, it, msg)
			}
		})
	}
}

// ppRun plays one random story and returns what went wrong ("" when nothing did).
func ppRun(t *testing.T, rng *rand.Rand) string {
	ctx := context.Background()
	w := &ppWorld{live: map[string]time.Time{"k0": time.Now().Add(-100 * time.Hour)}, store: store.NewMemory()}
	if rng.Intn(3) == 0 {
		w.refuseFor = time.Duration(rng.Intn(180)) * time.Second
	}
	if rng.Intn(3) == 0 {
		w.flaky = rand.New(rand.NewSource(rng.Int63()))
	}
	secrets := store.NewMemorySecrets()
	healthy := (&ppActor{w: w}).service(secrets)
	c, _, err := healthy.Register(ctx, connector.Principal{Email: swOwner}, connector.RegisterRequest{
		Name: "rot", AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCPGeneric, RotationPeriod: 24 * time.Hour,
		Configuration: map[string]any{"project_id": "demo-project", "service_account_json": credjsontest.ServiceAccountKey(map[string]any{"private_key_id": "k0"})},
	})
	if err != nil {
		return "Register: " + err.Error()
	}
	w.id = c.ID
	for range rng.Intn(3) {
		_, _ = healthy.RotateKey(ctx, c.ID, true)
		time.Sleep(time.Duration(rng.Intn(600)) * time.Second)
	}
	var wg sync.WaitGroup
	for range 1 + rng.Intn(2) { // rotations, each killed at a random point (or not)
		a := &ppActor{w: w, crash: rng.Intn(14), after: rng.Intn(2) == 0}
		if rng.Intn(2) == 0 {
			a.slow = rand.New(rand.NewSource(rng.Int63()))
		}
		start := time.Duration(rng.Intn(10)) * time.Second
		wg.Go(func() {
			time.Sleep(start)
			_, _ = a.service(secrets).RotateKey(ctx, c.ID, true)
		})
	}
	for range 1 + rng.Intn(2) { // sweeps repairing from listings taken at random moments
		a := &ppActor{w: w, crash: rng.Intn(30), after: rng.Intn(2) == 0}
		var waits []time.Duration
		for range 1 + rng.Intn(3) {
			span := 2 * upkeep.RotationBudget
			if rng.Intn(3) == 0 {
				span = 2 * upkeep.VerifyWindow
			}
			waits = append(waits, time.Duration(rng.Int63n(int64(span))))
		}
		wg.Go(func() {
			svc := a.service(secrets)
			for _, wait := range waits {
				stale, err := w.store.Get(ctx, c.ID)
				if err != nil {
					return
				}
				time.Sleep(wait)
				_, _ = svc.RepairRotation(ctx, stale)
			}
		})
	}
	wg.Wait()
	w.mu.Lock()
	w.flaky = nil
	w.mu.Unlock()
	return ppSettle(ctx, w, healthy)
}

// ppSettle lets every window pass, sweeps twice with a healthy instance, and checks the
// properties.
func ppSettle(ctx context.Context, w *ppWorld, healthy *upkeep.Keeper) string {
	for range 3 {
		time.Sleep(upkeep.VerifyWindow + rotation.Grace)
		cur, err := w.store.Get(ctx, w.id)
		if err != nil {
			return err.Error()
		}
		if _, err := healthy.RepairRotation(ctx, cur); err != nil {
			return "healthy RepairRotation: " + err.Error()
		}
	}
	if len(w.violations) > 0 {
		return fmt.Sprint(w.violations)
	}
	cur, _ := w.store.Get(ctx, w.id)
	w.mu.Lock()
	var live []string
	for id := range w.live {
		live = append(live, id)
	}
	w.mu.Unlock()
	slices.Sort(live)
	switch {
	case cur.Rotation.Pending != nil:
		return fmt.Sprintf("a rotation is still pending after the windows: %+v", *cur.Rotation.Pending)
	case !slices.Contains(live, cur.Rotation.KeyID):
		return fmt.Sprintf("the pinned key %s is not live (live: %v)", cur.Rotation.KeyID, live)
	case !slices.Contains(live, "k0"):
		return "the registered key k0 was deleted"
	}
	for _, id := range live {
		if id != "k0" && id != cur.Rotation.KeyID {
			return fmt.Sprintf("key %s was left behind: live %v, rotation %+v", id, live, cur.Rotation)
		}
	}
	if _, err := healthy.Mint(ctx, connector.Principal{Email: swOwner}, connector.MintRequest{Ref: "rot", ResourceType: resourceid.GCPGeneric}); err != nil {
		return "mint after settling: " + err.Error()
	}
	return ""
}
