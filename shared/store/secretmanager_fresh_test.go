package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

const smAccess = "secretmanager.versions.access"

// 100 concurrent reads of a version not in memory make one Secret Manager call.
// The fake answers slowly, so every reader arrives while the first call is in flight.
func TestSecretManagerConcurrentColdAccessOneCall(t *testing.T) {
	f := startSMFake(t)
	ctx := context.Background()
	writer, _ := f.pair(store.SecretManagerOptions{})
	v, err := writer.AddVersion(ctx, "cold", connector.Secrets{Token: "ya29.cold"})
	if err != nil {
		t.Fatal(err)
	}
	sm := store.NewSecretManager(f.client, smProject, store.SecretManagerOptions{Prefix: writerPrefix(f)})
	f.srv.Faults().Set(smAccess, faults.Fault{Latency: 200 * time.Millisecond})
	defer f.srv.Faults().Set(smAccess, faults.Fault{})
	before := f.srv.Faults().Count(smAccess)
	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := sm.Access(ctx, "cold", v)
			if err == nil && s.Token != "ya29.cold" {
				err = errWrongToken
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Access #%d = %v", i, err)
		}
	}
	if got := f.srv.Faults().Count(smAccess) - before; got != 1 {
		t.Errorf("versions.access calls for %d concurrent cold reads = %d; want 1", n, got)
	}
}

var errWrongToken = connector.Errorf(connector.ErrInternal, "wrong token")

// writerPrefix is the prefix of the store f.pair (or f.store) made last.
func writerPrefix(f *smFake) string { return fmt.Sprintf("t%d-", f.prefix.Load()) }

// smOKGoogle accepts every credential: verification passes unless the secret cannot be read.
type smOKGoogle struct{}

func (smOKGoogle) Token(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error) {
	return connector.Token{Value: "ya29.minted", Expiry: time.Now().Add(time.Hour)}, nil
}

func (smOKGoogle) ListResources(_ context.Context, _ connector.Grant, _ connector.ResourceType, id string) ([]string, error) {
	if id != "" {
		return []string{id}, nil
	}
	return []string{"bucket-1"}, nil
}

func (smOKGoogle) Cluster(context.Context, connector.Grant, string) (connector.ClusterInfo, error) {
	return connector.ClusterInfo{}, connector.Errorf(connector.ErrUpstreamNotFound, "no clusters")
}

func (smOKGoogle) BucketProject(context.Context, connector.Grant, string) (bool, error) {
	return true, nil
}

func (smOKGoogle) RegistryHost(host string) string { return host }

// A version disabled in Secret Manager without an event (no topic, or a lost notification),
// while the instance still holds its values in memory, is caught by the next sweep: the
// connector is disabled and minting stops.
func TestSweepCatchesVersionDisabledWithoutEvent(t *testing.T) {
	f := startSMFake(t)
	ctx := context.Background()
	sm := f.store(store.SecretManagerOptions{}) // default 5-minute cache, no topic: no events
	svc := &connector.Service{Store: store.NewMemory(), Secrets: sm, Google: smOKGoogle{},
		Policy: connector.Policy{Admins: []string{"admin@example.com"}}, RevocationWindow: 30 * time.Second}
	alice := connector.Principal{Email: "alice@example.com"}
	c, _, err := svc.Register(ctx, alice, rgLikeRequest("orders", "ya29.stored"))
	if err != nil {
		t.Fatalf("Register = %v", err)
	}
	mint := func() error {
		_, err := svc.Mint(ctx, alice, connector.MintRequest{Ref: "orders", ResourceType: resourceid.GCSBucket, ResourceID: "gs://bucket-1"})
		return err
	}
	if err := mint(); err != nil {
		t.Fatalf("Mint = %v", err)
	}
	if rep, err := (&upkeep.Keeper{Service: svc}).Sweep(ctx, upkeep.SweepOptions{KeepOrphans: true}); err != nil || rep.OK != 1 {
		t.Fatalf("Sweep before the disable = %+v, %v; want 1 ok", rep, err)
	}
	// Disabled behind gcpconn's back: the values are still in this instance's memory.
	name := "projects/" + smProject + "/secrets/" + writerPrefix(f) + c.ID + "/versions/" + c.SecretVersion
	if _, err := f.client.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: name}); err != nil {
		t.Fatalf("DisableSecretVersion = %v", err)
	}
	if _, err := sm.Access(ctx, c.ID, c.SecretVersion); err != nil {
		t.Fatalf("cached Access right after the disable = %v; want the remembered values (else this test proves nothing)", err)
	}
	rep, err := (&upkeep.Keeper{Service: svc}).Sweep(ctx, upkeep.SweepOptions{KeepOrphans: true})
	if err != nil || rep.OK != 0 || rep.Failed != 1 {
		t.Errorf("Sweep after the disable = %+v, %v; want 0 ok, 1 failed", rep, err)
	}
	got, err := svc.Store.Get(ctx, c.ID)
	if err != nil || got.Status.State != connector.StateDisabled {
		t.Errorf("connector after sweep = %+v, %v; want disabled", got.Status, err)
	}
	if err := mint(); connector.KindOf(err) != connector.ErrFailedPrecondition {
		t.Errorf("Mint after sweep = %v; want ErrFailedPrecondition (disabled)", err)
	}
	if _, err := sm.Access(ctx, c.ID, c.SecretVersion); connector.KindOf(err) != connector.ErrFailedPrecondition {
		t.Errorf("Access after sweep = %v; want ErrFailedPrecondition (dropped from memory)", err)
	}
}

// Verify reads the secret version fresh too: a user verifying a connector whose version was
// disabled without an event is told so at once.
func TestVerifyReadsSecretFresh(t *testing.T) {
	f := startSMFake(t)
	ctx := context.Background()
	sm := f.store(store.SecretManagerOptions{})
	svc := &connector.Service{Store: store.NewMemory(), Secrets: sm, Google: smOKGoogle{}, RevocationWindow: 30 * time.Second}
	alice := connector.Principal{Email: "alice@example.com"}
	c, _, err := svc.Register(ctx, alice, rgLikeRequest("orders", "ya29.stored"))
	if err != nil {
		t.Fatalf("Register = %v", err)
	}
	if _, err := svc.Verify(ctx, alice, connector.VerifyRequest{Ref: "orders"}); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	name := "projects/" + smProject + "/secrets/" + writerPrefix(f) + c.ID + "/versions/" + c.SecretVersion
	if _, err := f.client.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: name}); err != nil {
		t.Fatalf("DisableSecretVersion = %v", err)
	}
	if _, err := svc.Verify(ctx, alice, connector.VerifyRequest{Ref: "orders"}); connector.KindOf(err) != connector.ErrFailedPrecondition {
		t.Errorf("Verify after the version was disabled = %v; want ErrFailedPrecondition", err)
	}
}
