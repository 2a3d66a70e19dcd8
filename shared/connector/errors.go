package connector

import (
	"errors"
	"fmt"
	"time"

	"github.com/gcpconn/gcpconn/shared/credjson"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// Kind classifies an error for callers. The HTTP edge maps each kind to one status code; the
// core never speaks HTTP. A Kind is itself an error, so errors.Is(err, ErrNotFound) works on any
// error built by this package or wrapped with %w.
type Kind string

// The error kinds of the core.
const (
	ErrInvalid             Kind = "invalid_argument"     // the request is malformed or breaks a rule
	ErrUnauthenticated     Kind = "unauthenticated"      // the caller is not known
	ErrPermission          Kind = "permission_denied"    // the caller may not do this
	ErrNotFound            Kind = "not_found"            // no such connector (or the caller may not see it)
	ErrAlreadyExists       Kind = "already_exists"       // a connector with that name exists
	ErrConflict            Kind = "conflict"             // a concurrent update won; retry with fresh data
	ErrFailedPrecondition  Kind = "failed_precondition"  // the connector's state forbids it (expired, disabled)
	ErrUpstreamDenied      Kind = "upstream_denied"      // Google refused the credentials (403/401)
	ErrUpstreamNotFound    Kind = "upstream_not_found"   // Google says the resource does not exist
	ErrUpstreamUnavailable Kind = "upstream_unavailable" // Google is throttling or down; retry later
	ErrInternal            Kind = "internal"             // a bug or an unexpected failure
)

func (k Kind) Error() string { return string(k) }

// Error is an error of the core: a kind, a message safe to show the caller, an optional field
// and an optional cause. The cause is kept for logs and errors.Is/As but is not part of Message.
type Error struct {
	Kind    Kind
	Field   string // request field at fault, dotted ("configuration.project_id"); "" when none
	Message string // caller-safe text; never contains secret values
	// RetryAfter is a hint for ErrUpstreamUnavailable; zero when unknown.
	RetryAfter time.Duration
	// API names the Google API that answered an upstream error ("iamcredentials", "sts",
	// "storage", ...), for logs and metrics; "" when none did (see APIOf).
	API string
	Err error // cause; may be nil
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = string(e.Kind)
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is e's Kind, so errors.Is(err, ErrNotFound) works.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of kind k with a formatted caller-safe message.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf builds an ErrInvalid *Error that names the request field at fault.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// The parsers below the core (shared/resourceid, shared/credjson) do not import it, so their
// refusals carry no Kind: a *resourceid.Error or *credjson.Error is ErrInvalid for its field
// (ErrUpstreamNotFound for a cluster id that matched no listed cluster), and its message is
// caller-safe. KindOf, FieldOf and MessageOf read them so.

// asError returns the first *Error in err's chain, or the parser refusal in it as one.
func asError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var r *resourceid.Error
	if errors.As(err, &r) {
		kind := ErrInvalid
		if r.Unmatched {
			kind = ErrUpstreamNotFound
		}
		return &Error{Kind: kind, Field: r.Field, Message: r.Message}, true
	}
	var c *credjson.Error
	if errors.As(err, &c) {
		return &Error{Kind: ErrInvalid, Field: c.Field, Message: c.Message}, true
	}
	return nil, false
}

// KindOf returns the Kind of err: the kind of the first *Error (or parser refusal) or Kind in
// its chain, or ErrInternal for any other non-nil error, and "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	if e, ok := asError(err); ok {
		return e.Kind
	}
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	return ErrInternal
}

// FieldOf returns the request field named by the first *Error (or parser refusal) in err's
// chain, or "".
func FieldOf(err error) string {
	if e, ok := asError(err); ok {
		return e.Field
	}
	return ""
}

// MessageOf returns the caller-safe message of err: the Message of the first *Error (or parser
// refusal) in its chain, the kind's name for a bare Kind, and "internal error" for anything
// else, whose text may hold details meant only for logs.
func MessageOf(err error) string {
	if e, ok := asError(err); ok {
		if e.Message != "" {
			return e.Message
		}
		return string(e.Kind)
	}
	var k Kind
	if errors.As(err, &k) {
		return string(k)
	}
	return "internal error"
}

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
