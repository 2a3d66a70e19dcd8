package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
)

// stuckStore is a store whose listing never answers: it returns only when the request's
// context ends, and remembers when that was.
type stuckStore struct {
	connector.Store
	ended chan time.Time
}

func (s stuckStore) List(ctx context.Context, _ connector.Filter, _ connector.Page) ([]*connector.Connector, string, error) {
	<-ctx.Done()
	s.ended <- time.Now()
	return nil, "", connector.Errorf(connector.ErrUpstreamUnavailable, "store: %v", ctx.Err())
}

// TestRequestDeadlineIsTheFunctionTimeoutMinusMargin: with the function's timeout set (the
// manifest's, through GCPCONN_TIMEOUT_SECONDS), a request's work is cut at the timeout minus
// DeadlineMargin, on the bubble's clock, and the handler still answers; an earlier deadline
// the platform put on the request stays.
func TestRequestDeadlineIsTheFunctionTimeoutMinusMargin(t *testing.T) {
	tests := []struct {
		name     string
		function time.Duration
		request  time.Duration // RequestTimeout
		parent   time.Duration // a deadline already on the request; 0: none
		want     time.Duration
	}{
		{"sweep's 540 s", 540 * time.Second, 0, 0, 510 * time.Second},
		{"60 s", 60 * time.Second, 0, 0, 54 * time.Second},
		{"function timeout wins over RequestTimeout", 60 * time.Second, time.Hour, 0, 54 * time.Second},
		{"earlier platform deadline stays", 540 * time.Second, 0, 20 * time.Second, 20 * time.Second},
		{"no function timeout: RequestTimeout", 0, 90 * time.Second, 0, 90 * time.Second},
		{"no function timeout: the default", 0, 0, 0, DefaultRequestTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := stuckStore{Store: store.NewMemory(), ended: make(chan time.Time, 1)}
				svc := &connector.Service{Store: st, Secrets: store.NewMemorySecrets()}
				api := &API{
					Service:         func(context.Context) (*connector.Service, error) { return svc, nil },
					Auth:            bearerOnly{},
					FunctionTimeout: tt.function,
					RequestTimeout:  tt.request,
				}
				r := httptest.NewRequest(http.MethodGet, "/list", nil)
				r.Header.Set("Authorization", "Bearer t")
				if tt.parent > 0 {
					ctx, cancel := context.WithTimeout(r.Context(), tt.parent)
					defer cancel()
					r = r.WithContext(ctx)
				}
				start := time.Now()
				w := httptest.NewRecorder()
				api.Handler().ServeHTTP(w, r)
				if got := (<-st.ended).Sub(start); got != tt.want {
					t.Errorf("the request's work was cut after %s; want %s", got, tt.want)
				}
				if w.Code < 500 || w.Body.Len() == 0 {
					t.Errorf("answer = %d %q; want an error answer written before the platform's timeout", w.Code, w.Body)
				}
			})
		})
	}
}

func TestDeadlineMargin(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		60 * time.Second:       6 * time.Second,
		540 * time.Second:      30 * time.Second,
		3600 * time.Second:     MaxDeadlineMargin,
		2 * time.Second:        MinDeadlineMargin,
		time.Second:            MinDeadlineMargin,
		600 * time.Millisecond: 300 * time.Millisecond,
	} {
		if got := DeadlineMargin(in); got != want {
			t.Errorf("DeadlineMargin(%s) = %s; want %s", in, got, want)
		}
	}
}
