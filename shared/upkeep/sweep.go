package upkeep

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Sweep defaults.
const (
	DefaultSweepConcurrency = 32
	MaxSweepConcurrency     = 256
	DefaultSweepTimeout     = 30 * time.Second
	maxSweepErrors          = 20
)

// SweepOptions tune Keeper.Sweep (and the workers of a run). The zero value is the default sweep.
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
	// MaxRotations caps the overdue key rotations one shard (or one-request sweep) starts,
	// the most overdue first; the rest are deferred to the next run (see overdue.go). 0 means
	// DefaultMaxRotations (GCPCONN_SWEEP_MAX_ROTATIONS at the edge); negative starts none.
	MaxRotations int
}

// withDefaults fills in the defaults of o's zero fields and caps its concurrency.
func (o SweepOptions) withDefaults() SweepOptions {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultSweepConcurrency
	}
	o.Concurrency = min(o.Concurrency, MaxSweepConcurrency)
	if o.Timeout <= 0 {
		o.Timeout = DefaultSweepTimeout
	}
	if o.MaxRotations == 0 {
		o.MaxRotations = DefaultMaxRotations
	}
	return o
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
	// RotationsDeferred counts overdue key rotations left to the next run by
	// SweepOptions.MaxRotations.
	RotationsDeferred int
	// OldKeys lists, at most 20, connectors whose key is older than SweepOptions.MaxKeyAge.
	OldKeys []string
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
func (s *Keeper) Sweep(ctx context.Context, o SweepOptions) (SweepReport, error) {
	start := time.Now()
	o = o.withDefaults()
	t := &sweepTally{}
	var wg sync.WaitGroup
	work := make(chan *connector.Connector)
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
	s.rotateOverdue(ctx, t, o)
	rep := &t.rep
	if n, err := s.sweepCleanups(ctx); n > 0 || err != nil {
		rep.KeysDeleted += n
		if err != nil {
			t.noteErr("keys of deleted connectors: %s", connector.MessageOf(err))
			s.log().ErrorContext(ctx, "sweep: keys of deleted connectors", "error", err)
		}
	}
	if listErr == nil && !o.KeepOrphans {
		n, err := s.removeOrphans(ctx, nil)
		rep.OrphansRemoved = n
		if err != nil {
			t.noteErr("orphan secrets: %s", connector.MessageOf(err))
			s.log().ErrorContext(ctx, "sweep: remove orphan secrets", "error", err)
		}
	}
	rep.Duration = time.Since(start)
	s.logSweepRun(ctx, rep, listErr)
	return *rep, listErr
}

// sweepConnector is sweep's work on one connector: key rotation repair and overdue rotation,
// the check and its status, secret-version cleanup; the outcome is counted in t and returned
// (as Check's).
func (s *Keeper) sweepConnector(ctx context.Context, c *connector.Connector, o SweepOptions, t *sweepTally) (connector.State, error) {
	s.sweepKeys(ctx, c, o, t)
	outcome, err := s.Check(ctx, c, o.Timeout)
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
func (s *Keeper) feedSweep(ctx context.Context, work chan<- *connector.Connector) error {
	token := ""
	for {
		cs, next, err := s.Store.List(ctx, connector.Filter{}, connector.Page{Size: connector.MaxPageSize, Token: token})
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
	mu      sync.Mutex
	rep     SweepReport
	overdue []overdueKey // rotations sweepKeys found overdue, for rotateOverdue
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

// outcome counts what Check returned for c.
func (t *sweepTally) outcome(c *connector.Connector, outcome connector.State, err error) {
	switch {
	case err != nil:
		t.noteErr("connector %s (%s): %s", c.ID, c.Name, connector.MessageOf(err))
		t.note(func(r *SweepReport) { r.Skipped++ })
	case outcome == connector.StateOK:
		t.note(func(r *SweepReport) { r.Checked++; r.OK++ })
	case outcome == connector.StateError, outcome == connector.StatePartial, outcome == connector.StateDisabled:
		t.note(func(r *SweepReport) { r.Checked++; r.Failed++ })
	case outcome == connector.StateInconclusive:
		t.note(func(r *SweepReport) { r.Inconclusive++ })
	default:
		t.note(func(r *SweepReport) { r.Skipped++ })
	}
}

// sweepVersions repairs c's secret at rest (repairVersions) within timeout and notes the
// outcome in the report.
func (s *Keeper) sweepVersions(ctx context.Context, c *connector.Connector, timeout time.Duration, t *sweepTally) {
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n, err := s.repairVersions(vctx, c)
	t.note(func(r *SweepReport) { r.VersionsRemoved += n })
	if err != nil {
		t.noteErr("connector %s (%s): secret versions: %s", c.ID, c.Name, connector.MessageOf(err))
	}
}

// removeOrphans deletes the secrets that Orphans reports (secrets whose connector is gone,
// older than OrphanGrace; listed as orphans takes it) and returns how many it deleted.
func (s *Keeper) removeOrphans(ctx context.Context, listed map[string]bool) (int, error) {
	ids, err := s.orphans(ctx, listed)
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
