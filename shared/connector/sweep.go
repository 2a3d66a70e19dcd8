package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Sweep defaults.
const (
	DefaultSweepConcurrency = 32
	MaxSweepConcurrency     = 256
	DefaultSweepTimeout     = 30 * time.Second
	maxStatusRetries        = 5
	maxSweepErrors          = 20
)

// SweepOptions tune Service.Sweep. The zero value is the default sweep.
type SweepOptions struct {
	// Concurrency is how many connectors are checked at once; 0 means
	// DefaultSweepConcurrency (GCPCONN_SWEEP_CONCURRENCY overrides it at the edge); values
	// above MaxSweepConcurrency are capped.
	Concurrency int
	// Timeout bounds the check of one connector; 0 means DefaultSweepTimeout. A connector that
	// has not answered in time keeps its last verdict and is marked inconclusive, the sweep goes on.
	Timeout time.Duration
	// KeepOrphans skips the removal of orphan secrets (secrets whose connector is gone).
	KeepOrphans bool
	// MaxKeyAge, when positive, makes the report list connectors whose service-account key
	// is older (GCPCONN_MAX_KEY_AGE at the edge).
	MaxKeyAge time.Duration
}

// SweepReport counts what a sweep did.
type SweepReport struct {
	Checked int // connectors checked (OK + Failed)
	OK      int // connectors whose check succeeded
	// Failed counts connectors whose check failed; their status says why. A connector whose
	// pinned secret version turned out disabled or destroyed is disabled, as refresh would.
	Failed int
	// Skipped counts connectors not checked or whose result was not stored: disabled ones
	// (only an update or a refresh re-enables them), ones deleted or re-configured while
	// they were checked.
	Skipped int
	// Inconclusive counts connectors whose check could not be made (Google or a store
	// unavailable, throttling, or too slow): their verdict is kept and their status says so.
	Inconclusive   int
	OrphansRemoved int // orphan secrets deleted
	// VersionsRemoved counts unpinned secret versions destroyed (see VersionGrace).
	VersionsRemoved int
	Duration        time.Duration // wall time of the sweep
	// Errors lists, at most 20, failures to check or to store a status (not failed checks).
	Errors []string
	// KeysRotated counts overdue key rotations sweep ran; KeysDeleted counts service-account
	// keys it deleted (replaced keys after their grace, keys of interrupted rotations).
	KeysRotated, KeysDeleted int
	// OldKeys lists, at most 20, connectors whose key is older than SweepOptions.MaxKeyAge.
	OldKeys []string
}

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

// Sweep re-verifies every connector, at most o.Concurrency at a time and each within
// o.Timeout, and stores the outcome in its Status (ok or error, checked_at, the reason).
// Status writes are optimistic: a write that loses to a concurrent one is retried on fresh
// data, and a result is dropped when the connector's credentials changed meanwhile, so two
// sweeps (or a sweep and an update) may run at once. They do not change the connector's
// revision, so a user's update never conflicts with them. It destroys each connector's unpinned
// secret versions older than VersionGrace, then removes orphan secrets.
// It returns an error only when connectors cannot be listed; per-connector failures are
// in the report.
func (s *Service) Sweep(ctx context.Context, o SweepOptions) (SweepReport, error) {
	start := time.Now()
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultSweepConcurrency
	}
	o.Concurrency = min(o.Concurrency, MaxSweepConcurrency)
	if o.Timeout <= 0 {
		o.Timeout = DefaultSweepTimeout
	}
	t := &sweepTally{}
	var wg sync.WaitGroup
	work := make(chan *Connector)
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				s.sweepConnector(ctx, c, o, t)
			}
		}()
	}
	listErr := s.feedSweep(ctx, work)
	close(work)
	wg.Wait()
	rep := &t.rep
	if n, err := s.sweepCleanups(ctx); n > 0 || err != nil {
		rep.KeysDeleted += n
		if err != nil {
			t.noteErr("keys of deleted connectors: %s", MessageOf(err))
			s.log().ErrorContext(ctx, "sweep: keys of deleted connectors", "error", err)
		}
	}
	if listErr == nil && !o.KeepOrphans {
		n, err := s.removeOrphans(ctx)
		rep.OrphansRemoved = n
		if err != nil {
			t.noteErr("orphan secrets: %s", MessageOf(err))
			s.log().ErrorContext(ctx, "sweep: remove orphan secrets", "error", err)
		}
	}
	rep.Duration = time.Since(start)
	s.logSweepRun(ctx, rep, listErr)
	return *rep, listErr
}

// sweepConnector is sweep's work on one connector: key rotation repair and overdue rotation,
// the check and its status, secret-version cleanup; the outcome is counted in t and returned
// (as sweepOne's).
func (s *Service) sweepConnector(ctx context.Context, c *Connector, o SweepOptions, t *sweepTally) (State, error) {
	s.sweepKeys(ctx, c, o, t.note)
	outcome, err := s.sweepOne(ctx, c, o.Timeout)
	if err != nil {
		s.log().ErrorContext(ctx, "sweep: connector not checked", "connector_id", c.ID, "error", err)
	}
	t.outcome(c, outcome, err)
	s.logSweepResult(ctx, c, outcome, err)
	s.sweepVersions(ctx, c, o.Timeout, t)
	return outcome, err
}

// feedSweep sends every stored connector to work, page by page, until ctx is done. The error
// is for connectors that could not be listed, or ctx done.
func (s *Service) feedSweep(ctx context.Context, work chan<- *Connector) error {
	token := ""
	for {
		cs, next, err := s.Store.List(ctx, Filter{}, Page{Size: MaxPageSize, Token: token})
		if err != nil {
			return fmt.Errorf("sweep: list connectors: %w", err)
		}
		for _, c := range cs {
			select {
			case work <- c:
			case <-ctx.Done():
				return fmt.Errorf("sweep: %w", ctx.Err())
			}
		}
		if next == "" {
			if ctx.Err() != nil {
				return fmt.Errorf("sweep: %w", ctx.Err())
			}
			return nil
		}
		token = next
	}
}

// sweepTally is a sweep's report, written by its workers.
type sweepTally struct {
	mu  sync.Mutex
	rep SweepReport
}

func (t *sweepTally) note(f func(r *SweepReport)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(&t.rep)
}

func (t *sweepTally) noteErr(format string, args ...any) {
	t.note(func(r *SweepReport) {
		if len(r.Errors) < maxSweepErrors {
			r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
		}
	})
}

// outcome counts what sweepOne returned for c.
func (t *sweepTally) outcome(c *Connector, outcome State, err error) {
	switch {
	case err != nil:
		t.noteErr("connector %s (%s): %s", c.ID, c.Name, MessageOf(err))
		t.note(func(r *SweepReport) { r.Skipped++ })
	case outcome == StateOK:
		t.note(func(r *SweepReport) { r.Checked++; r.OK++ })
	case outcome == StateError, outcome == StatePartial, outcome == StateDisabled:
		t.note(func(r *SweepReport) { r.Checked++; r.Failed++ })
	case outcome == stateInconclusive:
		t.note(func(r *SweepReport) { r.Inconclusive++ })
	default:
		t.note(func(r *SweepReport) { r.Skipped++ })
	}
}

// sweepVersions repairs c's secret at rest (repairVersions) within timeout and notes the
// outcome in the report.
func (s *Service) sweepVersions(ctx context.Context, c *Connector, timeout time.Duration, t *sweepTally) {
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n, err := s.repairVersions(vctx, c)
	t.note(func(r *SweepReport) { r.VersionsRemoved += n })
	if err != nil {
		t.noteErr("connector %s (%s): secret versions: %s", c.ID, c.Name, MessageOf(err))
	}
}

// sweepOne checks one connector and stores its status. It returns the state stored, or
// StateUnknown when nothing was stored (disabled, gone, or changed meanwhile). It reads the
// connector's secret version from the backend, never from a cache: a version disabled
// without an event makes it disable the connector (StateDisabled).
func (s *Service) sweepOne(ctx context.Context, c *Connector, timeout time.Duration) (State, error) {
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
		if err := s.disable(ctx, c, reason); err != nil {
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
	stored, err := s.updateStatus(ctx, c.ID, func(cur *Connector) bool {
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
		cur.Status = st.keeping(cur.Status)
		return true
	})
	if err != nil || !stored {
		return StateUnknown, err
	}
	if inconclusive != "" {
		s.log().WarnContext(ctx, "sweep: check could not be made; the last verdict is kept",
			"connector_id", c.ID, "connector", c.Name, "reason", inconclusive)
		return stateInconclusive, nil
	}
	return st.State, nil
}

// stateInconclusive is sweepOne's outcome for a check that could not be made; it is never
// stored as a State.
const stateInconclusive State = "inconclusive"

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
// record (StatusOf: ok, partial or error with the failing types; CheckedAt left zero).
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
	return StatusOf(res, time.Time{}), nil
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
	return s.rewrite(ctx, id, mutate, func(ctx context.Context, cur *Connector, _ Status) error {
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
	return s.rewrite(ctx, id, mutate, func(ctx context.Context, cur *Connector, read Status) error {
		st := cur.Status
		cur.Status = read
		return s.Store.SetStatus(ctx, cur, st)
	})
}

// rewrite reads connector id, applies mutate and, if it reports a change, stores the result
// with write (given the status as read), retrying on fresh data when a concurrent write wins.
// A stored change drops the connector from this instance's cache.
func (s *Service) rewrite(ctx context.Context, id string, mutate func(c *Connector) bool,
	write func(ctx context.Context, cur *Connector, read Status) error) (bool, error) {
	for attempt := 0; ; attempt++ {
		cur, err := s.Store.Get(ctx, id)
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

// removeOrphans deletes the secrets that Orphans reports (secrets whose connector is gone,
// older than OrphanGrace) and returns how many it deleted.
func (s *Service) removeOrphans(ctx context.Context) (int, error) {
	ids, err := s.Orphans(ctx)
	if err != nil {
		return 0, fmt.Errorf("list orphan secrets: %w", err)
	}
	n := 0
	var errs []error
	for _, id := range ids {
		if err := s.Secrets.Delete(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("delete orphan secret of %s: %w", id, err))
			continue
		}
		n++
		s.log().InfoContext(ctx, "sweep: removed orphan secret", "connector_id", id)
	}
	return n, errors.Join(errs...)
}
