package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// statusOf is THE error table of the HTTP API (functions/openapi.yaml documents it): the only place that maps the
// core's error kinds to HTTP statuses. The body's "code" is the kind itself.
var statusOf = map[connector.Kind]int{
	connector.ErrInvalid:             http.StatusBadRequest,          // invalid_argument
	connector.ErrUnauthenticated:     http.StatusUnauthorized,        // unauthenticated
	connector.ErrPermission:          http.StatusForbidden,           // permission_denied
	connector.ErrNotFound:            http.StatusNotFound,            // not_found
	connector.ErrAlreadyExists:       http.StatusConflict,            // already_exists
	connector.ErrConflict:            http.StatusConflict,            // conflict: retry with fresh data
	connector.ErrFailedPrecondition:  http.StatusPreconditionFailed,  // failed_precondition
	connector.ErrUpstreamDenied:      http.StatusBadGateway,          // upstream_denied: Google said 403
	connector.ErrUpstreamNotFound:    http.StatusNotFound,            // upstream_not_found: Google says it does not exist
	connector.ErrUpstreamUnavailable: http.StatusServiceUnavailable,  // upstream_unavailable, with Retry-After
	connector.ErrInternal:            http.StatusInternalServerError, // internal: details only in logs
}

// Transport-level answers that have no kind in the core.
const (
	codeTooLarge         = "request_too_large"      // 413
	codeMethodNotAllowed = "method_not_allowed"     // 405
	codeRateLimited      = "rate_limited"           // 429, with Retry-After (API.Gate)
	codeUnsupportedMedia = "unsupported_media_type" // 415: the body is not JSON
	codeRequestTimeout   = "request_timeout"        // 408: the body did not arrive in time
	// codeCancelled answers a request whose caller went away before it was done (nobody
	// reads the answer). 499 is the status Google's front ends and nginx log for it.
	codeCancelled     = "cancelled"
	statusCancelled   = 499
	defaultRetryAfter = 5 // seconds
	internalMessage   = "internal error; the service logs have the details"
)

// writeError answers err with the status of its kind and the body
// {"error":{"code","message","field"}}. Internal errors (and anything without a kind) are
// logged with their full text and answered with a generic message.
//
// A request whose caller went away (ctx cancelled) is not an error of the service: it is
// logged at INFO as cancelled and answered 499 (which nobody reads, but the access log shows).
func writeError(ctx context.Context, w http.ResponseWriter, log *slog.Logger, entry string, err error) {
	answerError(ctx, w, log, entry, err, true)
}

// answerError is writeError; upstreamEvent false leaves out the upstream_error event, for
// failures already logged as another event (a caller's authentication: auth_failure), so
// that a caller cannot move the upstream error ratio with tokens that name unknown keys.
func answerError(ctx context.Context, w http.ResponseWriter, log *slog.Logger, entry string, err error, upstreamEvent bool) {
	if cancelled(ctx, err) {
		log.InfoContext(ctx, "cancelled", "entry_point", entry, "code", codeCancelled, "status", statusCancelled, "error", err.Error())
		writeErrorBody(w, statusCancelled, codeCancelled, "the caller cancelled the request", "")
		return
	}
	kind := connector.KindOf(err)
	if errors.Is(err, context.DeadlineExceeded) && kind == connector.ErrInternal {
		kind = connector.ErrUpstreamUnavailable
		err = &connector.Error{Kind: kind, Message: "the request did not finish in time; try again", Err: err}
	}
	status, ok := statusOf[kind]
	if !ok {
		kind, status = connector.ErrInternal, http.StatusInternalServerError
	}
	msg := connector.MessageOf(err)
	if kind == connector.ErrInternal {
		msg = internalMessage
		log.ErrorContext(ctx, "internal error", "entry_point", entry, "error", err.Error())
	} else if upstreamKind(kind) && upstreamEvent {
		logUpstream(ctx, log, entry, kind, status, err)
	}
	if kind == connector.ErrUpstreamUnavailable {
		secs := defaultRetryAfter
		var ce *connector.Error
		if errors.As(err, &ce) && ce.RetryAfter > 0 {
			secs = int(math.Ceil(ce.RetryAfter.Seconds()))
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeErrorBody(w, status, string(kind), msg, connector.FieldOf(err))
}

// cancelled reports whether err is the end of a request whose caller went away: ctx (the
// request's) was cancelled, not timed out, and err stems from it.
func cancelled(ctx context.Context, err error) bool {
	return errors.Is(ctx.Err(), context.Canceled) && (errors.Is(err, context.Canceled) || connector.KindOf(err) == connector.ErrInternal || connector.KindOf(err) == connector.ErrUpstreamUnavailable)
}

// codeOf is the code and status an answer to err carries, for audit entries.
func codeOf(ctx context.Context, err error) (string, int) {
	if cancelled(ctx, err) {
		return codeCancelled, statusCancelled
	}
	kind := connector.KindOf(err)
	if status, ok := statusOf[kind]; ok {
		return string(kind), status
	}
	return string(connector.ErrInternal), http.StatusInternalServerError
}

func writeErrorBody(w http.ResponseWriter, status int, code, msg, field string) {
	writeJSON(w, status, wire.Error{Error: wire.ErrorDetail{Code: code, Message: msg, Field: field}})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(fmt.Sprintf(`{"error":{"code":"internal","message":%q}}`, internalMessage))
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
