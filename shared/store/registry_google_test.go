package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
)

// TestConcurrentRegisterOverGoogleStores races 50 registrations of one name through the
// registry over the production adapters: Firestore (the emulator) and Secret Manager (the
// emulator/ fake through the real REST client). Exactly one wins, the others are
// already_exists, and no orphan secret is left, not even one waiting for sweep.
func TestConcurrentRegisterOverGoogleStores(t *testing.T) {
	fs := newFirestore(t) // skips without the emulator
	sm, check := startSMFake(t).pair(store.SecretManagerOptions{Topic: smTopic})
	svc := &connector.Service{Store: fs, Secrets: sm}
	ctx := context.Background()
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = svc.Register(ctx, connector.Principal{Email: "alice@example.com"}, rgLikeRequest("contended", fmt.Sprint("ya29.", i)))
		}()
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch connector.KindOf(err) {
		case "":
			wins++
		case connector.ErrAlreadyExists:
		default:
			t.Errorf("Register #%d = %v; want nil or already_exists", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent registrations of one name: %d succeeded; want exactly 1", n, wins)
	}
	c, err := fs.GetByName(ctx, "contended")
	if err != nil {
		t.Fatalf("GetByName(contended) = %v", err)
	}
	if _, err := check.Access(ctx, c.ID, c.SecretVersion); err != nil {
		t.Errorf("the winner pins secret version %q, which cannot be read: %v", c.SecretVersion, err)
	}
	ids, err := check.ListConnectorIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{c.ID}) {
		t.Errorf("connector secrets after the race = %q; want only the winner's [%s]", ids, c.ID)
	}
}
