package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/infra/infratest"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/zclconf/go-cty/cty"
)

// contractKeys is a KeyManager whose keys are made up (they authenticate with fakeGoogle,
// which accepts anything); refuse makes ListKeys refuse as Google does when the rotation
// identity may not manage the account's keys.
type contractKeys struct {
	t      *testing.T
	mu     sync.Mutex
	n      int
	refuse bool
}

func (k *contractKeys) CreateKey(_ context.Context, _ connector.Grant, email string) (string, string, error) {
	k.mu.Lock()
	k.n++
	id := fmt.Sprintf("key-%d", k.n)
	k.mu.Unlock()
	m := saKeyJSON(k.t, email)
	m["private_key_id"] = id
	b, err := json.Marshal(m)
	return id, string(b), err
}

func (k *contractKeys) ListKeys(context.Context, connector.Grant, string) ([]connector.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.refuse {
		return nil, connector.Errorf(connector.ErrFailedPrecondition, "permission denied: Google refused to list the keys")
	}
	return nil, nil
}

func (k *contractKeys) DeleteKey(context.Context, connector.Grant, string, string) error { return nil }

// TestLogContract is the contract between the code and the dashboards: it drives the real
// handlers and service through what operators watch (mints granted and refused, upstream
// errors, a caller without a token, a key rotated, then a sweep that finds a connector newly
// failing, a rotation overdue and refused, and an old key), collects every log line, and
// checks each log-based metric and log-match alert of infra/monitoring.tf against them: some
// line matches its filter, and every field its filter or label extractors name is written
// with the type they expect (labels are strings). Renaming a field in the code, or in the
// Terraform, fails here instead of silencing an alert in production.
func TestLogContract(t *testing.T) {
	e := newEnv(t)
	clock := &e2eClock{t: testNow}
	keys := &contractKeys{t: t}
	e.svc.Now, e.svc.Keys = clock.Now, keys
	e.api.SweepDefaults.MaxKeyAge = 48 * time.Hour

	e.register("good", nil)
	e.register("flaky", nil)
	e.register("rot", map[string]any{"rotation_period": "1d"})
	e.expect(e.do("POST", "/rotate", e.token(owner), map[string]any{"connector": "rot"}), http.StatusOK, "")
	e.expect(e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "good", "resource_type": "gcp-generic"}), http.StatusOK, "")
	e.expect(e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "nope", "resource_type": "gcp-generic"}), http.StatusNotFound, "not_found")
	e.expect(e.do("GET", "/list", "", nil), http.StatusUnauthorized, "unauthenticated")

	// flaky: Google unavailable, then refusing its credentials.
	kind := connector.ErrUpstreamUnavailable
	e.google.TokenFunc = func(_ context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
		if g.Connector.Name == "flaky" {
			return connector.Token{}, &connector.Error{Kind: kind, Message: "Google said no", API: "iamcredentials"}
		}
		return connector.Token{Value: "ya29.fake-SECRETTOKEN", Expiry: time.Now().Add(time.Hour)}, nil
	}
	e.expect(e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "flaky", "resource_type": "gcp-generic"}), http.StatusServiceUnavailable, "upstream_unavailable")
	kind = connector.ErrUpstreamDenied
	e.svc.Forget(e.connectorID("flaky"))
	e.expect(e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "flaky", "resource_type": "gcp-generic"}), http.StatusBadGateway, "upstream_denied")

	// Three days on: rot's key is old and its rotation overdue, and Google refuses it.
	clock.Add(72 * time.Hour)
	keys.mu.Lock()
	keys.refuse = true
	keys.mu.Unlock()
	e.expect(e.do("POST", "/sweep", e.token(admin), nil), http.StatusOK, "")

	lines := decodeLines(t, e.logs.String())
	mod, err := infratest.LoadModule("../../infra", map[string]cty.Value{"project_id": cty.StringVal("p")})
	if err != nil {
		t.Fatal(err)
	}
	filters, err := infratest.LogFilters(mod)
	if err != nil {
		t.Fatal(err)
	}
	if len(filters) < 8 {
		t.Fatalf("%d log filters in infra/monitoring.tf; the reader is broken", len(filters))
	}
	for _, f := range filters {
		if problem := checkLogFilter(f, lines); problem != "" {
			t.Errorf("%s: %s", f.Source, problem)
		}
	}
}

// connectorID returns the id of connector name (as admin).
func (e *env) connectorID(name string) string {
	e.t.Helper()
	c, err := e.svc.Get(context.Background(), connector.Principal{Email: admin}, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

func decodeLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}

// checkLogFilter says what is wrong with f against the lines the code wrote: no line matches
// it, a "!=" clause compares a field the lines do not have with that type, or a label's field
// is never written or not always a string.
func checkLogFilter(f infratest.LogFilter, lines []map[string]any) string {
	var matched []map[string]any
	for _, l := range lines {
		ok := true
		for _, c := range f.Clauses {
			v, has := infratest.Field(l, c.Field)
			ok = ok && c.Matches(l) && has && fmt.Sprintf("%T", v) == fmt.Sprintf("%T", c.Value)
		}
		if ok {
			matched = append(matched, l)
		}
	}
	if len(matched) == 0 {
		return fmt.Sprintf("no log line matches %+v (a field renamed, a value or its type changed?)", f.Clauses)
	}
	for label, field := range f.Labels {
		seen := false
		for _, l := range matched {
			v, ok := infratest.Field(l, field)
			if !ok {
				continue
			}
			if _, isString := v.(string); !isString {
				return fmt.Sprintf("label %s reads jsonPayload.%s, written as %T (%v); labels are strings", label, field, v, v)
			}
			seen = true
		}
		if !seen {
			return fmt.Sprintf("label %s reads jsonPayload.%s, which no matching line has", label, field)
		}
	}
	return ""
}
