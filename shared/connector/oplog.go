package connector

import (
	"errors"
)

// Operational events are log lines that Cloud Logging turns into metrics and alerts
// (infra/monitoring.tf): each carries "event" with one of these names, and the fields the
// metrics filter on. Their names and value types are a contract with those filters;
// functions/httpapi's TestLogContract checks every field a filter names against the lines the
// code really writes. Rename a field here and change infra/monitoring.tf with it. The events
// of background work (sweep_run, sweep_result, rotation, old_key) are shared/upkeep's.
const (
	EventUpstreamError = "upstream_error" // a request Google failed: api, code
	EventAuthFailure   = "auth_failure"   // a caller not authenticated: issuer, reason
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
