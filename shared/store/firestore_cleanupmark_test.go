package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/store/storetest"
)

// TestFirestoreLegacyDocumentCleanedOnce: a connector document written before the cleanup
// mark existed has no cleanup_after field. One that pins a secret version reads as marked
// since its last update (so the next sweep lists its versions once); clearing the mark writes
// the field, after which it reads unmarked; one without a secret reads unmarked. Checked by
// breaking it: without legacyMark the first read has no mark.
func TestFirestoreLegacyDocumentCleanedOnce(t *testing.T) {
	client := emulatorClient(t)
	collection := fmt.Sprintf("connectors-%s-legacy-%d", fsRun, fsCounter.Add(1)) // a collection of its own per run (-count)
	s := store.NewFirestore(client, collection)
	ctx := context.Background()
	withSecret, noSecret := storetest.Sample("legacy-1", "legacy-one"), storetest.Sample("legacy-2", "legacy-two")
	noSecret.SecretVersion = ""
	for _, c := range []string{"legacy-1", "legacy-2"} {
		sample := withSecret
		if c == "legacy-2" {
			sample = noSecret
		}
		if err := s.Create(ctx, sample); err != nil {
			t.Fatal(err)
		}
		// As written before the mark existed: no cleanup_after field at all.
		if _, err := client.Collection(collection).Doc(c).Update(ctx, []firestore.Update{{Path: "cleanup_after", Value: firestore.Delete}}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Get(ctx, "legacy-1")
	if err != nil || c.CleanupAfter.IsZero() || !c.CleanupAfter.Equal(c.UpdatedAt) {
		t.Fatalf("Get(legacy document with a secret) = mark %v (updated %v), %v; want marked since its last update", c.CleanupAfter, c.UpdatedAt, err)
	}
	if c2, err := s.Get(ctx, "legacy-2"); err != nil || !c2.CleanupAfter.IsZero() {
		t.Errorf("Get(legacy document without a secret) = mark %v, %v; want none", c2.CleanupAfter, err)
	}
	rev := c.Revision
	if err := s.SetCleanupAfter(ctx, c, time.Time{}); err != nil {
		t.Fatalf("SetCleanupAfter(legacy document, zero) = %v", err)
	}
	after, err := s.Get(ctx, "legacy-1")
	if err != nil || !after.CleanupAfter.IsZero() || after.Revision != rev {
		t.Errorf("after the clear: mark %v, revision %d (was %d), %v; want no mark, the revision kept", after.CleanupAfter, after.Revision, rev, err)
	}
}
