package faulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/functions/app"
	"github.com/gcpconn/gcpconn/internal/testenv"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/store/fsemu"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

const (
	audience = "https://gcpconn.faulttest"
	admin    = "admin@example.com"
	owner    = "owner@example.com"
	// requestTimeout is the service's request deadline here (60 s in production).
	requestTimeout = 10 * time.Second
	// grace is how much later than its deadline an answer may reach the client (loopback).
	grace = 2 * time.Second
)

// rig is the service over the Firestore emulator and the fake Google.
type rig struct {
	t      *testing.T
	emu    *fsemu.Emulator
	fake   *fakegcp.Server
	svc    *connector.Service
	srv    *httptest.Server
	shift  atomic.Int64 // added to the service's clock (ns): lets sweep see versions as old
	tokens map[string]string
	key    json.RawMessage // the demo admin's key file
	logs   *bytes.Buffer
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, emu: fsemu.Start(t), tokens: map[string]string{}, logs: &bytes.Buffer{}}
	fake := fakegcptest.StartExported(t, fakegcp.Options{})
	r.fake = fake
	env := fake.EnvMap()
	maps.Copy(env, map[string]string{"GCPCONN_STORE": app.StoreGoogle, "GCPCONN_AUDIENCE": audience, "GCPCONN_ADMINS": admin,
		"GCPCONN_FIRESTORE_DATABASE": "(default)", "GCPCONN_SECRET_TOPIC": "projects/zenml-core/topics/gcpconn-secrets"})
	t.Setenv("FIRESTORE_EMULATOR_HOST", r.emu.Addr)
	cfg, err := app.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	a := app.New(cfg, nil, cloudlog.New(io.Discard, nil))
	a.API.RequestTimeout = requestTimeout
	if r.svc, err = a.Service(); err != nil {
		t.Fatalf("Service: %v", err)
	}
	r.svc.Now = func() time.Time { return time.Now().Add(time.Duration(r.shift.Load())) }
	// A fresh emulator (a JVM) answers its first calls slowly: warm it before any deadline.
	wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := r.svc.Store.List(wctx, connector.Filter{}, connector.Page{}); err != nil {
		t.Fatalf("warm-up List = %v", err)
	}
	if err := r.svc.Store.Delete(wctx, "warm-up"); connector.KindOf(err) != connector.ErrNotFound {
		t.Fatalf("warm-up Delete = %v; want not_found", err)
	}
	r.srv = httptest.NewServer(a.API.Handler())
	t.Cleanup(r.srv.Close)
	for _, email := range []string{admin, owner} {
		if r.tokens[email], err = fake.IDToken(email, audience); err != nil {
			t.Fatal(err)
		}
	}
	r.key = r.keyOf("connectors-admin@zenml-core.iam.gserviceaccount.com")
	return r
}

// keyOf is the fake's key file of a service account.
func (r *rig) keyOf(email string) json.RawMessage {
	r.t.Helper()
	key, err := r.fake.KeyJSON(email)
	if err != nil {
		r.t.Fatal(err)
	}
	return key
}

// answer is one HTTP answer.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request as who and fails the test unless it is answered within the request's
// deadline (plus grace for loopback): a bounded context, not a stopwatch.
func (r *rig) do(method, target, who string, body any) answer {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout+grace)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, r.srv.URL+target, rd)
	req.Header.Set("Authorization", "Bearer "+r.tokens[who])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s not answered within its deadline (%v + %v): %v", method, target, requestTimeout, grace, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	if a.status >= 500 && (a.status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "") {
		r.t.Errorf("%s %s = %d %s; a 5xx must be 503 with Retry-After (an outage)", method, target, a.status, raw)
	}
	return a
}

// spec is a registration of a bucket connector with the demo world's admin key.
func (r *rig) spec(name string) map[string]any {
	return map[string]any{"name": name, "auth_method": "service-account", "resource_type": "gcs-bucket",
		"configuration": map[string]any{"project_id": "zenml-core", "service_account_json": r.key}}
}

// inject sets a fault on the fake's endpoint (pattern) and removes it when undo is called.
func (r *rig) inject(endpoint string, f faults.Fault) (undo func()) {
	r.fake.Faults().Set(endpoint, f)
	return func() { r.fake.Faults().Set(endpoint, faults.Fault{}) }
}

// sweep runs POST /sweep as the admin after the grace of unpinned versions and orphans.
func (r *rig) sweep() answer {
	r.t.Helper()
	r.shift.Add(int64(upkeep.VersionGrace + time.Minute))
	a := r.do("POST", "/sweep", admin, map[string]any{})
	if a.status != http.StatusOK {
		r.t.Fatalf("sweep = %d %s", a.status, a.raw)
	}
	return a
}

// connectors are every stored connector.
func (r *rig) connectors() []*connector.Connector {
	r.t.Helper()
	cs, _, err := r.svc.Store.List(context.Background(), connector.Filter{}, connector.Page{Size: connector.MaxPageSize})
	if err != nil {
		r.t.Fatalf("store List = %v", err)
	}
	return cs
}

// checkAtRest asserts the invariants that must hold after a sweep: each connector document
// has its secret and each secret its document, and each secret's only enabled version is the
// one its connector pins.
func (r *rig) checkAtRest(after string) {
	r.t.Helper()
	ctx := context.Background()
	sm := r.svc.Secrets.(*store.SecretManager)
	ids, err := sm.ListConnectorIDs(ctx)
	if err != nil {
		r.t.Fatalf("%s: ListConnectorIDs = %v", after, err)
	}
	var docs []string
	for _, c := range r.connectors() {
		docs = append(docs, c.ID)
		vs, err := sm.ListVersions(ctx, c.ID)
		if err != nil {
			r.t.Fatalf("%s: ListVersions(%s) = %v", after, c.Name, err)
		}
		var enabled []string
		for _, v := range vs {
			if v.State == upkeep.VersionEnabled {
				enabled = append(enabled, path.Base(v.Name))
			}
		}
		if !slices.Equal(enabled, []string{path.Base(c.SecretVersion)}) {
			r.t.Errorf("%s: %s pins version %s; enabled versions %v; want only the pinned one", after, c.Name, c.SecretVersion, enabled)
		}
	}
	slices.Sort(docs)
	if !slices.Equal(docs, ids) {
		r.t.Errorf("%s: connector documents %v, secrets %v; want one to one", after, docs, ids)
	}
}

// status returns the stored status of the connector named name.
func (r *rig) status(name string) connector.Status {
	r.t.Helper()
	c, err := r.svc.Store.GetByName(context.Background(), name)
	if err != nil {
		r.t.Fatalf("GetByName(%s) = %v", name, err)
	}
	return c.Status
}

func TestMain(m *testing.M) { testenv.Main(m) }
