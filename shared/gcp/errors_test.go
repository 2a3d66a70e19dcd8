package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
)

func TestUpstream(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantKind  connector.Kind
		wantMsg   string
		wantRetry time.Duration
	}{
		{"403 keeps Google's text", &googleapi.Error{Code: 403, Message: "x does not have storage.buckets.list access"},
			connector.ErrUpstreamDenied, "x does not have storage.buckets.list access", 0},
		{"401", &googleapi.Error{Code: 401, Message: "Request had invalid authentication credentials."}, connector.ErrUpstreamDenied, "invalid authentication", 0},
		{"404", &googleapi.Error{Code: 404, Message: "Not found: cluster"}, connector.ErrUpstreamNotFound, "Not found", 0},
		{"429 with Retry-After", &googleapi.Error{Code: 429, Message: "Quota exceeded", Header: http.Header{"Retry-After": {"7"}}},
			connector.ErrUpstreamUnavailable, "Quota exceeded", 7 * time.Second},
		{"503", &googleapi.Error{Code: 503, Message: "backend"}, connector.ErrUpstreamUnavailable, "HTTP 503", 0},
		{"400 from an API", &googleapi.Error{Code: 400, Message: "Invalid parent"}, connector.ErrInvalid, "Invalid parent", 0},
		{"token endpoint invalid_grant", &oauth2.RetrieveError{Response: &http.Response{StatusCode: 400},
			Body: []byte(`{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)},
			connector.ErrUpstreamDenied, "invalid_grant: Invalid JWT Signature.", 0},
		{"STS exchange text", fmt.Errorf("oauth2/google: status code 400: {\"error\":\"invalid_grant\",\"error_description\":\"bad token\"}\n"),
			connector.ErrUpstreamDenied, "invalid_grant: bad token", 0},
		{"no answer", errors.New("dial tcp: connection refused"), connector.ErrUpstreamUnavailable, "could not reach Google", 0},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), connector.ErrUpstreamUnavailable, "did not answer in time", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := upstream("op", tt.err)
			var ce *connector.Error
			if !errors.As(err, &ce) {
				t.Fatalf("upstream(%v) = %T; want *connector.Error", tt.err, err)
			}
			if ce.Kind != tt.wantKind || !strings.Contains(ce.Message, tt.wantMsg) || ce.RetryAfter != tt.wantRetry {
				t.Errorf("upstream(%v) = kind %q, message %q, retry %s; want %q, %q, %s",
					tt.err, ce.Kind, ce.Message, ce.RetryAfter, tt.wantKind, tt.wantMsg, tt.wantRetry)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("upstream(%v) does not wrap the cause", tt.err)
			}
		})
	}
}
