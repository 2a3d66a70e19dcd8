package upkeep

import (
	"context"
	"log/slog"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Operational events of background work: log lines that Cloud Logging turns into metrics and
// alerts (infra/monitoring.tf), as the edge's (functions/httpapi: upstream_error, auth_failure). Each
// carries "event" with one of these names, and the fields the metrics filter on; their
// names and value types are a contract with those filters, which functions/httpapi's
// TestLogContract checks. Rename a field here and change infra/monitoring.tf with it.
const (
	EventSweepRun    = "sweep_run"    // one per sweep: outcome ok or failed, the counts
	EventSweepResult = "sweep_result" // one per connector a sweep looked at: result, state, newly_failing
	EventRotation    = "rotation"     // a key rotation's outcome: rotated, failed or overdue
	EventOldKey      = "old_key"      // a key older than GCPCONN_MAX_KEY_AGE, found by sweep
)

// Outcomes of the sweep_run and rotation events and results of the sweep_result event.
const (
	OutcomeOK          = "ok"
	OutcomeFailed      = "failed"
	OutcomeRotated     = "rotated"
	OutcomeOverdue     = "overdue"
	ResultOK           = "ok"
	ResultFailed       = "failed"
	ResultInconclusive = "inconclusive"
	ResultSkipped      = "skipped"
	ResultNotChecked   = "not_checked"
)

// logSweepRun writes the sweep_run event: the sweep's outcome (failed, with listErr, when it
// could not cover every connector: a listing or planning error, a shard that failed for good)
// and its counts. A sweep in one request writes it at its end; a run fanned out in shards
// when its last shard finishes (logRunIfDone), or at planning when it fails or has nothing to
// do.
func (s *Keeper) logSweepRun(ctx context.Context, rep *SweepReport, listErr error) {
	outcome, level := OutcomeOK, slog.LevelInfo
	if listErr != nil {
		outcome, level = OutcomeFailed, slog.LevelError
	}
	attrs := []any{"event", EventSweepRun, "outcome", outcome, "checked", rep.Checked, "ok", rep.OK, "failed", rep.Failed,
		"skipped", rep.Skipped, "inconclusive", rep.Inconclusive, "orphans_removed", rep.OrphansRemoved,
		"versions_removed", rep.VersionsRemoved, "keys_rotated", rep.KeysRotated, "keys_deleted", rep.KeysDeleted, "rotations_deferred", rep.RotationsDeferred,
		"old_keys", len(rep.OldKeys), "errors", len(rep.Errors), "duration_ms", rep.Duration.Milliseconds()}
	if listErr != nil {
		attrs = append(attrs, "error", listErr.Error())
	}
	s.log().Log(ctx, level, "sweep done", attrs...)
}

// logSweepResult writes the sweep_result event of connector c (as listed, before the check),
// whose check returned outcome (Check's) and err.
func (s *Keeper) logSweepResult(ctx context.Context, c *connector.Connector, outcome connector.State, err error) {
	result := sweepResult(outcome, err)
	level := slog.LevelInfo
	if result == ResultFailed {
		level = slog.LevelWarn
	}
	newly := result == ResultFailed && !failingState(c.Status.State)
	s.log().Log(ctx, level, "sweep: connector "+result, "event", EventSweepResult, "result", result,
		"connector_id", c.ID, "connector", c.Name, "auth_method", string(c.AuthMethod),
		"state", string(outcome), "previous_state", string(c.Status.State), "newly_failing", newly)
}

// sweepResult names Check's outcome for the sweep_result event.
func sweepResult(outcome connector.State, err error) string {
	switch {
	case err != nil:
		return ResultNotChecked
	case outcome == connector.StateOK:
		return ResultOK
	case failingState(outcome):
		return ResultFailed
	case outcome == connector.StateInconclusive:
		return ResultInconclusive
	}
	return ResultSkipped
}

// failingState reports whether st is the state of a connector that failed its last check.
func failingState(st connector.State) bool {
	return st == connector.StateError || st == connector.StatePartial || st == connector.StateDisabled
}

// logRotationOverdue writes the rotation event of a rotation that sweep found overdue (due
// at due) and could not run now.
func (s *Keeper) logRotationOverdue(ctx context.Context, c *connector.Connector, due time.Time, err error) {
	attrs := []any{"event", EventRotation, "outcome", OutcomeOverdue, "connector_id", c.ID, "connector", c.Name,
		"due_at", due.UTC(), "overdue_seconds", int64(s.now().Sub(due).Seconds())}
	if err != nil {
		attrs = append(attrs, "error", connector.MessageOf(err))
	}
	s.log().WarnContext(ctx, "rotation overdue", attrs...)
}
