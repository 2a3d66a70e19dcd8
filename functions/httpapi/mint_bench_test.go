package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
)

// benchMintHandler returns the mint-token handler over memory stores and a stand-in Google,
// with one registered service-account connector, and a caller's ID token. Logs are written
// (as JSON, to nowhere) as in production.
func benchMintHandler(b *testing.B) (http.Handler, string) {
	iss := callerauthtest.New(b)
	log := cloudlog.New(io.Discard, nil)
	svc := &connector.Service{Store: store.NewMemory(), Secrets: store.NewMemorySecrets(), Google: &fakeGoogle{},
		Policy: connector.Policy{Admins: []string{admin}}, Log: log, RevocationWindow: connector.DefaultRevocationWindow}
	api := &API{Service: func(context.Context) (*connector.Service, error) { return svc, nil },
		Auth: iss.Verifier(audience, nil), Log: log}
	h := api.Handler()
	tok := iss.Token(b, owner, audience, time.Now().Add(time.Hour), nil)
	reg, _ := json.Marshal(map[string]any{"name": "bench", "type": "gcp", "auth_method": "service-account",
		"configuration": map[string]any{"project_id": "demo-project", "service_account_json": saKeyJSON(b, "sa@demo-project.iam.gserviceaccount.com")}})
	r := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(string(reg)))
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusCreated {
		b.Fatalf("register = %d %s", w.Code, w.Body)
	}
	return h, tok
}

// BenchmarkMintHandler measures a warm mint (token cache hit) through the HTTP handler:
// authentication, decoding, the core, the audit entry and the answer; with and without a
// traceparent header.
func BenchmarkMintHandler(b *testing.B) {
	h, tok := benchMintHandler(b)
	for _, bc := range []struct{ name, traceparent string }{
		{"no-trace-header", ""},
		{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/mint-token", strings.NewReader(`{"connector":"bench","resource_type":"gcp-generic"}`))
				r.Header.Set("Authorization", "Bearer "+tok)
				r.Header.Set("Content-Type", "application/json")
				if bc.traceparent != "" {
					r.Header.Set("traceparent", bc.traceparent)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("mint = %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
