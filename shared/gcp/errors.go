package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/googleapis/gax-go/v2"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
)

// maxAttempts bounds the attempts of a retried call (the first included).
const maxAttempts = 3

// upstream maps err, returned by a call to Google named what ("list GCS buckets"), to a
// connector error of an upstream kind. Google's own message is kept as the caller-safe
// message; the original error is kept as the cause for logs.
func upstream(what string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connector.Error
	if errors.As(err, &ce) {
		return err
	}
	code, msg, retryAfter := classify(err)
	e := &connector.Error{Err: fmt.Errorf("%s: %w", what, err), RetryAfter: retryAfter, API: apiOf(what)}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind = connector.ErrUpstreamUnavailable
		e.Message = fmt.Sprintf("Google did not answer in time (%s)", what)
		return e
	case errors.Is(err, context.Canceled):
		e.Kind = connector.ErrUpstreamUnavailable
		e.Message = fmt.Sprintf("request cancelled (%s)", what)
		return e
	case code == 0:
		e.Kind = connector.ErrUpstreamUnavailable
		e.Message = fmt.Sprintf("could not reach Google (%s)", what)
		return e
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Kind = connector.ErrUpstreamDenied
	case code == http.StatusNotFound:
		e.Kind = connector.ErrUpstreamNotFound
	case code == http.StatusTooManyRequests || code >= 500:
		e.Kind = connector.ErrUpstreamUnavailable
	case code == http.StatusBadRequest && isTokenError(err):
		// The token endpoint answers 400 invalid_grant for revoked or unknown credentials.
		e.Kind = connector.ErrUpstreamDenied
	default:
		e.Kind = connector.ErrInvalid
	}
	if msg == "" {
		msg = http.StatusText(code)
	}
	if e.Kind == connector.ErrUpstreamUnavailable {
		msg = fmt.Sprintf("Google is unavailable or throttling (HTTP %d, %s): %s", code, what, msg)
	}
	e.Message = msg
	return e
}

func isTokenError(err error) bool {
	var re *oauth2.RetrieveError
	var se *stsError
	return errors.As(err, &re) || errors.As(err, &se) || stsStatusRE.MatchString(err.Error())
}

// stsStatusRE matches the errors of x/oauth2's internal STS exchange, which carry no type.
var stsStatusRE = regexp.MustCompile(`(?s)status code (\d{3}): (.*)$`)

// classify extracts the HTTP status, Google's message and a Retry-After hint from err.
// code is 0 when no HTTP answer came back.
func classify(err error) (code int, msg string, retryAfter time.Duration) {
	var ae *apierror.APIError
	var ge *googleapi.Error
	var re *oauth2.RetrieveError
	var se *stsError
	switch {
	case errors.As(err, &ge):
		msg = ge.Message
		if msg == "" && len(ge.Errors) > 0 {
			msg = ge.Errors[0].Message
		}
		return ge.Code, msg, retryAfterOf(ge.Header)
	case errors.As(err, &ae):
		if c := ae.HTTPCode(); c > 0 {
			return c, ae.Reason() + statusMessage(ae), 0
		}
		return grpcToHTTP(ae.GRPCStatus().Code()), ae.GRPCStatus().Message(), 0
	case errors.As(err, &se):
		return se.code, se.message(), se.retryAfter
	case errors.As(err, &re):
		if re.Response == nil {
			return 0, "", 0
		}
		return re.Response.StatusCode, tokenErrorMessage(re.ErrorCode, re.ErrorDescription, re.Body), retryAfterOf(re.Response.Header)
	}
	if m := stsStatusRE.FindStringSubmatch(err.Error()); m != nil {
		c, _ := strconv.Atoi(m[1])
		return c, tokenErrorMessage("", "", []byte(strings.TrimSpace(m[2]))), 0
	}
	return 0, "", 0
}

func statusMessage(ae *apierror.APIError) string {
	if s := ae.GRPCStatus(); s != nil && s.Message() != "" {
		return s.Message()
	}
	return ""
}

// tokenErrorMessage renders an OAuth2 error answer: {"error":..., "error_description":...}
// or Google's {"error":{"message":...}}.
func tokenErrorMessage(code, desc string, body []byte) string {
	if code == "" && len(body) > 0 {
		var oauth struct {
			Error       json.RawMessage `json:"error"`
			Description string          `json:"error_description"`
		}
		if json.Unmarshal(body, &oauth) == nil {
			var s string
			var g struct {
				Message string `json:"message"`
			}
			switch {
			case json.Unmarshal(oauth.Error, &s) == nil:
				code, desc = s, oauth.Description
			case json.Unmarshal(oauth.Error, &g) == nil:
				return g.Message
			}
		}
	}
	switch {
	case code != "" && desc != "":
		return code + ": " + desc
	case code != "":
		return code
	}
	return desc
}

func retryAfterOf(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// grpcHTTP is the HTTP status of each gRPC code Google's REST-over-gRPC clients report;
// any other code is a 500.
var grpcHTTP = map[codes.Code]int{
	codes.PermissionDenied:   http.StatusForbidden,
	codes.Unauthenticated:    http.StatusUnauthorized,
	codes.NotFound:           http.StatusNotFound,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.DeadlineExceeded:   http.StatusGatewayTimeout,
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.FailedPrecondition: http.StatusBadRequest,
}

func grpcToHTTP(c codes.Code) int {
	if s, ok := grpcHTTP[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// retryable reports whether a failed idempotent call may be retried: Google documents 503
// and 504 (and, for the token endpoint, 500) as transient. 429 is not retried here: the
// caller gets it back with its Retry-After hint.
func retryable(err error) bool {
	code, _, _ := classify(err)
	return code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout || code == http.StatusInternalServerError
}

// retry runs f up to maxAttempts times while it fails with a retryable error, backing off
// 100 ms, 200 ms, ... and never past ctx's deadline. Use it only for idempotent calls.
func retry[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	var zero T
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := f(ctx)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return v, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < backoff {
			return zero, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, err
		case <-t.C:
		}
		backoff *= 2
	}
}

// gaxRetry is the retry policy passed to the generated clients: 503/504 only, bounded.
func gaxRetry() gax.CallOption {
	return gax.WithRetry(func() gax.Retryer {
		return &boundedRetryer{inner: gax.OnHTTPCodes(gax.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2},
			http.StatusServiceUnavailable, http.StatusGatewayTimeout)}
	})
}

type boundedRetryer struct {
	inner    gax.Retryer
	attempts int
}

func (r *boundedRetryer) Retry(err error) (time.Duration, bool) {
	r.attempts++
	if r.attempts >= maxAttempts {
		return 0, false
	}
	return r.inner.Retry(err)
}
