package store

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// CreateMany stores many new connectors at once (an import, or the 10,000 connectors of a
// benchmark), through Firestore's BulkWriter: many writes per request and requests in
// parallel, instead of one transaction per connector as Create makes. Each connector and
// its name document are created at revision 1, each write failing if its document exists.
// Unlike Create, a connector's two documents are not written in one transaction: when a name
// is taken, its connector document may still be written (ErrAlreadyExists then names the
// connector, and the caller deletes it), so use it on names known to be free. The secrets
// must be stored first (c.SecretVersion). created_at and updated_at are server timestamps,
// not read back. It returns the errors of the writes that failed, joined.
func (f *Firestore) CreateMany(ctx context.Context, cs []*connector.Connector) error {
	for i, c := range cs {
		if c == nil || !validID(c.ID) || c.Name == "" {
			return connector.Errorf(connector.ErrInvalid, "store: create many: connector %d needs a valid id and a name", i)
		}
	}
	bw := f.client.BulkWriter(ctx)
	type job struct {
		c *connector.Connector
		w *firestore.BulkWriterJob
	}
	jobs := make([]job, 0, 2*len(cs))
	var errs []error
	for _, c := range cs {
		d := toDoc(c)
		d.Revision = 1
		for _, w := range []struct {
			ref  *firestore.DocumentRef
			data any
		}{{f.names.Doc(nameKey(c.Name)), fsName{ID: c.ID}}, {f.docs.Doc(c.ID), d.fields(nil)}} {
			j, err := bw.Create(w.ref, w.data)
			if err != nil {
				errs = append(errs, fsError("create connector "+c.ID, err))
				continue
			}
			jobs = append(jobs, job{c, j})
		}
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.w.Results(); err != nil {
			errs = append(errs, createManyError(j.c, err))
			continue
		}
		j.c.Revision = 1
	}
	return errors.Join(errs...)
}

// createManyError is the error of one failed write of CreateMany.
func createManyError(c *connector.Connector, err error) error {
	if status.Code(err) == codes.AlreadyExists {
		return &connector.Error{Kind: connector.ErrAlreadyExists, Field: "name", Err: err,
			Message: fmt.Sprintf("store: create many: connector %s (%q): its id or name is taken", c.ID, c.Name)}
	}
	return fsError("create connector "+c.ID, err)
}
