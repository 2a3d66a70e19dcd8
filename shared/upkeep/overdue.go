package upkeep

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Overdue rotations. Sweep does not rotate an overdue key as it meets the connector: it
// queues it, and once every connector of the shard (or of a one-request sweep) is checked,
// rotateOverdue starts at most SweepOptions.MaxRotations of them, the most overdue first.
// The others are counted in SweepReport.RotationsDeferred and stay overdue, so the next run
// queues them again (and, being more overdue than whatever became due since, starts them
// first). One shard thus never spends its deadline, or Google's key quota, on a backlog of
// rotations (a period shortened on many connectors, rotation down for a day).

// DefaultMaxRotations is how many overdue key rotations one shard starts unless configured.
const DefaultMaxRotations = 10

// overdueKey is a connector whose key sweep found overdue: due is when it was due.
type overdueKey struct {
	c   *connector.Connector
	due time.Time
}

func (t *sweepTally) queueRotation(c *connector.Connector, due time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.overdue = append(t.overdue, overdueKey{c: c, due: due})
}

// mostOverdueFirst orders q by due time, then id (so that equal ones take turns by id).
func mostOverdueFirst(q []overdueKey) {
	slices.SortFunc(q, func(a, b overdueKey) int {
		return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.c.ID, b.c.ID))
	})
}

// rotateOverdue rotates the keys t queued, the most overdue first, at most o.MaxRotations
// (at most o.Concurrency at a time), and counts the rest as deferred; a key that is not
// rotated is reported when older than o.MaxKeyAge.
func (s *Keeper) rotateOverdue(ctx context.Context, t *sweepTally, o SweepOptions) {
	t.mu.Lock()
	q := t.overdue
	t.overdue = nil
	t.mu.Unlock()
	mostOverdueFirst(q)
	start := min(len(q), max(o.MaxRotations, 0))
	for _, k := range q[start:] {
		s.log().InfoContext(ctx, "sweep: overdue key rotation deferred to the next run (rotation cap reached)",
			"connector_id", k.c.ID, "connector", k.c.Name, "due", k.due, "max_rotations", o.MaxRotations)
		t.note(func(r *SweepReport) { r.RotationsDeferred++ })
		s.noteOldKey(ctx, k.c, o, t)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(o.Concurrency, 1))
	for _, k := range q[:start] {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.rotateOne(ctx, k, o, t)
		})
	}
	wg.Wait()
}

// rotateOne runs the overdue rotation k within o.Timeout.
func (s *Keeper) rotateOne(ctx context.Context, k overdueKey, o SweepOptions, t *sweepTally) {
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	rotated, err := s.rotateKey(cctx, k.c.ID, false)
	if rotated {
		t.note(func(r *SweepReport) { r.KeysRotated++ })
		return
	}
	if err != nil && connector.KindOf(err) != connector.ErrFailedPrecondition {
		s.sweepFailed(ctx, k.c, "overdue key rotation", err, t)
	}
	s.logRotationOverdue(ctx, k.c, k.due, err)
	s.noteOldKey(ctx, k.c, o, t)
}
