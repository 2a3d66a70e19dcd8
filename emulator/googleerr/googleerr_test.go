package googleerr

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		err        *Error
		wantStatus string
		wantReason string
	}{
		{Unauthenticated("u"), "UNAUTHENTICATED", "authError"},
		{PermissionDenied("p"), "PERMISSION_DENIED", "forbidden"},
		{NotFound("n"), "NOT_FOUND", "notFound"},
		{InvalidArgument("i"), "INVALID_ARGUMENT", "invalid"},
		{Unavailable("a"), "UNAVAILABLE", "backendError"},
		{TooManyRequests("t"), "RESOURCE_EXHAUSTED", "rateLimitExceeded"},
		{FromStatus(504, "d"), "DEADLINE_EXCEEDED", "backendError"},
		{FromStatus(400, "b"), "INVALID_ARGUMENT", "invalid"},
		{FromStatus(500, "i"), "INTERNAL", "backendError"},
		{FromStatus(418, "x"), "UNKNOWN", "unknown"},
		{FailedPrecondition("f"), "FAILED_PRECONDITION", "failedPrecondition"},
		{AlreadyExists("c"), "ALREADY_EXISTS", "conflict"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		Write(rec, tt.err)
		var body struct {
			Error struct {
				Code    int
				Message string
				Status  string
				Errors  []struct{ Message, Domain, Reason string }
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		e := body.Error
		if rec.Code != tt.err.Code || e.Code != tt.err.Code || e.Status != tt.wantStatus || e.Message != tt.err.Message ||
			len(e.Errors) != 1 || e.Errors[0].Reason != tt.wantReason || e.Errors[0].Domain != "global" {
			t.Errorf("Write(%v) = %d %s; want code %d, status %s, reason %s", tt.err, rec.Code, rec.Body, tt.err.Code, tt.wantStatus, tt.wantReason)
		}
		if (tt.err.Code == 401) != (rec.Header().Get("WWW-Authenticate") != "") {
			t.Errorf("Write(%v): WWW-Authenticate = %q; want it on 401 only", tt.err, rec.Header().Get("WWW-Authenticate"))
		}
	}
}
