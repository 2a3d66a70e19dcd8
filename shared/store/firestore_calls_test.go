package store_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/internal/grpccount"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/store/storetest"
)

// countedFirestore returns a Firestore store (in a collection of its own) whose client
// counts its RPCs.
func countedFirestore(t *testing.T) (*store.Firestore, *grpccount.Counter) {
	t.Helper()
	emulatorClient(t) // skips without an emulator
	cnt := &grpccount.Counter{}
	conn, err := store.DialFirestoreEmulator(os.Getenv("FIRESTORE_EMULATOR_HOST"), cnt.DialOptions()...)
	if err != nil {
		t.Fatalf("DialFirestoreEmulator = %v", err)
	}
	client, err := firestore.NewClient(context.Background(), "demo-gcpconn-"+fsRun, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatalf("firestore.NewClient = %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return store.NewFirestore(client, fmt.Sprintf("connectors-%s-%d", fsRun, fsCounter.Add(1))), cnt
}

// total sums counts.
func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// A lookup is one round trip: by id a document read, by name one query (never the name
// document and then the connector), also when nothing has the name.
func TestFirestoreLookupsAreOneRoundTrip(t *testing.T) {
	s, cnt := countedFirestore(t)
	ctx := context.Background()
	c := storetest.Sample("id-1", "alpha")
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"Get(id)", func() error { _, err := s.Get(ctx, "id-1"); return err }},
		{"GetByName(name)", func() error { _, err := s.GetByName(ctx, "alpha"); return err }},
		{"GetByName(missing)", func() error {
			if _, err := s.GetByName(ctx, "missing"); connector.KindOf(err) != connector.ErrNotFound {
				return fmt.Errorf("got %v; want ErrNotFound", err)
			}
			return nil
		}},
	} {
		cnt.Take()
		if err := tt.call(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if got := cnt.Take(); total(got) != 1 {
			t.Errorf("%s made %v RPCs; want exactly one", tt.name, got)
		}
	}
}

// List stays a query: 1,000 connectors in pages of 100 are ten round trips, one per page.
func TestFirestoreListOneRoundTripPerPage(t *testing.T) {
	s, cnt := countedFirestore(t)
	populate(t, s, 1000)
	ctx := context.Background()
	for _, f := range []connector.Filter{{}, {ResourceType: resourceid.DockerRegistry}} {
		cnt.Take()
		pages, n, tok := 0, 0, ""
		for {
			cs, next, err := s.List(ctx, f, connector.Page{Size: 100, Token: tok})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			n += len(cs)
			if next == "" {
				break
			}
			tok = next
		}
		if f.ResourceType == "" && n != 1000 {
			t.Errorf("List() returned %d connectors; want 1000", n)
		}
		if got := cnt.Take(); total(got) != int64(pages) {
			t.Errorf("List(%+v): %d pages took %v RPCs; want one per page", f, pages, got)
		}
	}
}

// On Firestore, warm mints of one connector read it once per revocation window per instance:
// one query by name, nothing more until the window ends.
func TestFirestoreMintReadsOncePerWindow(t *testing.T) {
	s, cnt := countedFirestore(t)
	ctx := context.Background()
	now := time.Now()
	svc := &connector.Service{Store: s, Secrets: store.NewMemorySecrets(), Google: smOKGoogle{}, Now: func() time.Time { return now },
		RevocationWindow: 30 * time.Second}
	alice := connector.Principal{Email: "alice@example.com"}
	if _, _, err := svc.Register(ctx, alice, rgLikeRequest("orders", "ya29.stored")); err != nil {
		t.Fatalf("Register = %v", err)
	}
	mint := func() {
		t.Helper()
		_, err := svc.Mint(ctx, alice, connector.MintRequest{Ref: "orders", ResourceType: resourceid.GCSBucket, ResourceID: "gs://bucket-1"})
		if err != nil {
			t.Fatalf("Mint = %v", err)
		}
	}
	cnt.Take()
	for range 100 {
		mint()
	}
	if got := cnt.Take(); total(got) != 1 || got["RunQuery"] != 1 {
		t.Errorf("100 mints by name within one window made %v RPCs; want one RunQuery", got)
	}
	now = now.Add(30 * time.Second)
	for range 100 {
		mint()
	}
	if got := cnt.Take(); total(got) != 1 {
		t.Errorf("100 mints in the next window made %v RPCs; want one", got)
	}
}
