package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAuthFailuresAreSampled: a flood of requests without a valid token writes at most
// authLogPerMinute auth_failure lines a minute per issuer and code; the first line of the next
// minute says how many were left out. Unauthenticated callers cannot flood the log.
func TestAuthFailuresAreSampled(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	e.api.Now = func() time.Time { return now }
	count := func() int { return strings.Count(e.logs.String(), `"event":"auth_failure"`) }
	for range authLogPerMinute + 40 {
		e.expect(e.do(http.MethodGet, "/list", "not-a-token", nil), http.StatusUnauthorized, "unauthenticated")
	}
	if n := count(); n != authLogPerMinute {
		t.Fatalf("auth_failure lines after %d refusals in one minute = %d; want %d", authLogPerMinute+40, n, authLogPerMinute)
	}
	now = now.Add(time.Minute)
	e.expect(e.do(http.MethodGet, "/list", "not-a-token", nil), http.StatusUnauthorized, "unauthenticated")
	if n := count(); n != authLogPerMinute+1 || !strings.Contains(e.logs.String(), `"suppressed":40`) {
		t.Fatalf("the next minute's first line: %d lines, log lacks suppressed 40:\n%s", n, e.logs.String()[max(0, len(e.logs.String())-600):])
	}
	if strings.Contains(e.logs.String(), `"event":"upstream_error"`) {
		t.Error("an authentication failure wrote an upstream_error event")
	}
}
