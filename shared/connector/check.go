package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// maxStatusRetries bounds the retries of a status or configuration write that loses a race.
const maxStatusRetries = 5

// AuthorizeOperator reports whether p may run operations on the whole deployment (sweep,
// refresh): only admins (Policy.Admins) may. An empty principal is ErrUnauthenticated, anyone
// else ErrPermission.
func (s *Service) AuthorizeOperator(p Principal) error {
	if err := authenticated(p); err != nil {
		return err
	}
	if s.isAdmin(p) {
		return nil
	}
	return Errorf(ErrPermission, "%s may not run deployment operations: only admins may", p)
}

// Check checks one connector as sweep does, within timeout, and stores its status. It
// returns the state stored, StateInconclusive when the check could not be made (its last
// verdict kept, the status saying why), or StateUnknown when nothing was stored (disabled, gone, or changed meanwhile). It reads the
// connector's secret version from the backend, never from a cache: a version disabled
// without an event makes it disable the connector (StateDisabled). c is the connector as the
// caller read it from the store: the status write is conditioned on c's revision and status
// without reading it again, and one that loses to a concurrent write reads it afresh.
func (s *Service) Check(ctx context.Context, c *Connector, timeout time.Duration) (State, error) {
	if c.Status.State == StateDisabled {
		return StateUnknown, nil
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := s.checkPinned(cctx, c)
	if errors.Is(err, errNeedsCallerToken) {
		return StateUnknown, nil // only a caller can verify it: skipped, its status kept
	}
	if errors.Is(err, errSecretUnusable) {
		// Disabled or destroyed behind gcpconn's back, without an event (or the event was
		// lost): stop minting from it, as refresh does on the event.
		reason := fmt.Sprintf("sweep found the pinned secret version %s of connector %q disabled or destroyed: update the connector with new credentials",
			c.SecretVersion, c.Name)
		if err := s.Disable(ctx, c, reason); err != nil {
			return StateUnknown, err
		}
		return StateDisabled, nil
	}
	inconclusive := ""
	if err != nil {
		if ctx.Err() != nil {
			return StateUnknown, ctx.Err()
		}
		inconclusive, st = sweepFailure(c, timeout, cctx.Err(), err)
	}
	checked := s.now()
	stored, err := s.updateStatusFrom(ctx, c.ID, c, func(cur *Connector) bool {
		if !sameCredentials(cur, c) {
			return false // re-configured while we checked: this result is stale
		}
		if cur.Status.State == StateDisabled {
			return false // a refresh disabled it meanwhile; that wins
		}
		if inconclusive != "" {
			// An outage is not a verdict: keep the last one, say why this check was not made.
			cur.Status.Inconclusive, cur.Status.InconclusiveAt = inconclusive, checked
			return true
		}
		st.CheckedAt, st.RotationDue = checked, cur.Status.RotationDue
		cur.Status = st.Keeping(cur.Status)
		return true
	})
	if err != nil || !stored {
		return StateUnknown, err
	}
	if inconclusive != "" {
		s.log().WarnContext(ctx, "sweep: check could not be made; the last verdict is kept",
			"connector_id", c.ID, "connector", c.Name, "reason", inconclusive)
		return StateInconclusive, nil
	}
	return st.State, nil
}

// StateInconclusive is Check's outcome for a check that could not be made; it is never
// stored as a State.
const StateInconclusive State = "inconclusive"

// sweepFailure sorts a check that returned err: Google or a store unavailable, throttling or
// too slow (checkErr is the check context's error) make it inconclusive, with the reason;
// anything else is a failed check, the status to record (StateError with the reason).
func sweepFailure(c *Connector, timeout time.Duration, checkErr, err error) (inconclusive string, st Status) {
	switch {
	case errors.Is(checkErr, context.DeadlineExceeded):
		return fmt.Sprintf("the check did not finish within %s", timeout), Status{}
	case KindOf(err) == ErrUpstreamUnavailable:
		return "the check could not be made: " + MessageOf(err), Status{}
	}
	return "", Status{State: StateError, Error: fmt.Sprintf("connector %q could not be checked: %s", c.Name, MessageOf(err))}
}

// checkPinned verifies the pinned credentials of c as sweep and refresh do, checking every
// resource type (a single-instance connector's own resource), and returns the status to
// record (statusOf: ok, partial or error with the failing types; CheckedAt left zero).
// The error is for what the check could not decide (the secret unreadable, a configuration
// the policy no longer allows, Google unavailable, ctx done).
func (s *Service) checkPinned(ctx context.Context, c *Connector) (Status, error) {
	g, err := s.usableGrant(ctx, c, readFresh)
	if err != nil {
		return Status{}, err
	}
	if needsCallerToken(g) && SubjectTokenFrom(ctx) == "" {
		return Status{}, errNeedsCallerToken
	}
	id := ""
	if len(c.ResourceTypes) == 1 {
		id = c.ResourceID
	}
	res, err := s.verify(ctx, g, "", id, true)
	if err != nil {
		return Status{}, err
	}
	return statusOf(res, time.Time{}), nil
}

// errNeedsCallerToken says a connector cannot be checked without a caller: its
// credentials authenticate only with a subject token that callers send with each request.
var errNeedsCallerToken = Errorf(ErrFailedPrecondition,
	"this external-account connector authenticates with a subject token that callers send; it can only be verified with one (subject_token)")

// sameCredentials reports whether a and b would be verified the same way: same auth method,
// configuration, secret version, resources and expiry.
func sameCredentials(a, b *Connector) bool {
	return a.AuthMethod == b.AuthMethod && a.SecretVersion == b.SecretVersion &&
		a.ResourceID == b.ResourceID && slices.Equal(a.ResourceTypes, b.ResourceTypes) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.Config.Equal(b.Config)
}

// updateConnector applies mutate to the stored connector id and writes it back with
// Store.Update (its configuration: a change of Status is not written, see updateStatus) if
// mutate reports a change, retrying on fresh data when a concurrent write wins. It returns
// whether a change was stored; a connector that is gone is (false, nil).
func (s *Service) updateConnector(ctx context.Context, id string, mutate func(c *Connector) bool) (bool, error) {
	return s.rewrite(ctx, id, nil, mutate, func(ctx context.Context, cur *Connector, _ Status) error {
		return s.Store.Update(ctx, cur)
	})
}

// updateStatus is updateConnector for status writes (sweep, refresh, verify): mutate may read
// the whole connector but changes only its Status, which is written with Store.SetStatus. The
// write is conditioned on the revision and the status mutate saw, so a result computed for
// credentials replaced meanwhile, or over a concurrent status write (a refresh disabling the
// connector), is decided again on fresh data; it does not change the revision, so it never
// makes a user's update conflict.
func (s *Service) updateStatus(ctx context.Context, id string, mutate func(c *Connector) bool) (bool, error) {
	return s.updateStatusFrom(ctx, id, nil, mutate)
}

// updateStatusFrom is updateStatus whose first attempt decides on first, the connector as
// the caller read it from the store (nil: read it now), instead of reading it again: the
// write is conditioned on first's revision and status as on any read, and one that loses
// reads afresh. Check passes the connector sweep has just read: one read less per connector.
func (s *Service) updateStatusFrom(ctx context.Context, id string, first *Connector, mutate func(c *Connector) bool) (bool, error) {
	return s.rewrite(ctx, id, first, mutate, func(ctx context.Context, cur *Connector, read Status) error {
		st := cur.Status
		cur.Status = read
		return s.Store.SetStatus(ctx, cur, st)
	})
}

// rewrite reads connector id (a copy of first, when given, for the first attempt), applies
// mutate and, if it reports a change, stores the result with write (given the status as
// read), retrying on fresh data when a concurrent write wins. A stored change drops the
// connector from this instance's cache.
func (s *Service) rewrite(ctx context.Context, id string, first *Connector, mutate func(c *Connector) bool,
	write func(ctx context.Context, cur *Connector, read Status) error) (bool, error) {
	for attempt := 0; ; attempt++ {
		cur, err := first.Clone(), error(nil)
		if attempt > 0 || cur == nil {
			cur, err = s.Store.Get(ctx, id)
		}
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("load connector %s: %w", id, err)
		}
		read := cur.Status
		if !mutate(cur) {
			return false, nil
		}
		err = write(ctx, cur, read)
		switch {
		case err == nil:
			s.conns.forget(id, cur.Name)
			return true, nil
		case errors.Is(err, ErrNotFound):
			return false, nil
		case errors.Is(err, ErrConflict) && attempt < maxStatusRetries:
			continue
		default:
			return false, fmt.Errorf("store connector %s: %w", id, err)
		}
	}
}

// Disable marks c disabled with reason (minting is refused) and drops its cached tokens,
// unless its pinned version changed meanwhile. Check and refresh call it.
func (s *Service) Disable(ctx context.Context, c *Connector, reason string) error {
	s.Forget(c.ID) // first: stop minting on this instance even if the write fails
	now := s.now()
	_, err := s.updateStatus(ctx, c.ID, func(cur *Connector) bool {
		if cur.SecretVersion != c.SecretVersion || (cur.Status.State == StateDisabled && cur.Status.Error == reason) {
			return false // re-pinned meanwhile, or already done
		}
		cur.Status = Status{State: StateDisabled, CheckedAt: now, Error: reason, RotationDue: cur.Status.RotationDue}.Keeping(cur.Status)
		return true
	})
	if err == nil {
		s.Forget(c.ID)
	}
	return err
}

// Reenable verifies the pinned version of the disabled connector c again after it was
// enabled, and stores the outcome; a version still unusable leaves c disabled.
func (s *Service) Reenable(ctx context.Context, c *Connector) error {
	st, err := s.checkPinned(ctx, c)
	if errors.Is(err, errSecretUnusable) {
		return nil // disabled again (or still): it stays disabled
	}
	if err != nil {
		if Retryable(err) != nil {
			return err
		}
		st = Status{State: StateError, Error: MessageOf(err)}
	}
	now := s.now()
	_, err = s.updateStatus(ctx, c.ID, func(cur *Connector) bool {
		if cur.SecretVersion != c.SecretVersion || cur.Status.State != StateDisabled {
			return false
		}
		st.CheckedAt, st.RotationDue = now, cur.Status.RotationDue
		cur.Status = st.Keeping(cur.Status)
		return true
	})
	return err
}
