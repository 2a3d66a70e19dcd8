package upkeep

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Key rotation. A connector that holds a service-account key may have gcpconn replace the
// key every rotation period: a new key through the IAM keys API → a new secret version →
// verified → pinned → the replaced key deleted after rotation.Grace, by sweep. Every step is
// recorded on the connector first (rotation.Pending, a write-ahead entry claimed with the
// store's revision precondition), so one claim yields one key; a failed step releases the
// entry at once (rotatefail.go), and whatever a crash leaves behind is released by the next
// rotate or by repairRotation, which sweep runs (rotaterun.go has the run).
//
// gcpconn deletes only keys it created: the write-ahead entry lists the account's keys before
// the IAM call (KnownKeys), records the new key's id as soon as the call returns, and a key
// that gcpconn did not create (the registered one, say) is never deleted, only its secret
// version. The one residual case: a create whose answer never arrived. Then the key is looked
// for as the account's key that is not in KnownKeys, that no connector records, and that was
// created while Google could still act on the call (from StartedAt to rotation.CreateKeyBudget plus
// lateCreate after it, keyClockSkew either side), once that window has closed; only a key
// someone else created by hand on the same account inside it could be taken for it. Google's
// keys carry no label that would let gcpconn mark its own.

// Rotation run bounds.
const (
	// RotationBudget bounds one rotation run; a pending entry older than this was abandoned
	// (a crash, a lost instance) and repairRotation undoes it.
	RotationBudget = 5 * time.Minute
	// MaxKeysPerAccount is Google's limit of user-managed keys per service account.
	MaxKeysPerAccount = 10
	// verifyBackoff is the first wait before a new key is verified again (doubling, at most
	// verifyAttempts tries within one pass): Google's new keys can take seconds to work.
	verifyBackoff  = time.Second
	verifyAttempts = 6
	// VerifyWindow is how long a stored new key may take to work (Google documents a minute
	// or more) before the rotation gives up and deletes it: the entry stays "verifying" and
	// later passes (rotate, refresh, sweep every 30 minutes) verify and pin it meanwhile.
	VerifyWindow = time.Hour
	// failureBudget bounds what a failed rotation does to release its entry and clean up,
	// on a context of its own (the request's may be done).
	failureBudget = 20 * time.Second
)

// rotationErrPrefix starts the status error that a failed rotation records.
const rotationErrPrefix = "key rotation failed: "

// Rotate replaces the key of connector ref now, for its owner or an admin (gcpconn rotate,
// POST /rotate). It reports whether a new key was pinned; false with no error means another
// rotation of the connector is in flight and will pin its key.
func (s *Keeper) Rotate(ctx context.Context, p connector.Principal, ref string) (*connector.Connector, bool, error) {
	c, err := s.Administered(ctx, p, ref)
	if err != nil {
		return nil, false, err
	}
	rotated, err := s.rotateKey(ctx, c.ID, true)
	if err != nil {
		return nil, false, err
	}
	c, err = s.Store.Get(ctx, c.ID)
	if err != nil {
		return nil, false, err
	}
	s.log().InfoContext(ctx, "connector key rotation requested", "connector_id", c.ID, "connector", c.Name,
		"principal", p.String(), "issuer", p.IssuerName(), "rotated", rotated)
	return c, rotated, nil
}

// rotationOverdue is how long past its due time sweep lets a rotation wait for its
// SECRET_ROTATE event before it rotates the key itself.
const rotationOverdue = time.Hour

// sweepKeys is sweep's part in key rotation for c, within o.Timeout: repairRotation, and a
// rotation that is overdue (its event lost, or a failed one) queued in t for rotateOverdue,
// which runs once the connectors are checked; otherwise the report of a key older than
// o.MaxKeyAge.
func (s *Keeper) sweepKeys(ctx context.Context, c *connector.Connector, o SweepOptions, t *sweepTally) {
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	n, err := s.repairRotation(cctx, c)
	t.note(func(r *SweepReport) { r.KeysDeleted += n })
	if err != nil {
		s.sweepFailed(ctx, c, "key rotation repair", err, t)
	}
	if next := c.Rotation.Due(); s.Keys != nil && !next.IsZero() && s.now().After(next.Add(rotationOverdue)) && c.Status.State != connector.StateDisabled {
		t.queueRotation(c, next)
		return
	}
	s.noteOldKey(ctx, c, o, t)
}

// sweepFailed logs and reports what sweep could not do for c.
func (s *Keeper) sweepFailed(ctx context.Context, c *connector.Connector, what string, err error, t *sweepTally) {
	s.log().ErrorContext(ctx, "sweep: "+what, "connector_id", c.ID, "error", err)
	t.noteErr("connector %s (%s): %s: %s", c.ID, c.Name, what, connector.MessageOf(err))
}

// noteOldKey reports c's key when it is older than o.MaxKeyAge.
func (s *Keeper) noteOldKey(ctx context.Context, c *connector.Connector, o SweepOptions, t *sweepTally) {
	age := s.now().Sub(c.Rotation.KeyCreatedAt)
	if o.MaxKeyAge <= 0 || c.Rotation.KeyCreatedAt.IsZero() || c.Rotation.KeyID == "" || age <= o.MaxKeyAge {
		return
	}
	msg := fmt.Sprintf("connector %q: key %s is %s old (more than %s)", c.Name, c.Rotation.KeyID, formatAge(age), formatAge(o.MaxKeyAge))
	s.log().WarnContext(ctx, "sweep: old service-account key", "event", EventOldKey, "connector_id", c.ID, "connector", c.Name, "key_id", c.Rotation.KeyID, "age_days", int(age.Hours()/24))
	t.note(func(r *SweepReport) {
		if len(r.OldKeys) < maxSweepErrors {
			r.OldKeys = append(r.OldKeys, msg)
		}
	})
}

// formatAge renders an age in whole days ("400d"), or hours below a day ("5h").
func formatAge(d time.Duration) string {
	if d >= 24*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return strconv.Itoa(int(d/time.Hour)) + "h"
}
