package identity

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// FuzzHandler sends arbitrary requests to every identity endpoint: bad input must never
// produce a 5xx or a panic.
func FuzzHandler(f *testing.F) {
	w := world.Demo()
	reg := tokens.NewRegistry(nil)
	svc := New(Config{BaseURL: "http://127.0.0.1:1", World: w, Tokens: reg})
	h := svc.Handler()
	tok := reg.Issue(tokens.Token{Member: "serviceAccount:empty-connectors@zenml-core.iam.gserviceaccount.com", Email: "empty-connectors@zenml-core.iam.gserviceaccount.com", Expiry: time.Now().Add(time.Hour)})
	for _, seed := range []struct{ method, path, ctype, body string }{
		{"POST", "/token", "application/x-www-form-urlencoded", "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=a.b.c"},
		{"POST", "/token", "application/x-www-form-urlencoded", "grant_type=refresh_token&client_id=x&refresh_token=y"},
		{"POST", "/v1/token", "application/x-www-form-urlencoded", "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token_type=urn:ietf:params:oauth:token-type:access_token&subject_token=" + tok + "&options=%7B%22accessBoundary%22%3A%7B%7D%7D"},
		{"POST", "/v1/token", "application/x-www-form-urlencoded", "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token_type=urn:ietf:params:oauth:token-type:jwt&subject_token=e30.e30.e30&audience=//iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/providers/ci-oidc"},
		{"POST", "/v1/projects/-/serviceAccounts/zenml-bucket-sl@zenml-core.iam.gserviceaccount.com:generateAccessToken", "application/json", `{"scope":["x"],"lifetime":"1e400s","delegates":["projects/-/serviceAccounts/"]}`},
		{"POST", "/v1/projects/-/serviceAccounts/zenml-bucket-sl@zenml-core.iam.gserviceaccount.com:signJwt", "application/json", `{"payload":"{\"exp\":1e300}"}`},
		{"POST", "/v1/projects/-/serviceAccounts/zenml-bucket-sl@zenml-core.iam.gserviceaccount.com:signBlob", "application/json", `{"payload":"!!"}`},
		{"GET", "/computeMetadata/v1/instance/service-accounts/default/identity?audience=x", "", ""},
		{"POST", "/admin/bindings", "application/json", `{"resource":"projects/x","role":"roles/owner","members":["user:a"],"condition":"(("}`},
		{"POST", "/admin/oidc-token", "application/json", `{"subject":"s","audience":"a","lifetime_seconds":-1}`},
	} {
		f.Add(seed.method, seed.path, seed.ctype, seed.body)
	}
	f.Fuzz(func(t *testing.T, method, path, ctype, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n#") || (method != "GET" && method != "POST" && method != "DELETE") {
			return
		}
		r, err := http.NewRequest(method, "http://127.0.0.1:1"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", ctype)
		r.Header.Set("Metadata-Flavor", "Google")
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Errorf("%s %s %q = %d %s; want no 5xx", method, path, body, rec.Code, rec.Body)
		}
	})
}
