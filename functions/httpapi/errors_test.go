package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
)

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		err        error
		status     int
		code       string
		msg        string
		field      string
		retryAfter string
	}{
		{connector.FieldErrorf("configuration.project_id", "project_id is required"), 400, "invalid_argument", "project_id is required", "configuration.project_id", ""},
		{connector.Errorf(connector.ErrUnauthenticated, "who are you"), 401, "unauthenticated", "who are you", "", ""},
		{connector.Errorf(connector.ErrPermission, "only admins"), 403, "permission_denied", "only admins", "", ""},
		{connector.Errorf(connector.ErrNotFound, "connector \"x\" not found"), 404, "not_found", "connector \"x\" not found", "", ""},
		{connector.Errorf(connector.ErrAlreadyExists, "taken"), 409, "already_exists", "taken", "", ""},
		{connector.Errorf(connector.ErrConflict, "changed meanwhile"), 409, "conflict", "changed meanwhile", "", ""},
		{connector.Errorf(connector.ErrFailedPrecondition, "expired"), 412, "failed_precondition", "expired", "", ""},
		{connector.Errorf(connector.ErrUpstreamDenied, "Google said no"), 502, "upstream_denied", "Google said no", "", ""},
		{connector.Errorf(connector.ErrUpstreamNotFound, "no such bucket"), 404, "upstream_not_found", "no such bucket", "", ""},
		{&connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "busy", RetryAfter: 1500 * time.Millisecond}, 503, "upstream_unavailable", "busy", "", "2"},
		{connector.Errorf(connector.ErrUpstreamUnavailable, "busy"), 503, "upstream_unavailable", "busy", "", "5"},
		{fmt.Errorf("wrapped: %w", connector.Errorf(connector.ErrNotFound, "gone")), 404, "not_found", "gone", "", ""},
		{connector.ErrNotFound, 404, "not_found", "not_found", "", ""},
		{errors.New("dial tcp 10.0.0.1: secret detail"), 500, "internal", internalMessage, "", ""},
		{&connector.Error{Kind: connector.ErrInternal, Message: "bug: nil map at key=SECRET"}, 500, "internal", internalMessage, "", ""},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), 503, "upstream_unavailable", "the request did not finish in time; try again", "", "5"},
		{&connector.Error{Kind: connector.Kind("brand_new_kind"), Message: "?"}, 500, "internal", internalMessage, "", ""},
	} {
		t.Run(tc.code+"/"+tc.err.Error(), func(t *testing.T) {
			var logs strings.Builder
			w := httptest.NewRecorder()
			writeError(context.Background(), w, cloudlog.New(&logs, &cloudlog.Options{Level: slog.LevelDebug}), "test", tc.err)
			var body wire.Error
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body.String(), err)
			}
			got := fmt.Sprintf("%d %s %q %q", w.Code, body.Error.Code, body.Error.Message, body.Error.Field)
			want := fmt.Sprintf("%d %s %q %q", tc.status, tc.code, tc.msg, tc.field)
			if got != want {
				t.Errorf("writeError(%v) = %s; want %s", tc.err, got, want)
			}
			if ra := w.Header().Get("Retry-After"); ra != tc.retryAfter {
				t.Errorf("Retry-After = %q; want %q", ra, tc.retryAfter)
			}
			if tc.code == "internal" && !strings.Contains(logs.String(), `"severity":"ERROR"`) {
				t.Errorf("internal error not logged at ERROR: %q", logs.String())
			}
		})
	}
}

func TestEveryKindHasAStatus(t *testing.T) {
	for _, k := range []connector.Kind{connector.ErrInvalid, connector.ErrUnauthenticated, connector.ErrPermission,
		connector.ErrNotFound, connector.ErrAlreadyExists, connector.ErrConflict, connector.ErrFailedPrecondition,
		connector.ErrUpstreamDenied, connector.ErrUpstreamNotFound, connector.ErrUpstreamUnavailable, connector.ErrInternal} {
		if _, ok := statusOf[k]; !ok {
			t.Errorf("statusOf[%s] is missing", k)
		}
	}
}

func TestUnknownPathAndServiceFailure(t *testing.T) {
	e := newEnv(t)
	e.expect(e.do("GET", "/nope", e.token(owner), nil), 404, "not_found")

	e.api.Service = func(context.Context) (*connector.Service, error) {
		return nil, errors.New("firestore.NewClient: credentials SECRETCONFIG missing")
	}
	r := e.do("GET", "/list", e.token(owner), nil)
	e.expect(r, 500, "internal")
	if strings.Contains(r.raw, "SECRETCONFIG") {
		t.Errorf("construction failure details reached the caller: %s", r.raw)
	}
	if !strings.Contains(e.logs.String(), "firestore.NewClient") {
		t.Errorf("construction failure not logged")
	}
}
