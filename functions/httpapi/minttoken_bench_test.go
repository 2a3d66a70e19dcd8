package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gcpconn/gcpconn/shared/cloudlog"
)

// BenchmarkMintTokenWarm serves a warm mint (token cached, connector cached) through the real
// handler, caller authentication and the production log handler (writing to io.Discard):
// what one mint costs the handler in time and allocations, without the network. Report
// with -benchmem.
func BenchmarkMintTokenWarm(b *testing.B) {
	e := newEnv(b)
	e.svc.RevocationWindow = 30e9
	log := cloudlog.New(io.Discard, nil)
	e.svc.Log, e.api.Log = log, log
	e.register("bench", nil)
	tok := e.token(user)
	body := []byte(`{"connector":"bench","resource_type":"gcp-generic"}`)
	h := e.api.Handler()
	mint := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/mint-token", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := mint(); w.Code != http.StatusOK {
		b.Fatalf("first mint = %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		if w := mint(); w.Code != http.StatusOK {
			b.Fatalf("mint = %d %s", w.Code, w.Body)
		}
	}
}
