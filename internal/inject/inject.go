// Package inject holds the defaults of what gcpconn's services take injected and may be left
// unset: the clock (time.Now) and the logger (one that discards).
package inject

import (
	"log/slog"
	"time"
)

var discard = slog.New(slog.DiscardHandler)

// Now returns now(), or time.Now() when now is nil.
func Now(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// Log returns l, or a logger that discards every record when l is nil.
func Log(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return discard
}
