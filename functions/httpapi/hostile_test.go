package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// countingStore passes every call to the real store and counts them.
type countingStore struct {
	connector.Store
	calls atomic.Int64
}

func (s *countingStore) Create(ctx context.Context, c *connector.Connector) error {
	s.calls.Add(1)
	return s.Store.Create(ctx, c)
}

func (s *countingStore) Get(ctx context.Context, id string) (*connector.Connector, error) {
	s.calls.Add(1)
	return s.Store.Get(ctx, id)
}

func (s *countingStore) GetByName(ctx context.Context, name string) (*connector.Connector, error) {
	s.calls.Add(1)
	return s.Store.GetByName(ctx, name)
}

func (s *countingStore) List(ctx context.Context, f connector.Filter, p connector.Page) ([]*connector.Connector, string, error) {
	s.calls.Add(1)
	return s.Store.List(ctx, f, p)
}

func (s *countingStore) Update(ctx context.Context, c *connector.Connector) error {
	s.calls.Add(1)
	return s.Store.Update(ctx, c)
}

func (s *countingStore) Delete(ctx context.Context, id string) error {
	s.calls.Add(1)
	return s.Store.Delete(ctx, id)
}

// TestInvalidUTF8QueryRefusedBeforeTheStore: a query parameter that is not UTF-8 is a 400
// naming it, answered without a single store call (Firestore refuses such ids with an
// internal error, and such filters with a minute of retries).
func TestInvalidUTF8QueryRefusedBeforeTheStore(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)
	cs := &countingStore{Store: e.svc.Store}
	e.svc.Store = cs
	for _, tc := range []struct{ method, path, field string }{
		{"GET", "/list?connector=%FF%FE", "connector"},
		{"GET", "/list?name=%FF%FE", "name"},
		{"GET", "/list?auth_method=%FF", "auth_method"},
		{"GET", "/list?resource_type=%FF", "resource_type"},
		{"GET", "/list?label=team%3D%FF", "label"},
		{"GET", "/list?label=%FF", "label"},
		{"PUT", "/register?connector=%FF", "connector"},
		{"DELETE", "/register?connector=%FF", "connector"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body any
			if tc.method == "PUT" {
				body = map[string]any{"description": "x"}
			}
			r := e.do(tc.method, tc.path, e.token(admin), body)
			e.expect(r, http.StatusBadRequest, "invalid_argument")
			if r.errField() != tc.field || !strings.Contains(r.raw, "UTF-8") {
				t.Errorf("answer %s; want field %q and a message saying UTF-8", r.raw, tc.field)
			}
		})
	}
	if n := cs.calls.Load(); n != 0 {
		t.Errorf("%d store calls for requests with invalid UTF-8; want none", n)
	}
}

// TestExactJSON: keys match exactly, duplicates and unknown keys are refused at every level,
// numbers out of range are refused with the literal sent, page_size above the maximum is a
// 400, and bodies that are not JSON are a 415 naming the accepted types.
func TestExactJSON(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)
	reg := func(extra string) string {
		// A valid registration with extra members spliced in at the top level.
		return `{"name":"spliced","type":"gcp","auth_method":"service-account","verify":false,` +
			`"configuration":{"project_id":"demo-project","service_account_json":{}}` + extra + `}`
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field, msg               string
	}{
		{"case-folded duplicate name", "POST", "/register", `{"name":"a","NAME":"b"}`, 400, "NAME", `case-sensitive`},
		{"upper-case key", "POST", "/register", reg(`,"VERIFY":true`), 400, "VERIFY", "unknown field"},
		{"upper-case resource id", "POST", "/register", reg(`,"RESOURCE_ID":"x"`), 400, "RESOURCE_ID", "unknown field"},
		{"duplicate key", "POST", "/register", reg(`,"description":"a","description":"b"`), 400, "description", "more than once"},
		{"duplicate in configuration", "POST", "/register", `{"name":"d","configuration":{"project_id":"a","project_id":"b"}}`, 400, "configuration.project_id", "more than once"},
		{"duplicate in credential object", "POST", "/register", `{"name":"d","configuration":{"service_account_json":{"token_uri":"a","token_uri":"b"}}}`, 400, "configuration.service_account_json.token_uri", "more than once"},
		{"TOKEN_URI in credential string", "POST", "/register", `{"name":"d","auth_method":"service-account","verify":false,"configuration":{"project_id":"demo-project","service_account_json":"{\"type\":\"service_account\",\"TOKEN_URI\":\"http://127.0.0.1:9/t\"}"}}`, 400, "configuration.service_account_json", "token_uri\\\" only in case"},
		{"Credential_Source in credential string", "POST", "/register", `{"name":"d","auth_method":"external-account","verify":false,"configuration":{"project_id":"demo-project","external_account_json":"{\"type\":\"external_account\",\"Credential_Source\":{\"url\":\"http://127.0.0.1:9/\"}}"}}`, 400, "configuration.external_account_json", "credential_source\\\" only in case"},
		{"duplicate in credential string", "POST", "/register", `{"name":"d","auth_method":"service-account","verify":false,"configuration":{"project_id":"demo-project","service_account_json":"{\"type\":\"service_account\",\"token_uri\":\"a\",\"Token_Uri\":\"b\"}"}}`, 400, "configuration.service_account_json", "differ only in case"},
		{"duplicate in verify spec", "POST", "/verify", `{"spec":{"name":"a","name":"b"}}`, 400, "spec.name", "more than once"},
		{"upper-case in verify spec", "POST", "/verify", `{"spec":{"Name":"a"}}`, 400, "spec.Name", "unknown field"},
		{"lifetime at int64 max", "POST", "/mint-token", `{"connector":"alpha","resource_type":"gcp-generic","lifetime_seconds":9223372036854775807}`, 400, "lifetime_seconds", "got 9223372036854775807"},
		{"lifetime above int64", "POST", "/mint-token", `{"connector":"alpha","lifetime_seconds":9223372036854775808}`, 400, "lifetime_seconds", "not 9223372036854775808"},
		{"expiration above int64", "PUT", "/register?connector=alpha", `{"expiration_seconds":9223372036854775808}`, 400, "expiration_seconds", "not 9223372036854775808"},
		{"expiration fraction", "PUT", "/register?connector=alpha", `{"expiration_seconds":3600.5}`, 400, "expiration_seconds", "not 3600.5"},
		{"expiration 1e400", "PUT", "/register?connector=alpha", `{"expiration_seconds":1e400}`, 400, "expiration_seconds", "not 1e400"},
		{"sweep duplicate", "POST", "/sweep", `{"concurrency":1,"concurrency":2}`, 400, "concurrency", "more than once"},
		{"page size above max", "GET", "/list?page_size=100000", "", 400, "page_size", "from 1 to 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := e.do(tc.method, tc.path, e.token(admin), body)
			if r.status != tc.status || r.errField() != tc.field || !strings.Contains(r.raw, tc.msg) {
				t.Errorf("%s %s %s = %d %s; want %d, field %q, a message with %q", tc.method, tc.path, tc.body, r.status, r.raw, tc.status, tc.field, tc.msg)
			}
		})
	}
	if r := e.do("GET", "/list?page_size=500", e.token(admin), nil); r.status != 200 {
		t.Errorf("page_size=500 = %d %s; want 200", r.status, r.raw)
	}
}

func TestNonJSONContentTypeRefused(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "nonsense;;"} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/mint-token", strings.NewReader(`{"connector":"alpha"}`))
		req.Header.Set("Authorization", "Bearer "+e.token(owner))
		req.Header.Set("Content-Type", ct)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q = %d; want 415", ct, resp.StatusCode)
		}
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/cloudevents+json"} {
		if err := checkContentType(ct); err != nil {
			t.Errorf("checkContentType(%q) = %v; want accepted", ct, err)
		}
	}
	if err := checkContentType("text/plain"); err == nil || !strings.Contains(err.Error(), "application/json") {
		t.Errorf("checkContentType(text/plain) = %v; want a refusal naming application/json", err)
	}
}

// TestClientCancelIsNotAnInternalError: a mint whose caller goes away is logged at INFO as
// cancelled with status 499 (in the audit entry too), never as an ERROR or code internal.
func TestClientCancelIsNotAnInternalError(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)
	ctx, cancel := context.WithCancel(context.Background())
	e.google.TokenFunc = func(tctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
		cancel() // the caller hangs up while Google is asked
		<-tctx.Done()
		return connector.Token{}, tctx.Err()
	}
	req := httptest.NewRequest("POST", "/mint-token", strings.NewReader(`{"connector":"alpha","resource_type":"gcp-generic"}`)).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+e.token(owner))
	w := httptest.NewRecorder()
	e.api.Handler().ServeHTTP(w, req)
	if w.Code != statusCancelled {
		t.Errorf("status = %d %s; want 499", w.Code, w.Body)
	}
	logs := e.logs.String()
	if strings.Contains(logs, `"ERROR"`) || strings.Contains(logs, `"code":"internal"`) {
		t.Errorf("a cancelled request was logged as an error:\n%s", logs)
	}
	if !strings.Contains(logs, `"outcome":"cancelled"`) || !strings.Contains(logs, `"status":499`) {
		t.Errorf("no audit entry with outcome cancelled and status 499:\n%s", logs)
	}
}

// TestRegisterDuringOutageIs503: registering a one-bucket connector while storage answers 503
// is 503 upstream_unavailable with Retry-After (retrying will work), never 400 "failed
// verification"; nothing is stored.
func TestRegisterDuringOutageIs503(t *testing.T) {
	e := newEnv(t)
	e.google.ListFunc = func(ctx context.Context, g connector.Grant, rt connector.ResourceType, id string) ([]string, error) {
		return nil, &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "Google is unavailable or throttling (HTTP 503)"}
	}
	r := e.do("POST", "/register", e.token(owner), e.regBody("bucket", map[string]any{"resource_type": "gcs-bucket", "resource_id": "gs://bucket-a"}))
	e.expect(r, http.StatusServiceUnavailable, "upstream_unavailable")
	if r.header.Get("Retry-After") == "" || strings.Contains(r.raw, "failed verification") {
		t.Errorf("answer %v %s; want a Retry-After and no verdict", r.header, r.raw)
	}
	e.expect(e.do("GET", "/list?connector=bucket", e.token(owner), nil), http.StatusNotFound, "not_found")
	r = e.do("POST", "/verify", e.token(owner), map[string]any{"spec": e.regBody("bucket", map[string]any{"resource_type": "gcs-bucket", "resource_id": "gs://bucket-a", "users": nil})})
	e.expect(r, http.StatusServiceUnavailable, "upstream_unavailable")
}
