package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/cloudlog"
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

// TestLazyDeadline: the request's context behaves as context.WithDeadline's whether or not
// anything waits on it before it ends: at the deadline, when cancelled, when its parent is
// cancelled, for children and AfterFunc, and with an earlier deadline on the parent.
func TestLazyDeadline(t *testing.T) {
	const d = 10 * time.Second
	tests := []struct {
		name    string
		waitFor bool                                          // call Done before the end
		end     func(parentCancel, cancel context.CancelFunc) // nil: let the deadline pass
		want    error
	}{
		{"deadline, nothing waiting", false, nil, context.DeadlineExceeded},
		{"deadline, waited on", true, nil, context.DeadlineExceeded},
		{"cancelled, nothing waiting", false, func(_, c context.CancelFunc) { c() }, context.Canceled},
		{"cancelled, waited on", true, func(_, c context.CancelFunc) { c() }, context.Canceled},
		{"parent cancelled, nothing waiting", false, func(p, _ context.CancelFunc) { p() }, context.Canceled},
		{"parent cancelled, waited on", true, func(p, _ context.CancelFunc) { p() }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				parent, parentCancel := context.WithCancel(context.Background())
				defer parentCancel()
				start := time.Now()
				ctx, cancel := withLazyDeadline(parent, start.Add(d))
				defer cancel()
				if got, ok := ctx.Deadline(); !ok || !got.Equal(start.Add(d)) {
					t.Errorf("Deadline() = %v, %v; want %v", got, ok, start.Add(d))
				}
				if tt.waitFor {
					_ = ctx.Done()
				}
				if err := ctx.Err(); err != nil {
					t.Fatalf("Err() before the end = %v", err)
				}
				if tt.end == nil {
					time.Sleep(d)
				} else {
					tt.end(parentCancel, cancel)
				}
				synctest.Wait() // the timer's and the parent's cancellations run in their own goroutines
				if err := ctx.Err(); err != tt.want {
					t.Errorf("Err() after the end = %v; want %v", err, tt.want)
				}
				select {
				case <-ctx.Done():
				default:
					t.Errorf("Done() is open after the end")
				}
				if err := ctx.Err(); err != tt.want {
					t.Errorf("Err() once Done = %v; want %v", err, tt.want)
				}
			})
		})
	}
}

// TestLazyDeadlineChildren: a child context and an AfterFunc made on the request's context end
// at its deadline (context.WithCancel and context.AfterFunc ask for Done through AfterFunc).
func TestLazyDeadlineChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		ctx, cancel := withLazyDeadline(context.Background(), start.Add(time.Minute))
		defer cancel()
		child, childCancel := context.WithCancel(ctx)
		defer childCancel()
		ran := make(chan time.Time, 1)
		context.AfterFunc(ctx, func() { ran <- time.Now() })
		<-child.Done()
		if got := time.Since(start); got != time.Minute || child.Err() != context.DeadlineExceeded {
			t.Errorf("child ended after %s with %v; want 1m0s, %v", got, child.Err(), context.DeadlineExceeded)
		}
		if got := (<-ran).Sub(start); got != time.Minute {
			t.Errorf("AfterFunc ran after %s; want 1m0s", got)
		}
		early, earlyCancel := context.WithTimeout(context.Background(), time.Second)
		defer earlyCancel()
		ctx2, cancel2 := withLazyDeadline(early, time.Now().Add(time.Hour))
		defer cancel2()
		if got, _ := ctx2.Deadline(); time.Until(got) != time.Second {
			t.Errorf("deadline under an earlier parent deadline is %s away; want the parent's 1s", time.Until(got))
		}
	})
}

// TestLazyDeadlineMakesNoTimer: a request whose context nothing waits on makes no timer and
// does not register with its parent: two allocations, the context and its cancel function
// (context.WithTimeout makes more: checked by making withLazyDeadline call it).
func TestLazyDeadlineMakesNoTimer(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := testing.AllocsPerRun(100, func() {
		ctx, cancel := withLazyDeadline(parent, time.Now().Add(time.Minute))
		_, _ = ctx.Deadline()
		_ = ctx.Err()
		_ = ctx.Value(struct{}{})
		cancel()
	})
	if n > 2 {
		t.Errorf("a request context nothing waits on allocates %v times; want 2", n)
	}
}

// ctxAuth records the context an authenticator was called with; ctxMethodAuth also
// implements AuthenticateContext (as callerauth.Verifier does).
type ctxAuth struct {
	got *context.Context
}

func (a ctxAuth) Authenticate(r *http.Request) (connector.Principal, error) {
	*a.got = r.Context()
	return connector.Principal{Email: owner}, nil
}

type ctxMethodAuth struct{ ctxAuth }

func (a ctxMethodAuth) AuthenticateContext(ctx context.Context, _ *http.Request) (connector.Principal, error) {
	*a.got = ctx
	return connector.Principal{Email: owner}, nil
}

// TestAuthenticatorSeesTheRequestDeadlineAndTrace: the caller is authenticated under the
// request's deadline and trace, whether the authenticator takes the context apart
// (AuthenticateContext) or from the request.
func TestAuthenticatorSeesTheRequestDeadlineAndTrace(t *testing.T) {
	for _, withMethod := range []bool{false, true} {
		var got context.Context
		var auth Authenticator = ctxAuth{got: &got}
		if withMethod {
			auth = ctxMethodAuth{ctxAuth{got: &got}}
		}
		svc := &connector.Service{Store: store.NewMemory(), Secrets: store.NewMemorySecrets()}
		api := &API{Service: func(context.Context) (*connector.Service, error) { return svc, nil },
			Auth: auth, RequestTimeout: time.Minute}
		r := httptest.NewRequest(http.MethodGet, "/list", nil)
		api.Handler().ServeHTTP(httptest.NewRecorder(), r)
		if got == nil {
			t.Fatalf("AuthenticateContext %v: the authenticator was not called", withMethod)
		}
		if d, ok := got.Deadline(); !ok || time.Until(d) > time.Minute {
			t.Errorf("AuthenticateContext %v: the authenticator's context has deadline %v, %v; want the request's", withMethod, d, ok)
		}
		if _, ok := cloudlog.TraceFrom(got); !ok {
			t.Errorf("AuthenticateContext %v: the authenticator's context carries no trace", withMethod)
		}
	}
}
