// Package googleerr writes errors the way Google's JSON APIs do.
//
// An Error carries the HTTP code, the canonical status ("PERMISSION_DENIED"), the
// human message and the legacy reason ("forbidden"). Write renders it as
//
//	{"error":{"code":403,"message":"...","status":"PERMISSION_DENIED",
//	  "errors":[{"message":"...","domain":"global","reason":"forbidden"}]}}
//
// which both the generated Go clients (googleapi.Error, apierror.APIError) and the
// storage client parse.
package googleerr

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error is a Google API error.
type Error struct {
	Code    int
	Status  string
	Message string
	Reason  string
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int
	// Violations, when set, are sent as a google.rpc.PreconditionFailure detail, one
	// violation per entry (its type, e.g. "constraints/iam.disableServiceAccountKeyCreation"),
	// as Google does when an organisation policy refuses a call.
	Violations []string
}

// Error implements error.
func (e *Error) Error() string {
	return strconv.Itoa(e.Code) + " " + e.Status + ": " + e.Message
}

// kind is one of the errors Google answers: the canonical status, its HTTP code and the
// reason of the errors[] entry.
type kind struct {
	status string
	code   int
	reason string
}

// kinds are the errors the fake answers, in the order FromStatus prefers them for a code.
var kinds = []kind{
	{"UNAUTHENTICATED", http.StatusUnauthorized, "authError"},
	{"PERMISSION_DENIED", http.StatusForbidden, "forbidden"},
	{"NOT_FOUND", http.StatusNotFound, "notFound"},
	{"INVALID_ARGUMENT", http.StatusBadRequest, "invalid"},
	{"FAILED_PRECONDITION", http.StatusBadRequest, "failedPrecondition"},
	{"ALREADY_EXISTS", http.StatusConflict, "conflict"},
	{"RESOURCE_EXHAUSTED", http.StatusTooManyRequests, "rateLimitExceeded"},
	{"UNAVAILABLE", http.StatusServiceUnavailable, "backendError"},
	{"DEADLINE_EXCEEDED", http.StatusGatewayTimeout, "backendError"},
	{"INTERNAL", http.StatusInternalServerError, "backendError"},
}

// newError is the error of the kind with the given status, saying msg.
func newError(status, msg string) *Error {
	for _, k := range kinds {
		if k.status == status {
			return &Error{Code: k.code, Status: status, Message: msg, Reason: k.reason}
		}
	}
	panic("googleerr: unknown status " + status)
}

// Unauthenticated is a 401: missing, unknown or expired credentials.
func Unauthenticated(msg string) *Error { return newError("UNAUTHENTICATED", msg) }

// PermissionDenied is a 403.
func PermissionDenied(msg string) *Error { return newError("PERMISSION_DENIED", msg) }

// NotFound is a 404.
func NotFound(msg string) *Error { return newError("NOT_FOUND", msg) }

// InvalidArgument is a 400.
func InvalidArgument(msg string) *Error { return newError("INVALID_ARGUMENT", msg) }

// FailedPrecondition is a 400 for a request the current state does not allow.
func FailedPrecondition(msg string) *Error { return newError("FAILED_PRECONDITION", msg) }

// AlreadyExists is a 409.
func AlreadyExists(msg string) *Error { return newError("ALREADY_EXISTS", msg) }

// Unavailable is a 503.
func Unavailable(msg string) *Error { return newError("UNAVAILABLE", msg) }

// TooManyRequests is a 429.
func TooManyRequests(msg string) *Error { return newError("RESOURCE_EXHAUSTED", msg) }

// Internal is a 500.
func Internal(msg string) *Error { return newError("INTERNAL", msg) }

// FromStatus returns the error Google sends for an HTTP status code (used by fault
// injection): the first of kinds with that code, else UNKNOWN.
func FromStatus(code int, msg string) *Error {
	for _, k := range kinds {
		if k.code == code {
			return newError(k.status, msg)
		}
	}
	return &Error{Code: code, Status: "UNKNOWN", Message: msg, Reason: "unknown"}
}

type body struct {
	Error payload `json:"error"`
}

type payload struct {
	Code    int      `json:"code"`
	Message string   `json:"message"`
	Status  string   `json:"status"`
	Errors  []detail `json:"errors,omitempty"`
	Details []any    `json:"details,omitempty"`
}

type detail struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

// Marshal returns the JSON body Write sends.
func Marshal(err *Error) []byte {
	p := payload{
		Code:    err.Code,
		Message: err.Message,
		Status:  err.Status,
		Errors:  []detail{{Message: err.Message, Domain: "global", Reason: err.Reason}},
	}
	if len(err.Violations) > 0 {
		var vs []map[string]string
		for _, v := range err.Violations {
			vs = append(vs, map[string]string{"type": v, "description": err.Message})
		}
		p.Details = []any{map[string]any{"@type": "type.googleapis.com/google.rpc.PreconditionFailure", "violations": vs}}
	}
	b, _ := json.Marshal(body{Error: p})
	return b
}

// FromStatusName returns the error Google sends with the canonical status name (as
// "FAILED_PRECONDITION") and HTTP code, for fault injection of a specific refusal.
func FromStatusName(code int, status, msg string) *Error {
	e := FromStatus(code, msg)
	if status != "" && status != e.Status {
		e.Status = status
		if status == "FAILED_PRECONDITION" {
			e.Reason = "failedPrecondition"
		}
	}
	return e
}

// Write sends err as Google's JSON error body with its status code. 401s carry a
// WWW-Authenticate challenge, as Google's do.
func Write(w http.ResponseWriter, err *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if err.Code == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	}
	if err.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(err.RetryAfter))
	}
	w.WriteHeader(err.Code)
	_, _ = w.Write(Marshal(err))
}
