package connector_test

// Tests of the connector cache and the revocation window (ARCHITECTURE.md, Production rules): a mint reads its
// connector from the store at most once per window per instance; writes on this instance
// take effect at once, writes of another instance within the window. Two Services over the
// same stores are two instances. Helpers start with cc.

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
	"github.com/gcpconn/gcpconn/shared/store"
)

// ccStore is a connector.Store that counts reads and can hold them at a gate.
type ccStore struct {
	connector.Store
	gets, byName, lists atomic.Int64
	gate                chan struct{} // when non-nil, Get and GetByName wait for it
	readFirst           bool          // wait after reading instead of before
}

func (s *ccStore) wait(ctx context.Context) error {
	if s.gate == nil {
		return nil
	}
	select {
	case <-s.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *ccStore) Get(ctx context.Context, id string) (*connector.Connector, error) {
	s.gets.Add(1)
	if s.readFirst {
		c, err := s.Store.Get(ctx, id)
		if werr := s.wait(ctx); werr != nil {
			return nil, werr
		}
		return c, err
	}
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, id)
}

func (s *ccStore) GetByName(ctx context.Context, name string) (*connector.Connector, error) {
	s.byName.Add(1)
	if s.readFirst {
		c, err := s.Store.GetByName(ctx, name)
		if werr := s.wait(ctx); werr != nil {
			return nil, werr
		}
		return c, err
	}
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.GetByName(ctx, name)
}

func (s *ccStore) List(ctx context.Context, f connector.Filter, p connector.Page) ([]*connector.Connector, string, error) {
	s.lists.Add(1)
	return s.Store.List(ctx, f, p)
}

func (s *ccStore) reads() int64 { return s.gets.Load() + s.byName.Load() }

const ccWindow = 30 * time.Second

// ccEnv is two instances (Services) of one deployment over shared memory stores and a
// shared clock; here counts the reads of the first.
type ccEnv struct {
	here, there *connector.Service
	hereStore   *ccStore
	clock       *rgClock
	google      *mtGoogle
	conn        *connector.Connector
}

func ccNew(t *testing.T) *ccEnv {
	t.Helper()
	clk := &rgClock{t: rgStart}
	st, sec := store.NewMemory(), store.NewMemorySecrets()
	st.Now, sec.Now = clk.Now, clk.Now
	g := &mtGoogle{}
	counted := &ccStore{Store: st}
	svc := func(s connector.Store) *connector.Service {
		return &connector.Service{Store: s, Secrets: sec, Google: g, Now: clk.Now, RevocationWindow: ccWindow,
			Policy: connector.Policy{Admins: []string{rgAdmin}}}
	}
	e := &ccEnv{here: svc(counted), there: svc(st), hereStore: counted, clock: clk, google: g}
	e.conn = e.register(t, e.there, "cached")
	return e
}

// register registers an oauth2-token connector owned by mtOwner, with rgBob as its user.
func (e *ccEnv) register(t *testing.T, s *connector.Service, name string) *connector.Connector {
	t.Helper()
	c, _, err := s.Register(context.Background(), rgP(mtOwner), rgReq(name, "ya29.stored", rgBob))
	if err != nil {
		t.Fatalf("Register(%s): %v", name, err)
	}
	return c
}

func (e *ccEnv) mint(s *connector.Service, who, ref string) error {
	_, err := s.Mint(context.Background(), rgP(who), connector.MintRequest{Ref: ref, ResourceType: resourceid.GCSBucket, ResourceID: "gs://bucket-1"})
	return err
}

func TestConnectorCacheOneStoreReadPerWindow(t *testing.T) {
	e := ccNew(t)
	for i := range 1000 {
		if err := e.mint(e.here, mtOwner, "cached"); err != nil {
			t.Fatalf("mint #%d: %v", i, err)
		}
	}
	if got := e.hereStore.reads(); got != 1 {
		t.Errorf("store reads for 1,000 mints by name within one window = %d; want 1", got)
	}
	e.clock.Advance(ccWindow - time.Nanosecond)
	_ = e.mint(e.here, mtOwner, "cached")
	if got := e.hereStore.reads(); got != 1 {
		t.Errorf("store reads just before the window ends = %d; want 1", got)
	}
	e.clock.Advance(time.Nanosecond)
	for range 100 {
		_ = e.mint(e.here, mtOwner, "cached")
	}
	if got := e.hereStore.reads(); got != 2 {
		t.Errorf("store reads after the window ended = %d; want 2 (one re-read)", got)
	}
	if got := e.hereStore.gets.Load(); got != 0 {
		t.Errorf("reads by id for mints by name = %d; want 0 (a name is never first tried as an id)", got)
	}
}

func TestConnectorCacheNameAndIDShareAnEntry(t *testing.T) {
	e := ccNew(t)
	if !connector.IsIDForm(e.conn.ID) {
		t.Fatalf("registered id %q does not have the id form", e.conn.ID)
	}
	if err := e.mint(e.here, mtOwner, e.conn.ID); err != nil {
		t.Fatalf("mint by id: %v", err)
	}
	if err := e.mint(e.here, mtOwner, "cached"); err != nil {
		t.Fatalf("mint by name: %v", err)
	}
	if g, n := e.hereStore.gets.Load(), e.hereStore.byName.Load(); g != 1 || n != 0 {
		t.Errorf("reads by id, by name = %d, %d; want 1, 0", g, n)
	}
}

func TestConnectorCacheDeleteHereStopsMintingAtOnce(t *testing.T) {
	e := ccNew(t)
	if err := e.mint(e.here, mtOwner, "cached"); err != nil {
		t.Fatalf("mint: %v", err)
	}
	if err := e.here.Delete(context.Background(), rgP(mtOwner), "cached"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := e.mint(e.here, mtOwner, "cached"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("mint right after a delete on this instance = %v; want ErrNotFound", err)
	}
}

func TestConnectorCacheDeleteElsewhereStopsMintingWithinWindow(t *testing.T) {
	e := ccNew(t)
	if err := e.mint(e.here, mtOwner, "cached"); err != nil {
		t.Fatalf("mint: %v", err)
	}
	if err := e.there.Delete(context.Background(), rgP(mtOwner), "cached"); err != nil {
		t.Fatalf("Delete on the other instance: %v", err)
	}
	// Inside the window this instance may still serve what it read (that is the window).
	e.clock.Advance(ccWindow)
	if err := e.mint(e.here, mtOwner, "cached"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("mint one window after a delete on another instance = %v; want ErrNotFound", err)
	}
}

func TestConnectorCacheRemovedUserLosesAccessWithinWindow(t *testing.T) {
	e := ccNew(t)
	if err := e.mint(e.here, rgBob, "cached"); err != nil {
		t.Fatalf("mint as a user: %v", err)
	}
	none := []string{}
	if _, err := e.there.Update(context.Background(), rgP(mtOwner), "cached", connector.UpdateRequest{Users: none}); err != nil {
		t.Fatalf("Update on the other instance: %v", err)
	}
	e.clock.Advance(ccWindow)
	if err := e.mint(e.here, rgBob, "cached"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("mint by a removed user one window later = %v; want ErrNotFound", err)
	}
	if err := e.mint(e.here, mtOwner, "cached"); err != nil {
		t.Errorf("mint by the owner = %v; want nil", err)
	}
}

func TestConnectorCacheWritesHereTakeEffectAtOnce(t *testing.T) {
	e := ccNew(t)
	ctx := context.Background()
	if err := e.mint(e.here, rgBob, "cached"); err != nil {
		t.Fatalf("mint as a user: %v", err)
	}
	none := []string{}
	if _, err := e.here.Update(ctx, rgP(mtOwner), "cached", connector.UpdateRequest{Users: none}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := e.mint(e.here, rgBob, "cached"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("mint by a user removed on this instance = %v; want ErrNotFound at once", err)
	}
	// A rename: the old name stops resolving, the new one (cached as not found) resolves.
	if err := e.mint(e.here, mtOwner, "renamed"); connector.KindOf(err) != connector.ErrNotFound {
		t.Fatalf("mint of a name not yet taken = %v; want ErrNotFound", err)
	}
	name := "renamed"
	if _, err := e.here.Update(ctx, rgP(mtOwner), "cached", connector.UpdateRequest{Name: &name}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if err := e.mint(e.here, mtOwner, "cached"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("mint by the old name after a rename = %v; want ErrNotFound", err)
	}
	if err := e.mint(e.here, mtOwner, "renamed"); err != nil {
		t.Errorf("mint by the new name after a rename = %v; want nil", err)
	}
	// A refresh that disables the connector (its pinned version was disabled).
	if err := e.here.Disable(ctx, e.conn, "its pinned secret version was disabled"); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	if err := e.mint(e.here, mtOwner, "renamed"); connector.KindOf(err) != connector.ErrFailedPrecondition {
		t.Errorf("mint after a refresh disabled the connector here = %v; want ErrFailedPrecondition at once", err)
	}
}

func TestConnectorCacheRegisterHereSeesNameCachedAsMissing(t *testing.T) {
	e := ccNew(t)
	if err := e.mint(e.here, mtOwner, "fresh"); connector.KindOf(err) != connector.ErrNotFound {
		t.Fatalf("mint of an unknown name = %v; want ErrNotFound", err)
	}
	e.register(t, e.here, "fresh")
	if err := e.mint(e.here, mtOwner, "fresh"); err != nil {
		t.Errorf("mint right after registering on this instance = %v; want nil", err)
	}
}

func TestConnectorCacheNegativeLookupsCachedBriefly(t *testing.T) {
	e := ccNew(t)
	for range 1000 {
		if err := e.mint(e.here, mtOwner, "no-such-connector"); connector.KindOf(err) != connector.ErrNotFound {
			t.Fatalf("mint of a wrong name = %v; want ErrNotFound", err)
		}
	}
	if got := e.hereStore.reads(); got != 1 {
		t.Errorf("store reads for 1,000 lookups of a wrong name = %d; want 1", got)
	}
	// Registered elsewhere: found once the short negative entry ends, well inside the window.
	e.register(t, e.there, "no-such-connector")
	e.clock.Advance(5 * time.Second)
	if err := e.mint(e.here, mtOwner, "no-such-connector"); err != nil {
		t.Errorf("mint 5 s after it was registered elsewhere = %v; want nil", err)
	}
}

func TestConnectorCacheStrangerSeesNothing(t *testing.T) {
	e := ccNew(t)
	if err := e.mint(e.here, mtOwner, "cached"); err != nil {
		t.Fatalf("mint: %v", err)
	}
	if err := e.mint(e.here, mtStranger, "cached"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("mint by a stranger of a cached connector = %v; want ErrNotFound", err)
	}
}

func TestConnectorCacheZeroWindowReadsEveryTime(t *testing.T) {
	e := ccNew(t)
	e.here.RevocationWindow = 0
	for range 10 {
		if err := e.mint(e.here, mtOwner, "cached"); err != nil {
			t.Fatalf("mint: %v", err)
		}
	}
	if got := e.hereStore.reads(); got != 10 {
		t.Errorf("store reads for 10 mints with the window 0 = %d; want 10", got)
	}
}

// Verify, update and delete decide on what the store says now, never on the cache.
func TestConnectorCacheStatePathsReadTheStore(t *testing.T) {
	e := ccNew(t)
	ctx := context.Background()
	if err := e.mint(e.here, rgBob, "cached"); err != nil {
		t.Fatalf("mint as a user: %v", err)
	}
	none := []string{}
	if _, err := e.there.Update(ctx, rgP(mtOwner), "cached", connector.UpdateRequest{Users: none}); err != nil {
		t.Fatalf("Update on the other instance: %v", err)
	}
	_, err := e.here.Verify(ctx, rgP(rgBob), connector.VerifyRequest{Ref: "cached"})
	if connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("verify by a user removed on another instance = %v; want ErrNotFound at once", err)
	}
	// The update's revision precondition holds against the store, not a cached revision.
	desc := "changed here"
	if _, err := e.here.Update(ctx, rgP(mtOwner), "cached", connector.UpdateRequest{Description: &desc}); err != nil {
		t.Errorf("update on this instance after one elsewhere = %v; want nil", err)
	}
	if err := e.there.Delete(ctx, rgP(mtOwner), "cached"); err != nil {
		t.Fatalf("Delete on the other instance: %v", err)
	}
	if err := e.here.Delete(ctx, rgP(mtOwner), "cached"); connector.KindOf(err) != connector.ErrNotFound {
		t.Errorf("delete of a connector deleted elsewhere = %v; want ErrNotFound", err)
	}
}

func TestConnectorCacheConcurrentMissesShareOneRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := ccNew(t)
		e.hereStore.gate = make(chan struct{})
		const n = 100
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = e.mint(e.here, mtOwner, "cached") })
		}
		synctest.Wait() // every caller waits: one on the store, the others on its read
		close(e.hereStore.gate)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("mint #%d: %v", i, err)
			}
		}
		if got := e.hereStore.reads(); got != 1 {
			t.Errorf("store reads for %d concurrent cold mints = %d; want 1", n, got)
		}
	})
}

// A read that raced a write on this instance must not put the old connector back.
func TestConnectorCacheReadRacingDeleteIsNotStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := ccNew(t)
		e.hereStore.gate, e.hereStore.readFirst = make(chan struct{}), true
		var first error
		var wg sync.WaitGroup
		wg.Go(func() { first = e.mint(e.here, mtOwner, "cached") })
		synctest.Wait() // the read is done and held at the gate, not yet stored
		// Delete through the other instance's store, then forget here as a delete here does.
		if err := e.there.Store.Delete(context.Background(), e.conn.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		e.here.Forget(e.conn.ID)
		close(e.hereStore.gate)
		wg.Wait()
		if first != nil {
			t.Fatalf("mint that read before the delete = %v; want nil", first)
		}
		if err := e.mint(e.here, mtOwner, "cached"); connector.KindOf(err) != connector.ErrNotFound {
			t.Errorf("mint after a delete forgotten here while a read was in flight = %v; want ErrNotFound", err)
		}
	})
}

// List stays a query: one store call per page, also for 1,000 connectors.
func TestListOnePageOneStoreCall(t *testing.T) {
	e := ccNew(t)
	ctx := context.Background()
	for i := range 999 {
		e.register(t, e.there, fmt.Sprintf("conn-%04d", i))
	}
	for _, who := range []string{rgAdmin, mtOwner} {
		before := e.hereStore.lists.Load()
		pages, total, tok := 0, 0, ""
		for {
			cs, next, err := e.here.List(ctx, rgP(who), connector.Filter{}, connector.Page{Size: 100, Token: tok})
			if err != nil {
				t.Fatalf("List as %s: %v", who, err)
			}
			pages++
			total += len(cs)
			if next == "" {
				break
			}
			tok = next
		}
		if total != 1000 || pages != 10 {
			t.Errorf("List as %s: %d connectors in %d pages; want 1000 in 10", who, total, pages)
		}
		if got := e.hereStore.lists.Load() - before; got != int64(pages) {
			t.Errorf("List as %s: %d store calls for %d pages; want one per page", who, got, pages)
		}
	}
	if got := e.hereStore.reads(); got != 0 {
		t.Errorf("point reads during List = %d; want 0", got)
	}
}

// ccRecording is a connector.Store that keeps the connectors it hands out, and a copy of
// each as it was handed out.
type ccRecording struct {
	connector.Store
	mu     sync.Mutex
	served []*connector.Connector
	copies []*connector.Connector
}

func (s *ccRecording) keep(c *connector.Connector, err error) (*connector.Connector, error) {
	if c != nil {
		s.mu.Lock()
		s.served, s.copies = append(s.served, c), append(s.copies, c.Clone())
		s.mu.Unlock()
	}
	return c, err
}

func (s *ccRecording) Get(ctx context.Context, id string) (*connector.Connector, error) {
	return s.keep(s.Store.Get(ctx, id))
}

func (s *ccRecording) GetByName(ctx context.Context, name string) (*connector.Connector, error) {
	return s.keep(s.Store.GetByName(ctx, name))
}

// TestCachedConnectorIsNotModified: the connector cache shares one connector with every mint
// of the instance (no copy per mint), so minting must only read it: after mints of every
// resource type, with scopes, lifetimes, down-scoping options and a refused request, every
// connector the store handed out is as it was.
func TestCachedConnectorIsNotModified(t *testing.T) {
	g := &mtGoogle{ClusterFunc: func(context.Context, connector.Grant, string) (connector.ClusterInfo, error) {
		return connector.ClusterInfo{ID: "us-east1/zenml-test-cluster", Server: "https://34.1.2.3", CertificateAuthority: "ca"}, nil
	}}
	s := mtService(g)
	rec := &ccRecording{Store: s.Store}
	s.Store, s.RevocationWindow = rec, time.Minute
	mtPut(t, s, mtMulti("multi", configschema.ServiceAccount), mtSAKey)
	ctx := context.Background()
	minted := 0
	for range 2 {
		for _, r := range []connector.MintRequest{
			{ResourceType: resourceid.GCPGeneric, Scopes: []string{resourcetype.ScopeCloudPlatform, resourcetype.ScopeCloudPlatform}},
			{ResourceType: resourceid.GCSBucket, ResourceID: "gs://zenml-bucket-sl", LifetimeSeconds: 600},
			{ResourceType: resourceid.GCSBucket, ResourceID: "zenml-bucket-sl", Downscope: &connector.Downscope{Prefix: "runs/", ReadOnly: true}},
			{ResourceType: resourceid.KubernetesCluster, ResourceID: "zenml-test-cluster"},
			{ResourceType: resourceid.DockerRegistry, ResourceID: "europe-west1-docker.pkg.dev/zenml-core/zenml-core"},
			{ResourceType: resourceid.GCSBucket, ResourceID: "gs://zenml-bucket-sl", LifetimeSeconds: 1 << 30},
		} {
			r.Ref = "multi"
			if _, err := s.Mint(ctx, mtOwnerP, r); err == nil {
				minted++
			}
		}
	}
	if minted != 10 {
		t.Errorf("%d of 12 mints succeeded; want 10 (all but the two over-long lifetimes)", minted)
	}
	if len(rec.served) != 1 {
		t.Errorf("the store was read %d times for 12 mints within the window; want 1", len(rec.served))
	}
	for i, c := range rec.served {
		if !reflect.DeepEqual(c, rec.copies[i]) {
			t.Errorf("cached connector changed by minting:\n got %+v\nwant %+v", c, rec.copies[i])
		}
	}
}
