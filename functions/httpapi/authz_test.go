package httpapi

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestAuthorizationMatrix calls each function as each kind of caller and checks the status:
// no token, a token for another audience and an expired token are 401 everywhere; someone
// who may not see the connector gets 404; users verify and mint; owners and admins also
// update, delete and rotate; only admins sweep and refresh.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)

	callers := []string{"none", "bad-audience", "expired", "other", "user", "owner", "admin"}
	token := func(caller string) string {
		switch caller {
		case "none":
			return ""
		case "bad-audience":
			return e.iss.Token(e.t, owner, "https://someone-else.test", time.Now().Add(time.Hour), nil)
		case "expired":
			return e.iss.Token(e.t, owner, audience, time.Now().Add(-10*time.Minute), nil)
		}
		return e.token(map[string]string{"other": other, "user": user, "owner": owner, "admin": admin}[caller])
	}
	event := pushBody("SECRET_ROTATE", "projects/demo-project/secrets/gcpconn-nope", "")

	for _, fn := range []struct {
		name  string
		setup func(caller string) (method, path string, body any)
		want  []int // per caller, in the order of callers
	}{
		{"register create", func(c string) (string, string, any) {
			return "POST", "/register", e.regBody("new-"+c, map[string]any{"verify": false})
		}, []int{401, 401, 401, 201, 201, 201, 201}},
		{"register update", func(c string) (string, string, any) {
			return "PUT", "/register?connector=alpha", map[string]any{"description": "by " + c}
		}, []int{401, 401, 401, 404, 403, 200, 200}},
		{"register delete", func(c string) (string, string, any) {
			name := "del-" + c
			e.register(name, nil)
			return "DELETE", "/register?connector=" + name, nil
		}, []int{401, 401, 401, 404, 403, 204, 204}},
		{"verify", func(c string) (string, string, any) {
			return "POST", "/verify", map[string]any{"connector": "alpha"}
		}, []int{401, 401, 401, 404, 200, 200, 200}},
		{"list one", func(c string) (string, string, any) { return "GET", "/list?connector=alpha", nil },
			[]int{401, 401, 401, 404, 200, 200, 200}},
		{"list all", func(c string) (string, string, any) { return "GET", "/list", nil },
			[]int{401, 401, 401, 200, 200, 200, 200}},
		{"list types", func(c string) (string, string, any) { return "GET", "/list?types=true", nil },
			[]int{401, 401, 401, 200, 200, 200, 200}},
		{"mint-token", func(c string) (string, string, any) {
			return "POST", "/mint-token", map[string]any{"connector": "alpha", "resource_type": "gcp-generic"}
		}, []int{401, 401, 401, 404, 200, 200, 200}},
		// Rotating is an owner's or admin's act; this deployment has no key manager, so the
		// callers allowed to rotate get 412 and the others are refused before that.
		{"rotate", func(c string) (string, string, any) { return "POST", "/rotate", map[string]any{"connector": "alpha"} },
			[]int{401, 401, 401, 404, 403, 412, 412}},
		{"sweep", func(c string) (string, string, any) { return "POST", "/sweep", nil },
			[]int{401, 401, 401, 403, 403, 403, 200}},
		{"refresh", func(c string) (string, string, any) { return "POST", "/refresh", event },
			[]int{401, 401, 401, 403, 403, 403, 204}},
	} {
		for i, caller := range callers {
			t.Run(fmt.Sprintf("%s/%s", fn.name, caller), func(t *testing.T) {
				e.t = t
				method, path, body := fn.setup(caller)
				r := e.do(method, path, token(caller), body)
				if r.status != fn.want[i] {
					t.Errorf("%s %s as %s = %d %s; want %d", method, path, caller, r.status, r.raw, fn.want[i])
				}
				if fn.want[i] == http.StatusUnauthorized && r.errCode() != "unauthenticated" {
					t.Errorf("401 with code %q; want unauthenticated", r.errCode())
				}
			})
		}
	}
}
