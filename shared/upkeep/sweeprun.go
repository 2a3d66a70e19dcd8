package upkeep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Sweep fan-out limits.
const (
	// DefaultShardSize is how many connector ids one shard carries.
	DefaultShardSize = 100
	// MaxShardSize caps a shard, so that one worker request always fits its deadline.
	MaxShardSize = 500
	// MaxShardAttempts is how many times a shard is tried before it is reported failed (and,
	// deployed, sent to the dead-letter topic: the subscription's max_delivery_attempts).
	MaxShardAttempts = 5
	// maxUnchecked caps the connectors a shard record, or a run's view, lists as unchecked.
	maxUnchecked = 100
)

// SweepShard is one unit of a sweep run's work: a bounded list of connector ids, checked,
// repaired, rotated and cleaned up by one worker request (SweepShard). It is the message the
// planner publishes (JSON).
type SweepShard struct {
	Run   string   `json:"run"`
	Index int      `json:"index"`
	IDs   []string `json:"ids"`
	// Concurrency, TimeoutSeconds and MaxRotations carry the run's SweepOptions; 0 means the
	// worker's own.
	Concurrency    int `json:"concurrency,omitempty"`
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
	MaxRotations   int `json:"max_rotations,omitempty"`
}

// Check refuses a shard the planner cannot have published, naming the field.
func (sh SweepShard) Check() error {
	switch {
	case sh.Run == "" || len(sh.Run) > 100:
		return connector.FieldErrorf("run", "shard run id must be 1 to 100 characters")
	case sh.Index < 0:
		return connector.FieldErrorf("index", "shard index must be 0 or more, not %d", sh.Index)
	case len(sh.IDs) == 0 || len(sh.IDs) > MaxShardSize:
		return connector.FieldErrorf("ids", "a shard carries 1 to %d connector ids, not %d", MaxShardSize, len(sh.IDs))
	case sh.Concurrency < 0 || sh.TimeoutSeconds < 0:
		return connector.FieldErrorf("concurrency", "shard concurrency and timeout_seconds must not be negative")
	}
	for i, id := range sh.IDs {
		if id == "" || len(id) > 200 {
			return connector.FieldErrorf(fmt.Sprintf("ids[%d]", i), "connector id must be 1 to 200 characters")
		}
	}
	return nil
}

// ShardState is where a shard of a run stands.
type ShardState string

// Shard states. A shard that is not finished is retried (redelivered) until it is done or
// has failed MaxShardAttempts times.
const (
	ShardRunning ShardState = "running"
	ShardDone    ShardState = "done"
	ShardFailed  ShardState = "failed"
)

// Unchecked is a connector a sweep could not check, and why.
type Unchecked struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
}

// ShardRecord is what the store keeps of one shard of a run.
type ShardRecord struct {
	Run       string
	Index     int
	Attempts  int // attempts begun
	State     ShardState
	Error     string      // why a failed shard failed
	Report    SweepReport // what its last attempt did (Errors, OldKeys and Duration included)
	Unchecked []Unchecked // at most maxUnchecked
	UpdatedAt time.Time
}

// Finished reports whether the shard needs no more attempts.
func (r ShardRecord) Finished() bool { return r.State == ShardDone || r.State == ShardFailed }

// SweepRun is the planner's record of a run.
type SweepRun struct {
	ID         string
	StartedAt  time.Time
	PlannedAt  time.Time // zero while the planner is still publishing shards
	Shards     int       // shards published
	Connectors int       // connector ids in them
	// PlanError says why planning stopped early (the store could not be listed, a shard
	// could not be published); the connectors not planned are picked up by the next run.
	PlanError      string
	OrphansRemoved int
}

// newRunID returns a run id that sorts by its start time: 20261206T195100.123456Z-1a2b3c.
func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(b[:])
}

// SweepRunView is a run as GET /sweep shows it: the planner's record with its shards summed.
type SweepRunView struct {
	Run SweepRun
	// State is "planning" (shards are still being published), "running", or "done" (every
	// published shard is done or failed).
	State                                   string
	ShardsDone, ShardsFailed, ShardsRunning int
	Report                                  SweepReport // the shards' reports summed (Duration: their work time)
	Unchecked                               []Unchecked // at most maxUnchecked
	UncheckedCount                          int         // all of them
	FailedShards                            []ShardRecord
}

// SweepRunStatus returns run id (the latest run for "") with its shards summed. Only admins
// call it (AuthorizeOperator at the edge).
func (s *Keeper) SweepRunStatus(ctx context.Context, id string) (SweepRunView, error) {
	if s.Runs == nil {
		return SweepRunView{}, connector.Errorf(connector.ErrFailedPrecondition, "this deployment keeps no sweep runs")
	}
	if id == "" {
		latest, err := s.Runs.LatestRunID(ctx)
		if err != nil {
			if connector.KindOf(err) == connector.ErrNotFound {
				return SweepRunView{}, connector.Errorf(connector.ErrNotFound, "no sweep has run yet: start one with POST /sweep (gcpconn sweep)")
			}
			return SweepRunView{}, err
		}
		id = latest
	}
	run, shards, err := s.Runs.GetRun(ctx, id)
	if err != nil {
		return SweepRunView{}, err
	}
	return viewOf(run, shards), nil
}

// viewOf sums a run's shards.
func viewOf(run SweepRun, shards []ShardRecord) SweepRunView {
	v := SweepRunView{Run: run}
	v.Report.OrphansRemoved = run.OrphansRemoved
	for _, sh := range shards {
		switch sh.State {
		case ShardDone:
			v.ShardsDone++
		case ShardFailed:
			v.ShardsFailed++
			v.FailedShards = append(v.FailedShards, sh)
		default:
			v.ShardsRunning++
		}
		addReport(&v.Report, sh.Report)
		v.UncheckedCount += len(sh.Unchecked)
		for _, u := range sh.Unchecked {
			if len(v.Unchecked) < maxUnchecked {
				v.Unchecked = append(v.Unchecked, u)
			}
		}
	}
	switch {
	case run.PlannedAt.IsZero():
		v.State = "planning"
	case v.ShardsDone+v.ShardsFailed >= run.Shards:
		v.State = "done"
	default:
		v.State = "running"
	}
	return v
}

// addReport adds what one shard did to a run's sum.
func addReport(sum *SweepReport, r SweepReport) {
	sum.Checked += r.Checked
	sum.OK += r.OK
	sum.Failed += r.Failed
	sum.Skipped += r.Skipped
	sum.Inconclusive += r.Inconclusive
	sum.VersionsRemoved += r.VersionsRemoved
	sum.KeysRotated += r.KeysRotated
	sum.KeysDeleted += r.KeysDeleted
	sum.RotationsDeferred += r.RotationsDeferred
	sum.Duration += r.Duration
	for _, e := range r.Errors {
		if len(sum.Errors) < maxSweepErrors {
			sum.Errors = append(sum.Errors, e)
		}
	}
	for _, k := range r.OldKeys {
		if len(sum.OldKeys) < maxSweepErrors {
			sum.OldKeys = append(sum.OldKeys, k)
		}
	}
}
