package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
)

// TestSecretCreateTimesOneMetadataRead: the orphan search's listing of the connector secrets
// is one Secret Manager metadata read (a page of up to 25,000), not one per 250 secrets.
// Checked by breaking it: with pages of 250, 300 secrets take 2 reads.
func TestSecretCreateTimesOneMetadataRead(t *testing.T) {
	f := startSMFake(t)
	s := f.store(store.SecretManagerOptions{CacheTTL: -1})
	ctx := context.Background()
	for i := range 300 {
		if _, err := s.AddVersion(ctx, fmt.Sprint("c", i), connector.Secrets{ServiceAccountJSON: "{}"}); err != nil {
			t.Fatal(err)
		}
	}
	before := f.srv.Faults().Count("secretmanager.secrets.list")
	got, err := s.SecretCreateTimes(ctx)
	if err != nil || len(got) != 300 {
		t.Fatalf("SecretCreateTimes = %d secrets, %v; want 300", len(got), err)
	}
	if n := f.srv.Faults().Count("secretmanager.secrets.list") - before; n != 1 {
		t.Errorf("listing 300 connector secrets took %d metadata reads; want 1", n)
	}
}
