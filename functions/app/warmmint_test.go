package app

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/internal/testbuild"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
)

// servedMint is the HTTP handler functions/cmd/serve builds (App.API.Handler: every route,
// callerauth against the fake Google's issuer, callergate, the Cloud Logging handler writing
// through a LineWriter), over the memory store and the fake Google (demo world), with one
// registered service-account connector, a caller's ID token and a mint request for it.
type servedMint struct {
	h          http.Handler
	token      string
	body       string
	lineWriter *cloudlog.LineWriter
}

const servedAudience = "http://gcpconn.test"

func newServedMint(tb testing.TB) *servedMint {
	tb.Helper()
	fake := fakegcptest.Start(tb, fakegcp.Options{})
	env := fake.EnvMap()
	env["GCPCONN_AUDIENCE"], env["GCPCONN_STORE"] = servedAudience, StoreMemory
	cfg, err := ConfigFromEnv(envOf(env))
	if err != nil {
		tb.Fatal(err)
	}
	lw := cloudlog.NewLineWriter(io.Discard)
	tb.Cleanup(func() { lw.Close() })
	a := New(cfg, nil, cloudlog.New(lw, &cloudlog.Options{ProjectID: cfg.Project}))
	s := &servedMint{h: a.API.Handler(), lineWriter: lw}
	if s.token, err = fake.IDToken("bench@example.com", servedAudience); err != nil {
		tb.Fatal(err)
	}
	key, err := fake.KeyJSON("connectors-admin@zenml-core.iam.gserviceaccount.com")
	if err != nil {
		tb.Fatal(err)
	}
	reg := fmt.Sprintf(`{"name":"warm","auth_method":"service-account","resource_type":"gcs-bucket","configuration":{"project_id":"zenml-core","service_account_json":%s}}`, key)
	if w := s.serve("/register", reg); w.Code != http.StatusCreated {
		tb.Fatalf("register = %d %s", w.Code, w.Body)
	}
	s.body = `{"connector":"warm","resource_id":"gs://zenml-bucket-sl"}`
	if w := s.serve("/mint-token", s.body); w.Code != http.StatusOK { // warms the caches
		tb.Fatalf("first mint = %d %s", w.Code, w.Body)
	}
	return s
}

func (s *servedMint) serve(path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+s.token)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// maxServedMintAllocs bounds the allocations of one warm mint through the handler serve
// builds, request and recorder of httptest included (54 before the deadline, decoding,
// authentication, fingerprint and resource id changes of issue 27's second round).
const maxServedMintAllocs = 44

// TestWarmMintAllocationsAsServed holds a warm mint through the whole handler serve builds
// (routing, authentication, the rate limiter, the core, the audit line through the
// LineWriter, the answer) to maxServedMintAllocs allocations: the request path as a deployed
// instance runs it, where TestWarmMintAllocations in httpapi counts the handler alone.
func TestWarmMintAllocationsAsServed(t *testing.T) {
	if testbuild.Race {
		t.Skip("the race detector drops sync.Pool items at random: allocations are counted without -race")
	}
	s := newServedMint(t)
	mint := func() {
		if w := s.serve("/mint-token", s.body); w.Code != http.StatusOK {
			t.Fatalf("mint = %d %s", w.Code, w.Body)
		}
	}
	if n := testing.AllocsPerRun(500, mint); n > maxServedMintAllocs {
		t.Errorf("a warm mint as served allocates %v times; want at most %d", n, maxServedMintAllocs)
	} else {
		t.Logf("a warm mint as served allocates %v times (bound %d)", n, maxServedMintAllocs)
	}
}

// BenchmarkWarmMintAsServed measures a warm mint through the handler serve builds.
func BenchmarkWarmMintAsServed(b *testing.B) {
	s := newServedMint(b)
	b.ReportAllocs()
	for b.Loop() {
		if w := s.serve("/mint-token", s.body); w.Code != http.StatusOK {
			b.Fatalf("mint = %d %s", w.Code, w.Body)
		}
	}
}
