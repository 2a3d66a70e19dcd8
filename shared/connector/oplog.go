package connector

import (
	"errors"
)

// Operational events are log lines that Cloud Logging turns into metrics and alerts
// (infra/monitoring.tf): each carries "event" with one of these names, and the fields the
// metrics filter on. Their names and value types are a contract with those filters;
// functions/httpapi's TestLogContract checks every field a filter names against the lines the
// code really writes. Rename a field here and change infra/monitoring.tf with it.
const (
	EventSweepRun      = "sweep_run"      // one per sweep: outcome ok or failed, the counts
	EventSweepResult   = "sweep_result"   // one per connector a sweep looked at: result, state, newly_failing
	EventRotation      = "rotation"       // a key rotation's outcome: rotated, failed or overdue
	EventOldKey        = "old_key"        // a key older than GCPCONN_MAX_KEY_AGE, found by sweep
	EventUpstreamError = "upstream_error" // a request Google failed: api, code
	EventAuthFailure   = "auth_failure"   // a caller not authenticated: issuer, reason
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

// APIOf returns the Google API that answered the upstream error err ("iamcredentials",
// "sts", "storage", ...; see Error.API), or "" when err does not name one.
func APIOf(err error) string {
	var e *Error
	for errors.As(err, &e) {
		if e.API != "" {
			return e.API
		}
		err = e.Err
	}
	return ""
}
