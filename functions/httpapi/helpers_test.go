package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/internal/testenv"
	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const audience = "https://gcpconn.test"

// Principals of the tests.
const (
	admin = "admin@example.com"
	owner = "owner@example.com"
	user  = "user@example.com"
	other = "other@example.com"
)

var testNow = time.Now().UTC().Truncate(time.Second)

// fakeGoogle stands in for connector.Google: each method calls its function field when set,
// else answers like a Google that allows everything.
type fakeGoogle struct {
	TokenFunc   func(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error)
	ListFunc    func(ctx context.Context, g connector.Grant, rt connector.ResourceType, id string) ([]string, error)
	ClusterFunc func(ctx context.Context, g connector.Grant, id string) (connector.ClusterInfo, error)
	tokens      atomic.Int64
}

func (f *fakeGoogle) Token(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
	n := f.tokens.Add(1)
	if f.TokenFunc != nil {
		return f.TokenFunc(ctx, g, req)
	}
	return connector.Token{Value: fmt.Sprintf("ya29.fake-%d-SECRETTOKEN", n), Expiry: time.Now().Add(req.Lifetime)}, nil
}

func (f *fakeGoogle) ListResources(ctx context.Context, g connector.Grant, rt connector.ResourceType, id string) ([]string, error) {
	if f.ListFunc != nil {
		return f.ListFunc(ctx, g, rt, id)
	}
	if id != "" {
		return []string{id}, nil
	}
	switch rt {
	case resourceid.GCSBucket:
		return []string{"gs://bucket-a", "gs://bucket-b"}, nil
	case resourceid.KubernetesCluster:
		return []string{"europe-west1/cluster-a"}, nil
	case resourceid.DockerRegistry:
		return []string{"europe-west1-docker.pkg.dev/demo-project/repo"}, nil
	}
	return []string{g.Connector.Config.ProjectID}, nil
}

func (f *fakeGoogle) Cluster(ctx context.Context, g connector.Grant, id string) (connector.ClusterInfo, error) {
	if f.ClusterFunc != nil {
		return f.ClusterFunc(ctx, g, id)
	}
	return connector.ClusterInfo{ID: id, Server: "https://10.0.0.1", CertificateAuthority: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}, nil
}

// BucketProject says every bucket belongs to the connector's project.
func (f *fakeGoogle) BucketProject(context.Context, connector.Grant, string) (bool, error) {
	return true, nil
}

// RegistryHost is the host itself.
func (f *fakeGoogle) RegistryHost(host string) string { return host }

// saKeyJSON is a service account key JSON with a real RSA key (never sent anywhere).
func saKeyJSON(t testing.TB, email string) map[string]any {
	t.Helper()
	return map[string]any{
		"type": "service_account", "project_id": "demo-project", "private_key_id": "abc123",
		"private_key": credjsontest.PKCS8PEM(), "client_email": email, "client_id": "1234567890",
		"token_uri": "https://oauth2.googleapis.com/token",
	}
}

// env is an API over a real Service with memory stores, a fake Google and a test issuer.
type env struct {
	t       testing.TB
	api     *API
	svc     *connector.Service
	keeper  *upkeep.Keeper // the background work over svc
	google  *fakeGoogle
	secrets *store.MemorySecrets
	iss     *callerauthtest.Issuer
	srv     *httptest.Server
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, google: &fakeGoogle{}, secrets: store.NewMemorySecrets(), iss: callerauthtest.New(t), logs: &syncBuffer{}}
	log := cloudlog.New(e.logs, nil)
	e.svc = &connector.Service{
		Store:   store.NewMemory(),
		Secrets: e.secrets,
		Google:  e.google,
		Policy:  connector.Policy{Admins: []string{admin}},
		Log:     log,
	}
	e.keeper = upkeep.New(e.svc, nil)
	e.api = &API{
		Service:      func(context.Context) (*connector.Service, error) { return e.svc, nil },
		Keeper:       func(context.Context) (*upkeep.Keeper, error) { return e.keeper, nil },
		Auth:         e.iss.Verifier(audience, nil),
		Log:          log,
		MaxBodyBytes: 64 << 10,
	}
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// token returns a valid ID token for email.
func (e *env) token(email string) string {
	return e.iss.Token(e.t, email, audience, time.Now().Add(time.Hour), nil)
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// errCode returns error.code of an error answer.
func (r response) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r response) errField() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["field"].(string)
	return s
}

// do sends method path with body (a string is sent as is, anything else as JSON) as the
// caller with ID token tok ("" = none).
func (e *env) do(method, path, tok string, body any) response {
	e.t.Helper()
	return e.doHeaders(method, path, tok, body, nil)
}

// doHeaders is do with extra request headers.
func (e *env) doHeaders(method, path, tok string, body any, h http.Header) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return r
}

// regBody returns a valid registration of a multi-type service-account connector, with extra
// applied (credjsontest.Apply: a nil value deletes the key).
func (e *env) regBody(name string, extra map[string]any) map[string]any {
	b := map[string]any{
		"name": name, "type": "gcp", "auth_method": "service-account",
		"configuration": map[string]any{"project_id": "demo-project", "service_account_json": saKeyJSON(e.t, "sa@demo-project.iam.gserviceaccount.com")},
		"users":         []string{user},
	}
	return credjsontest.Apply(b, extra)
}

// register registers name as owner and returns the connector id.
func (e *env) register(name string, extra map[string]any) string {
	e.t.Helper()
	r := e.do("POST", "/register", e.token(owner), e.regBody(name, extra))
	if r.status != http.StatusCreated {
		e.t.Fatalf("POST /register %s = %d %s; want 201", name, r.status, r.raw)
	}
	return r.body["connector"].(map[string]any)["id"].(string)
}

func (e *env) expect(r response, status int, code string) {
	e.t.Helper()
	if r.status != status || (code != "" && r.errCode() != code) {
		e.t.Fatalf("status, code = %d, %q; want %d, %q (body %s)", r.status, r.errCode(), status, code, r.raw)
	}
	if status >= 400 && r.status == status {
		if r.errCode() == "" {
			e.t.Fatalf("error answer without error.code: %s", r.raw)
		}
	}
}
