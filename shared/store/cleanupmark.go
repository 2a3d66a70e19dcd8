package store

import (
	"context"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// The cleanup mark (connector.Connector.CleanupAfter) is set by the writes that add a secret
// version (an update, a rotation, a refresh pinning one), each a configuration write. Sweep
// clears it with SetCleanupAfter, which, like SetStatus, writes that field alone and changes
// neither Revision nor UpdatedAt: background work never makes a user's update conflict.

// SetCleanupAfter replaces the cleanup mark of connector c.ID with next when its stored
// Revision and mark are c's; Revision, UpdatedAt and Status stay.
func (m *Memory) SetCleanupAfter(ctx context.Context, c *connector.Connector, next time.Time) error {
	return m.setField(ctx, c, markWrite(c, next))
}

// markWrite replaces the cleanup mark that c was read with by next.
func markWrite(c *connector.Connector, next time.Time) fieldWrite {
	return fieldWrite{
		what: "cleanup mark",
		same: func(stored *connector.Connector) bool { return stored.CleanupAfter.Equal(c.CleanupAfter) },
		set:  func(x *connector.Connector) { x.CleanupAfter = next },
	}
}

// SetCleanupAfter replaces the cleanup mark of connector c.ID with next when its stored
// revision and mark are c's: as SetStatus does, it reads the document and writes a field
// update of cleanup_after alone, conditioned on the document's update time as read, reading
// again when a write landed in between.
func (f *Firestore) SetCleanupAfter(ctx context.Context, c *connector.Connector, next time.Time) error {
	var v any // null: nothing to clean
	if !next.IsZero() {
		v = next.UTC()
	}
	// A document without the field reads as decode marks it.
	return f.setField(ctx, c, markWrite(c, next), "cleanup_after", v, decode)
}

// noMarkField is what decode presets fsConnector.CleanupAfter to: after DataTo it is still
// there only for a document without a cleanup_after field (null sets nil; a timestamp is
// written over it, and none is it: Firestore keeps microseconds, it has a nanosecond).
var noMarkField = time.Unix(1, 1).UTC()

// legacyMark is the cleanup mark of a document written before the mark existed (it has no
// cleanup_after field): the versions such a connector's updates left behind were never
// looked at, so one that pins a secret version reads as marked since its last update, and
// the next sweep lists its versions once; clearing the mark writes the field, so this
// happens once per connector. A connector without a secret has nothing to clean.
func legacyMark(d *fsConnector) *time.Time {
	if d.SecretVersion == "" {
		return nil
	}
	t := d.UpdatedAt
	if t.IsZero() {
		t = d.CreatedAt
	}
	return timePtr(t)
}
