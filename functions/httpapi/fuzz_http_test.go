package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/shared/callerauth"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/store"
)

// fuzzDeadline is each fuzzed request's deadline: the API must answer well within it.
const fuzzDeadline = 20 * time.Second

// fuzzAPI is the API over the memory store and the real Google adapter against the fake,
// with a connector "fz" (owned by owner) that fuzzed requests can act on.
type fuzzAPI struct {
	api    *API
	svc    *connector.Service
	tokens map[byte]string // by the input's who: 1 admin, 2 owner, 3 user, 4 a broken token
	seed   []byte          // the body registering "fz"
	made   int             // connectors created since the last reset
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	fake := fakegcptest.StartExported(f, fakegcp.Options{})
	var err error
	env := gcp.EndpointsFromEnv()
	z := &fuzzAPI{svc: &connector.Service{Google: gcp.New(env), Policy: connector.Policy{Admins: []string{admin}},
		Log: slog.New(slog.DiscardHandler)}, tokens: map[byte]string{4: "not-a-token"}}
	z.api = &API{Service: func(context.Context) (*connector.Service, error) { return z.svc, nil },
		Auth: callerauth.New(callerauth.Config{Issuer: os.Getenv("GCPCONN_ISSUER"), JWKSURL: os.Getenv("GCPCONN_JWKS_URL"), Audience: audience}),
		Log:  slog.New(slog.DiscardHandler), MaxBodyBytes: 64 << 10, RequestTimeout: 10 * time.Second}
	for who, email := range map[byte]string{1: admin, 2: owner, 3: user} {
		if z.tokens[who], err = fake.IDToken(email, audience); err != nil {
			f.Fatal(err)
		}
	}
	key, err := fake.KeyJSON("connectors-admin@zenml-core.iam.gserviceaccount.com")
	if err != nil {
		f.Fatal(err)
	}
	z.seed, _ = json.Marshal(map[string]any{"name": "fz", "auth_method": "service-account", "resource_type": "gcp-generic",
		"users": []string{user}, "configuration": map[string]any{"project_id": "zenml-core", "service_account_json": json.RawMessage(key)}})
	z.reset(f)
	return z
}

// reset gives the API fresh stores holding only "fz".
func (z *fuzzAPI) reset(tb testing.TB) {
	z.svc.Store, z.svc.Secrets, z.made = store.NewMemory(), store.NewMemorySecrets(), 0
	if rec := z.serve(context.Background(), "POST", "/register", "application/json", z.seed, 2); rec.Code != http.StatusCreated {
		tb.Fatalf("register fz = %d %s", rec.Code, rec.Body)
	}
}

// serve answers one request, or returns nil when it cannot be built (as no server would get it).
func (z *fuzzAPI) serve(ctx context.Context, method, target, ctype string, body []byte, who byte) *httptest.ResponseRecorder {
	r, err := http.NewRequestWithContext(ctx, method, "http://gcpconn.test"+target, io.NopCloser(bytes.NewReader(body)))
	if err != nil || r.URL.Host != "gcpconn.test" {
		return nil
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	if tok := z.tokens[who%5]; tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	z.api.Handler().ServeHTTP(rec, r)
	return rec
}

// fuzzAllocBase is what one fuzzed request may allocate besides budgetPerByte per body byte:
// more than a request's budgetBase, because the fake Google runs in this process and its
// work (signing tokens, serving the Google APIs a registration verifies with) counts too.
const fuzzAllocBase = 8 << 20

// FuzzHTTP sends one request (method, path and query, content type, body, caller) to every
// function of the API over the memory store and the fake Google, and checks that gcpconn
// answers it as the contract says: a status below 500 (bad input is the caller's, and nothing
// here is down), an error answer with error.code and error.message, an answer before the
// request's deadline, and no more allocation than the memory budget allows for the body
// (budgetPerByte per byte, plus fuzzAllocBase). The seed corpus (testdata/fuzz/FuzzHTTP)
// holds the hostile cases of issues #14 and #22 and runs in every go test; the hostile
// shapes of budget_test.go at the fuzz API's body cap, for every endpoint with a body, are
// seeded too.
func FuzzHTTP(f *testing.F) {
	z := newFuzzAPI(f)
	f.Add("POST", "/mint-token", "application/json", []byte(`{"connector":"fz"}`), byte(3))
	f.Add("GET", "/list?connector=fz", "", []byte(nil), byte(2))
	for _, ep := range bodyEndpoints {
		for _, shape := range hostileShapes {
			f.Add(ep.method, strings.ReplaceAll(ep.path, "alpha", "fz"), ep.ctype, hostileBody(ep, shape, int(z.api.MaxBodyBytes)), byte(1))
		}
	}
	f.Fuzz(func(t *testing.T, method, target, ctype string, body []byte, who byte) {
		if _, err := z.svc.Store.GetByName(context.Background(), "fz"); err != nil || z.made > 20 {
			z.reset(t) // "fz" deleted or renamed, or too many connectors for quick sweeps
		}
		ctx, cancel := context.WithTimeout(context.Background(), fuzzDeadline)
		defer cancel()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rec := z.serve(ctx, method, target, ctype, body, who)
		runtime.ReadMemStats(&after)
		if rec == nil {
			return
		}
		if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(budgetPerByte*len(body)+fuzzAllocBase); alloc > limit {
			t.Fatalf("%s %s with a %d-byte body allocated %d bytes; budget %d", method, target, len(body), alloc, limit)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s %s answered %d after its deadline (%v)", method, target, rec.Code, fuzzDeadline)
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%q, %q) = %d %s; want < 500", method, target, ctype, body, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusCreated {
			z.made++
		}
		if rec.Code < 400 {
			return
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s %s = %d with body %s; want an error with code and message", method, target, rec.Code, rec.Body)
		}
	})
}
