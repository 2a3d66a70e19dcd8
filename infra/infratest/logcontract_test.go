package infratest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/httpapi"
	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// TestLogContract is the contract between the code and the dashboards: it drives the real
// HTTP handlers and service (memory stores, a stand-in Google and key manager, an injected
// clock) through what operators watch: mints granted and refused, upstream errors, a caller
// without a token, a key rotated, then a sweep three days on that finds a connector newly
// failing, a rotation overdue and refused and an old key. It collects every log line and
// checks each log-based metric and log-match alert of monitoring.tf against them: some line
// matches its filter with the value types it compares, and every label's field is written,
// as a string. Renaming a log field in the code (or in the Terraform) fails here instead of
// silencing an alert in production.
func TestLogContract(t *testing.T) {
	h := newContractHarness(t)
	h.register("good", nil)
	h.register("flaky", nil)
	h.register("rot", map[string]any{"rotation_period": "1d"})
	h.expect("POST", "/rotate", ownerEmail, map[string]any{"connector": "rot"}, http.StatusOK)
	h.expect("POST", "/mint-token", userEmail, mintOf("good"), http.StatusOK)
	h.expect("POST", "/mint-token", userEmail, mintOf("nope"), http.StatusNotFound)
	h.expect("GET", "/list", "", nil, http.StatusUnauthorized)
	h.google.fail("flaky", connector.ErrUpstreamUnavailable)
	h.expect("POST", "/mint-token", userEmail, mintOf("flaky"), http.StatusServiceUnavailable)
	h.google.fail("flaky", connector.ErrUpstreamDenied)
	h.svc.Forget(h.ids["flaky"])
	h.expect("POST", "/mint-token", userEmail, mintOf("flaky"), http.StatusBadGateway)
	h.advance(72 * time.Hour) // rot's key is now old and its rotation overdue; Google refuses it
	h.keys.refuse()
	h.expect("POST", "/sweep", adminEmail, nil, http.StatusOK)

	mod := loadInfra(t, nil)
	filters, err := LogFilters(mod)
	if err != nil {
		t.Fatal(err)
	}
	if len(filters) < 8 {
		t.Fatalf("%d log filters in monitoring.tf; the reader is broken", len(filters))
	}
	lines := decodeLines(t, h.logs.String())
	for _, f := range filters {
		if problem := checkLogFilter(f, lines); problem != "" {
			t.Errorf("%s: %s", f.Source, problem)
		}
	}
}

func mintOf(name string) map[string]any {
	return map[string]any{"connector": name, "resource_type": "gcp-generic"}
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
// it (with the types it compares), or a label's field is never written or not a string.
func checkLogFilter(f LogFilter, lines []map[string]any) string {
	var matched []map[string]any
	for _, l := range lines {
		ok := true
		for _, c := range f.Clauses {
			v, has := Field(l, c.Field)
			ok = ok && has && c.Matches(l) && fmt.Sprintf("%T", v) == fmt.Sprintf("%T", c.Value)
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
			v, ok := Field(l, field)
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

// Callers of the contract's requests.
const (
	adminEmail = "admin@example.com"
	ownerEmail = "owner@example.com"
	userEmail  = "user@example.com"
	audience   = "https://gcpconn.test"
)

// contractHarness is the functions over a real Service with memory stores, a stand-in
// Google and key manager, an injected clock and a test issuer, logging to a buffer.
type contractHarness struct {
	t      *testing.T
	svc    *connector.Service
	srv    *httptest.Server
	iss    *callerauthtest.Issuer
	google *contractGoogle
	keys   *contractKeys
	logs   *syncBuffer
	mu     sync.Mutex
	now    time.Time
	ids    map[string]string
}

func newContractHarness(t *testing.T) *contractHarness {
	h := &contractHarness{t: t, iss: callerauthtest.New(t), google: &contractGoogle{failing: map[string]connector.Kind{}},
		keys: &contractKeys{}, logs: &syncBuffer{}, now: time.Now().UTC().Truncate(time.Second), ids: map[string]string{}}
	log := cloudlog.New(h.logs, nil)
	h.svc = &connector.Service{Store: store.NewMemory(), Secrets: store.NewMemorySecrets(), Google: h.google,
		Policy: connector.Policy{Admins: []string{adminEmail}}, Log: log, Now: h.clock}
	keeper := upkeep.New(h.svc, h.keys)
	api := &httpapi.API{Service: func(context.Context) (*connector.Service, error) { return h.svc, nil },
		Keeper: func(context.Context) (*upkeep.Keeper, error) { return keeper, nil },
		Auth:   h.iss.Verifier(audience, nil), Log: log, SweepDefaults: upkeep.SweepOptions{MaxKeyAge: 48 * time.Hour}}
	h.srv = httptest.NewServer(api.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

func (h *contractHarness) clock() time.Time { h.mu.Lock(); defer h.mu.Unlock(); return h.now }

func (h *contractHarness) advance(d time.Duration) { h.mu.Lock(); h.now = h.now.Add(d); h.mu.Unlock() }

// expect sends method path as caller ("" = no token) with body as JSON and fails the test
// unless the answer has status; it returns the decoded answer.
func (h *contractHarness) expect(method, path, caller string, body any, status int) map[string]any {
	h.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if caller != "" {
		req.Header.Set("Authorization", "Bearer "+h.iss.Token(h.t, caller, audience, time.Now().Add(time.Hour), nil))
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != status {
		h.t.Fatalf("%s %s = %d %v; want %d", method, path, resp.StatusCode, out, status)
	}
	return out
}

// register registers a service-account connector name as the owner, shared with the user.
func (h *contractHarness) register(name string, extra map[string]any) {
	h.t.Helper()
	b := map[string]any{"name": name, "type": "gcp", "auth_method": "service-account", "users": []string{userEmail},
		"configuration": map[string]any{"project_id": "demo-project", "service_account_json": serviceAccountKey("sa@demo-project.iam.gserviceaccount.com", "key-0")}}
	for k, v := range extra {
		b[k] = v
	}
	out := h.expect("POST", "/register", ownerEmail, b, http.StatusCreated)
	h.ids[name] = out["connector"].(map[string]any)["id"].(string)
}

// serviceAccountKey is a service-account key JSON with a real RSA key (never sent anywhere).
func serviceAccountKey(email, id string) map[string]any {
	return map[string]any{"type": "service_account", "project_id": "demo-project", "private_key_id": id,
		"private_key": credjsontest.PKCS8PEM(), "client_email": email, "client_id": "1234567890", "token_uri": "https://oauth2.googleapis.com/token"}
}

// contractGoogle answers like a Google that allows everything, except for the connectors
// made to fail with a kind (as an upstream error of the IAM Credentials API).
type contractGoogle struct {
	mu      sync.Mutex
	failing map[string]connector.Kind
}

func (g *contractGoogle) fail(name string, k connector.Kind) {
	g.mu.Lock()
	g.failing[name] = k
	g.mu.Unlock()
}

func (g *contractGoogle) Token(_ context.Context, gr connector.Grant, req connector.TokenRequest) (connector.Token, error) {
	g.mu.Lock()
	k, failing := g.failing[gr.Connector.Name]
	g.mu.Unlock()
	if failing {
		return connector.Token{}, &connector.Error{Kind: k, Message: "Google said no", API: "iamcredentials"}
	}
	return connector.Token{Value: "ya29.contract-SECRETTOKEN", Expiry: time.Now().Add(time.Hour)}, nil
}

func (g *contractGoogle) ListResources(_ context.Context, gr connector.Grant, rt connector.ResourceType, id string) ([]string, error) {
	if id != "" {
		return []string{id}, nil
	}
	switch rt {
	case resourceid.GCSBucket:
		return []string{"gs://bucket-a"}, nil
	case resourceid.KubernetesCluster:
		return []string{"europe-west1/cluster-a"}, nil
	case resourceid.DockerRegistry:
		return []string{"europe-west1-docker.pkg.dev/demo-project/repo"}, nil
	}
	return []string{gr.Connector.Config.ProjectID}, nil
}

func (g *contractGoogle) Cluster(_ context.Context, _ connector.Grant, id string) (connector.ClusterInfo, error) {
	return connector.ClusterInfo{ID: id, Server: "https://10.0.0.1", CertificateAuthority: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}, nil
}

func (g *contractGoogle) BucketProject(context.Context, connector.Grant, string) (bool, error) {
	return true, nil
}

func (g *contractGoogle) RegistryHost(host string) string { return host }

// contractKeys is a KeyManager whose new keys authenticate with contractGoogle; once refused,
// it refuses as Google does when the rotation identity may not manage the account's keys.
type contractKeys struct {
	mu      sync.Mutex
	n       int
	refused bool
}

func (k *contractKeys) refuse() { k.mu.Lock(); k.refused = true; k.mu.Unlock() }

func (k *contractKeys) CreateKey(_ context.Context, _ connector.Grant, email string) (string, string, error) {
	k.mu.Lock()
	k.n++
	id := fmt.Sprintf("key-%d", k.n)
	k.mu.Unlock()
	b, err := json.Marshal(serviceAccountKey(email, id))
	return id, string(b), err
}

func (k *contractKeys) ListKeys(context.Context, connector.Grant, string) ([]upkeep.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.refused {
		return nil, connector.Errorf(connector.ErrFailedPrecondition, "permission denied: Google refused to list the keys")
	}
	return nil, nil
}

func (k *contractKeys) DeleteKey(context.Context, connector.Grant, string, string) error { return nil }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
