package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/store/storetest"
)

var (
	fsOnce    sync.Once
	fsClient  *firestore.Client
	fsErr     error
	fsCounter atomic.Int64
	fsRun     string // per test-binary prefix, so reruns against one emulator never collide
)

// emulatorClient returns a Firestore client for the emulator at FIRESTORE_EMULATOR_HOST, in
// a project of its own, or skips the test when no emulator is configured.
func emulatorClient(tb testing.TB) *firestore.Client {
	tb.Helper()
	if os.Getenv("FIRESTORE_EMULATOR_HOST") == "" {
		tb.Skip("FIRESTORE_EMULATOR_HOST is not set: the Firestore store tests need the official emulator " +
			"(scripts/test.sh starts it; scripts/lib.sh start_firestore shows how)")
	}
	fsOnce.Do(func() {
		var b [6]byte
		_, _ = rand.Read(b[:])
		fsRun = hex.EncodeToString(b[:])
		fsClient, fsErr = firestore.NewClient(context.Background(), "demo-gcpconn-"+fsRun)
	})
	if fsErr != nil {
		tb.Fatalf("firestore.NewClient = %v", fsErr)
	}
	return fsClient
}

// newFirestore returns a Firestore store in a collection no other test uses.
func newFirestore(tb testing.TB) *store.Firestore {
	c := emulatorClient(tb)
	return store.NewFirestore(c, fmt.Sprintf("connectors-%s-%d", fsRun, fsCounter.Add(1)))
}

func TestFirestore(t *testing.T) {
	emulatorClient(t) // skips here, once, without an emulator
	storetest.Run(t, func(t *testing.T) connector.Store { return newFirestore(t) })
}

func TestFirestoreOddNames(t *testing.T) {
	s := newFirestore(t)
	ctx := context.Background()
	for i, name := range []string{"a/b", "..", "__x__", "ünï", "with space"} {
		c := storetest.Sample(fmt.Sprint("odd-", i), name)
		if err := s.Create(ctx, c); err != nil {
			t.Fatalf("Create(name %q) = %v; want nil", name, err)
		}
		got, err := s.GetByName(ctx, name)
		if err != nil || got.ID != c.ID {
			t.Errorf("GetByName(%q) = %v, %v; want %s", name, got, err, c.ID)
		}
		if err := s.Create(ctx, storetest.Sample(fmt.Sprint("odd-again-", i), name)); connector.KindOf(err) != connector.ErrAlreadyExists {
			t.Errorf("second Create(name %q) = %v; want ErrAlreadyExists", name, err)
		}
	}
	for _, id := range []string{"a/b", "..", "__x__", ""} {
		if _, err := s.Get(ctx, id); connector.KindOf(err) != connector.ErrNotFound {
			t.Errorf("Get(%q) = %v; want ErrNotFound", id, err)
		}
	}
}
