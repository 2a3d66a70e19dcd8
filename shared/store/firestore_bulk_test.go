package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store/storetest"
)

// TestFirestoreCreateMany: connectors created in bulk read back as Create stores them (by id
// and by name, at revision 1), and a taken name is ErrAlreadyExists naming the connector.
func TestFirestoreCreateMany(t *testing.T) {
	s := newFirestore(t)
	ctx := context.Background()
	var cs []*connector.Connector
	for i := range 45 { // more than one BulkWriter request (20 writes each)
		cs = append(cs, storetest.Sample(fmt.Sprintf("bulk-%02d", i), fmt.Sprintf("bulk-name-%02d", i)))
	}
	if err := s.CreateMany(ctx, cs); err != nil {
		t.Fatalf("CreateMany = %v", err)
	}
	for _, want := range cs {
		got, err := s.GetByName(ctx, want.Name)
		if err != nil || got.ID != want.ID || got.Revision != 1 || want.Revision != 1 || got.SecretVersion != want.SecretVersion ||
			got.Config.ProjectID != want.Config.ProjectID || got.CreatedAt.IsZero() {
			t.Fatalf("GetByName(%s) = %+v, %v; want %+v at revision 1", want.Name, got, err, want)
		}
	}
	taken := storetest.Sample("bulk-other", cs[3].Name)
	if err := s.CreateMany(ctx, []*connector.Connector{taken}); connector.KindOf(err) != connector.ErrAlreadyExists {
		t.Errorf("CreateMany(a taken name) = %v; want ErrAlreadyExists", err)
	}
	if err := s.CreateMany(ctx, []*connector.Connector{storetest.Sample("", "no-id")}); connector.KindOf(err) != connector.ErrInvalid {
		t.Errorf("CreateMany(no id) = %v; want ErrInvalid", err)
	}
}

// TestFirestoreSetStatusConcurrent: of several status writes made at once from the same read,
// exactly one is stored; the others are conflicts (the write is conditioned on the document
// as read, without a transaction).
func TestFirestoreSetStatusConcurrent(t *testing.T) {
	s := newFirestore(t)
	ctx := context.Background()
	c := storetest.Sample("race-1", "race-one")
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			mine := *c
			st := c.Status
			st.Error = fmt.Sprintf("writer %d", i)
			errs <- s.SetStatus(ctx, &mine, st)
		}()
	}
	stored := 0
	for range writers {
		switch err := <-errs; {
		case err == nil:
			stored++
		case connector.KindOf(err) != connector.ErrConflict:
			t.Errorf("SetStatus = %v; want nil or ErrConflict", err)
		}
	}
	if stored != 1 {
		t.Errorf("%d of %d concurrent status writes from one read were stored; want exactly 1", stored, writers)
	}
}
