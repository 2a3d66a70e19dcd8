package upkeep

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// finishTimeout bounds the writes a sweep makes after its deadline has passed (the shard's
// record, the run's): the request's deadline keeps a margin for them.
const finishTimeout = 10 * time.Second

// StartSweep plans a sweep run: it records the run, pages through every connector id with a
// cursor, publishes them in shards of shardSize (DefaultShardSize for 0, at most
// MaxShardSize) through s.Shards, DefaultPublishConcurrency at once, deletes the due keys of deleted connectors (KeyCleanup records),
// removes orphan secrets (unless o.KeepOrphans), records how
// many shards it published, and returns the run as it stands then. The shards' work is done
// by SweepShard, wherever the publisher delivers them. A planning failure part-way is
// recorded in the run (PlanError) and returned; what was published still runs, and the run
// counts exactly the shards whose publish succeeded.
func (s *Keeper) StartSweep(ctx context.Context, o SweepOptions, shardSize int) (SweepRunView, error) {
	if s.Runs == nil || s.Shards == nil {
		return SweepRunView{}, connector.Errorf(connector.ErrFailedPrecondition, "this deployment has no sweep runs or shard publisher configured")
	}
	if shardSize <= 0 {
		shardSize = DefaultShardSize
	}
	shardSize = min(shardSize, MaxShardSize)
	run := SweepRun{ID: newRunID(s.now()), StartedAt: s.now()}
	if err := s.Runs.CreateRun(ctx, run); err != nil {
		return SweepRunView{}, fmt.Errorf("sweep: record the run: %w", err)
	}
	var listed map[string]bool // every id planned, for the orphan search
	if !o.KeepOrphans {
		listed = map[string]bool{}
	}
	began := time.Now()
	shards, n, planErr := s.planShards(ctx, run.ID, o, shardSize, listed)
	published := time.Since(began)
	run.PlannedAt, run.Shards, run.Connectors = s.now(), shards, n
	// Keys gcpconn created for deleted connectors (KeyCleanup records): their records are not
	// connectors, so no shard sees them.
	if deleted, err := s.sweepCleanups(ctx); err != nil {
		s.log().ErrorContext(ctx, "sweep: keys of deleted connectors", "run", run.ID, "keys_deleted", deleted, "error", err)
	} else if deleted > 0 {
		s.log().InfoContext(ctx, "sweep: deleted keys of deleted connectors", "run", run.ID, "keys_deleted", deleted)
	}
	if planErr != nil {
		run.PlanError = connector.MessageOf(planErr)
		s.log().ErrorContext(ctx, "sweep: planning stopped early", "run", run.ID, "shards", shards, "error", planErr)
	} else if !o.KeepOrphans {
		removed, err := s.removeOrphans(ctx, listed)
		run.OrphansRemoved = removed
		if err != nil {
			s.log().ErrorContext(ctx, "sweep: remove orphan secrets", "run", run.ID, "error", err)
		}
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := s.Runs.UpdateRun(fctx, run); err != nil {
		return SweepRunView{}, fmt.Errorf("sweep: record the run's plan: %w", err)
	}
	s.log().InfoContext(ctx, "sweep planned", "run", run.ID, "shards", shards, "connectors", n,
		"publish_ms", published.Milliseconds(), "duration_ms", time.Since(began).Milliseconds())
	v, err := s.SweepRunStatus(fctx, run.ID)
	if err != nil {
		return SweepRunView{}, err
	}
	if planErr != nil || v.State == "done" { // failed planning, or nothing to do: the run ends here
		s.logSweepRun(ctx, &v.Report, planErr)
	}
	return v, planErr
}

// logRunIfDone writes the sweep_run event of run when its last shard has just finished: the
// shards' reports summed, failed when a shard failed for good or planning stopped early. Two
// shards finishing at the same moment may both write it; the alerts on sweep_run count runs
// that failed and notice runs that are missing, which a duplicate changes neither.
func (s *Keeper) logRunIfDone(ctx context.Context, run string) {
	v, err := s.SweepRunStatus(ctx, run)
	if err != nil || v.State != "done" {
		return
	}
	var failed error
	switch {
	case v.Run.PlanError != "":
		failed = fmt.Errorf("planning stopped early: %s", v.Run.PlanError)
	case v.ShardsFailed > 0:
		failed = fmt.Errorf("%d of %d shards failed", v.ShardsFailed, v.Run.Shards)
	}
	s.logSweepRun(ctx, &v.Report, failed)
}

// planShards publishes every connector id in shards of size (and adds it to listed when not
// nil), at most DefaultPublishConcurrency shards at once, and returns how many shards and ids were published: a shard counts once
// its publish has succeeded. The first failed publish stops planning: no further shard is
// started, those in flight finish (and count if they succeed), and the error is returned.
func (s *Keeper) planShards(ctx context.Context, run string, o SweepOptions, size int, listed map[string]bool) (shards, n int, err error) {
	p := newShardPublishing(ctx, s.Shards)
	sh := SweepShard{Run: run, Concurrency: o.Concurrency, TimeoutSeconds: int(o.Timeout / time.Second), MaxRotations: o.MaxRotations}
	publish := func() error {
		if len(sh.IDs) == 0 {
			return nil
		}
		next := sh
		sh.Index, sh.IDs = sh.Index+1, nil
		return p.publish(next)
	}
	err = s.eachID(ctx, func(id string) error {
		if listed != nil {
			listed[id] = true
		}
		sh.IDs = append(sh.IDs, id)
		if len(sh.IDs) < size {
			return nil
		}
		return publish()
	})
	if err == nil {
		err = publish()
	}
	shards, n, failed := p.wait()
	if failed != nil {
		return shards, n, failed
	}
	return shards, n, err
}

// DefaultPublishConcurrency is how many shards the planner publishes at once: a publish
// waits for Pub/Sub to accept the message (a round trip and the client's batching delay),
// so one after another, planning 100,000 connectors would take minutes.
const DefaultPublishConcurrency = 16

// PublishConcurrency is implemented by shard publishers that take fewer shards at once than
// DefaultPublishConcurrency: LocalShards, which runs each shard as it is published, takes one.
type PublishConcurrency interface {
	PublishConcurrency() int
}

// shardPublishing publishes the shards of one run, a bounded number at once, and counts
// those published.
type shardPublishing struct {
	ctx   context.Context
	pub   ShardPublisher
	slots chan struct{}
	wg    sync.WaitGroup

	mu          sync.Mutex
	shards, ids int   // published
	failed      error // the first failed publish
}

func newShardPublishing(ctx context.Context, pub ShardPublisher) *shardPublishing {
	limit := DefaultPublishConcurrency
	if pc, ok := pub.(PublishConcurrency); ok {
		limit = max(1, pc.PublishConcurrency())
	}
	return &shardPublishing{ctx: ctx, pub: pub, slots: make(chan struct{}, limit)}
}

// errPlanningStopped stops the listing of ids once a publish has failed.
var errPlanningStopped = errors.New("sweep: planning stopped")

// publish starts publishing sh once fewer than the limit are in flight. It fails, starting
// nothing, once a publish has failed or ctx is done.
func (p *shardPublishing) publish(sh SweepShard) error {
	select {
	case p.slots <- struct{}{}:
	case <-p.ctx.Done():
		return fmt.Errorf("sweep: %w", p.ctx.Err())
	}
	p.mu.Lock()
	failed := p.failed
	p.mu.Unlock()
	if failed != nil {
		<-p.slots
		return errPlanningStopped
	}
	p.wg.Go(func() {
		defer func() { <-p.slots }()
		err := p.pub.PublishShard(p.ctx, sh)
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case err == nil:
			p.shards, p.ids = p.shards+1, p.ids+len(sh.IDs)
		case p.failed == nil:
			p.failed = fmt.Errorf("sweep: publish shard %d: %w", sh.Index, err)
		}
	})
	return nil
}

// wait waits for the publishes in flight and returns what was published, and the first
// failed publish.
func (p *shardPublishing) wait() (shards, ids int, failed error) {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shards, p.ids, p.failed
}

// eachID calls f with every connector id, page by page (ConnectorIDs when the store has it).
func (s *Keeper) eachID(ctx context.Context, f func(id string) error) error {
	if ids, ok := s.Store.(ConnectorIDs); ok {
		after := ""
		for {
			page, err := ids.ListIDs(ctx, after, connector.MaxPageSize)
			if err != nil {
				return fmt.Errorf("sweep: list connector ids: %w", err)
			}
			for _, id := range page {
				if err := f(id); err != nil {
					return err
				}
			}
			if len(page) < connector.MaxPageSize {
				return nil
			}
			after = page[len(page)-1]
		}
	}
	token := ""
	for {
		cs, next, err := s.Store.List(ctx, connector.Filter{}, connector.Page{Size: connector.MaxPageSize, Token: token})
		if err != nil {
			return fmt.Errorf("sweep: list connectors: %w", err)
		}
		for _, c := range cs {
			if err := f(c.ID); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// SweepShard does a sweep's work on the connectors of one shard, each exactly as Sweep does
// (key repair and overdue rotation, the check and its status, secret-version cleanup), at
// most o.Concurrency at a time, and records the shard's outcome in its run. Delivery may be
// at least once: a shard already finished is not done again, and every write it makes is
// conditioned on the revision it read, so a shard run twice changes nothing twice.
//
// It returns an error, so that the shard is delivered again, when the shard could not be
// finished (the store unreachable, ctx done before every connector was seen); at the
// MaxShardAttempts-th attempt it records the shard as failed, with the reason, and still
// returns the error (deployed, the message then goes to the dead-letter topic).
func (s *Keeper) SweepShard(ctx context.Context, sh SweepShard, o SweepOptions) (ShardRecord, error) {
	if err := sh.Check(); err != nil {
		return ShardRecord{}, err
	}
	if s.Runs == nil {
		return ShardRecord{}, connector.Errorf(connector.ErrFailedPrecondition, "this deployment keeps no sweep runs")
	}
	rec, err := s.Runs.BeginShard(ctx, sh.Run, sh.Index, s.now())
	if err != nil {
		return rec, fmt.Errorf("sweep shard %s/%d: %w", sh.Run, sh.Index, err)
	}
	if rec.Finished() {
		s.log().InfoContext(ctx, "sweep shard already finished; delivered again", "run", sh.Run, "shard", sh.Index, "state", rec.State)
		return rec, nil
	}
	start := time.Now()
	rep, unchecked, workErr := s.sweepIDs(ctx, sh.IDs, shardOptions(o, sh))
	rep.Duration = time.Since(start)
	rec.Report, rec.Unchecked, rec.UpdatedAt = rep, unchecked, s.now()
	switch {
	case workErr == nil:
		rec.State = ShardDone
	case rec.Attempts < MaxShardAttempts:
		return rec, fmt.Errorf("sweep shard %s/%d, attempt %d: %w", sh.Run, sh.Index, rec.Attempts, workErr)
	default:
		rec.State, rec.Error = ShardFailed, fmt.Sprintf("failed %d times, last: %s", rec.Attempts, connector.MessageOf(workErr))
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	stored, err := s.Runs.FinishShard(fctx, rec)
	if err != nil {
		return rec, fmt.Errorf("sweep shard %s/%d: record: %w", sh.Run, sh.Index, err)
	}
	if stored {
		s.logRunIfDone(fctx, sh.Run)
	}
	s.log().InfoContext(ctx, "sweep shard finished", "run", sh.Run, "shard", sh.Index, "state", rec.State,
		"attempts", rec.Attempts, "checked", rep.Checked, "unchecked", len(unchecked), "duration_ms", rep.Duration.Milliseconds())
	if workErr != nil {
		return rec, fmt.Errorf("sweep shard %s/%d failed for good: %w", sh.Run, sh.Index, workErr)
	}
	return rec, nil
}

// shardOptions is the worker's o with what the run asked for.
func shardOptions(o SweepOptions, sh SweepShard) SweepOptions {
	if sh.Concurrency > 0 {
		o.Concurrency = sh.Concurrency
	}
	if sh.TimeoutSeconds > 0 {
		o.Timeout = time.Duration(sh.TimeoutSeconds) * time.Second
	}
	if sh.MaxRotations != 0 {
		o.MaxRotations = sh.MaxRotations
	}
	return o.withDefaults()
}

// sweepIDs runs sweepConnector on each connector of ids, at most o.Concurrency at a time.
// The error is for what keeps the shard from finishing: a connector that could not be read,
// or ctx done before every connector was seen.
func (s *Keeper) sweepIDs(ctx context.Context, ids []string, o SweepOptions) (SweepReport, []Unchecked, error) {
	t := &sweepTally{}
	var (
		mu        sync.Mutex
		unchecked []Unchecked
		errs      []error
		wg        sync.WaitGroup
	)
	note := func(u Unchecked, err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(unchecked) < maxUnchecked {
			unchecked = append(unchecked, u)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	work := make(chan string)
	polite := &backoff{}
	for range min(o.Concurrency, len(ids)) {
		wg.Go(func() {
			for id := range work {
				polite.wait(ctx)
				polite.after(s.sweepID(ctx, id, o, t, note))
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	s.rotateOverdue(ctx, t, o)
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return t.rep, unchecked, errors.Join(errs...)
}

// sweepID reads connector id afresh and sweeps it, noting it when it could not be checked
// (with an error when the shard should be tried again). It returns the outcome (as
// Check's; StateUnknown when the connector was not checked).
func (s *Keeper) sweepID(ctx context.Context, id string, o SweepOptions, t *sweepTally, note func(Unchecked, error)) connector.State {
	if ctx.Err() != nil {
		note(Unchecked{ID: id, Reason: "the shard ran out of time before this connector"}, nil)
		return connector.StateUnknown
	}
	c, err := s.Store.Get(ctx, id)
	switch {
	case errors.Is(err, connector.ErrNotFound):
		t.note(func(r *SweepReport) { r.Skipped++ }) // deleted since the run was planned
		return connector.StateUnknown
	case err != nil:
		note(Unchecked{ID: id, Reason: "could not be read: " + connector.MessageOf(err)}, fmt.Errorf("connector %s: %w", id, err))
		return connector.StateUnknown
	}
	outcome, err := s.sweepConnector(ctx, c, o, t)
	switch {
	case err != nil && ctx.Err() != nil:
		note(Unchecked{ID: id, Name: c.Name, Reason: "the shard ran out of time while checking it"}, nil)
	case err != nil:
		note(Unchecked{ID: id, Name: c.Name, Reason: connector.MessageOf(err)}, nil)
	case outcome == connector.StateInconclusive:
		reason := "the check could not be made; its last verdict is kept"
		if cur, err := s.Store.Get(ctx, id); err == nil && cur.Status.Inconclusive != "" {
			reason = cur.Status.Inconclusive
		}
		note(Unchecked{ID: id, Name: c.Name, Reason: reason}, nil)
	}
	return outcome
}

// Backoff of a shard whose checks Google throttles or cannot answer.
const (
	minShardBackoff = time.Second
	maxShardBackoff = 30 * time.Second
)

// backoff slows a whole shard down when Google throttles it (429) or cannot answer (a check
// that is inconclusive): every worker of the shard waits before its next connector, from
// minShardBackoff, doubling with each further inconclusive check up to maxShardBackoff, and
// back to full speed after a conclusive one. A shard that runs out of time this way is
// delivered again later (Pub/Sub backs off too), instead of spending the quota other callers
// need on checks that cannot succeed.
type backoff struct {
	mu    sync.Mutex
	until time.Time
	next  time.Duration
}

// wait returns once the shard may go on (or ctx is done).
func (b *backoff) wait(ctx context.Context) {
	b.mu.Lock()
	d := time.Until(b.until)
	b.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// after records a connector's outcome.
func (b *backoff) after(outcome connector.State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch outcome {
	case connector.StateInconclusive:
		b.next = min(max(b.next*2, minShardBackoff), maxShardBackoff)
		b.until = time.Now().Add(b.next)
	case connector.StateOK, connector.StateError, connector.StatePartial, connector.StateDisabled:
		b.next = 0
	}
}

// LocalShards runs each shard in this process as it is published (the memory store, tests,
// functions/cmd/serve without Pub/Sub): the same SweepShard the deployed worker runs, tried
// again at once when it fails, as Pub/Sub would deliver it again, up to MaxShardAttempts
// times (then it is recorded failed). Publishing returns when the shard is finished.
type LocalShards struct {
	Keeper  *Keeper
	Options SweepOptions // the worker's defaults (MaxKeyAge, ...)
}

// PublishConcurrency is 1: the planner publishes (runs) one shard at a time, each with its
// own concurrency.
func (l LocalShards) PublishConcurrency() int { return 1 }

// PublishShard runs sh; it fails only when ctx is done.
func (l LocalShards) PublishShard(ctx context.Context, sh SweepShard) error {
	for range MaxShardAttempts {
		if _, err := l.Keeper.SweepShard(ctx, sh, l.Options); err == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil // recorded as failed in the run
}
