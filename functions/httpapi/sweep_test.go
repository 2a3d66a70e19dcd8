package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
)

func TestSweepHandler(t *testing.T) {
	e := newEnv(t)
	for i := range 4 {
		e.register(fmt.Sprintf("conn-%d", i), nil)
	}
	e.google.TokenFunc = func(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
		if g.Connector.Name == "conn-2" {
			return denyToken(ctx, g, req)
		}
		return connector.Token{Value: "ya29.x", Expiry: testNow.Add(req.Lifetime + 1e12)}, nil
	}
	r := e.do("POST", "/sweep", e.token(admin), map[string]any{"concurrency": 2})
	e.expect(r, http.StatusOK, "")
	if r.body["checked"] != float64(4) || r.body["ok"] != float64(3) || r.body["failed"] != float64(1) {
		t.Errorf("POST /sweep = %s; want checked 4, ok 3, failed 1", r.raw)
	}
	r = e.do("GET", "/list?connector=conn-2", e.token(admin), nil)
	st := r.body["connector"].(map[string]any)["status"].(map[string]any)
	if st["state"] != "error" || st["error"] == "" || st["checked_at"] == nil {
		t.Errorf("conn-2 status after sweep = %v; want error with reason and checked_at", st)
	}
	e.expect(e.do("POST", "/sweep", e.token(admin), map[string]any{"concurency": 2}), 400, "invalid_argument")
	e.expect(e.do("GET", "/sweep", e.token(admin), nil), 405, codeMethodNotAllowed)
}
