package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestRegister(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/register", e.token(owner), e.regBody("alpha", map[string]any{"labels": map[string]string{"team": "ml"}}))
	e.expect(r, http.StatusCreated, "")
	c := r.body["connector"].(map[string]any)
	if c["name"] != "alpha" || c["owner"] != owner || c["auth_method"] != "service-account" || c["type"] != "gcp" {
		t.Errorf("POST /register connector = %v; want alpha owned by %s", c, owner)
	}
	if strings.Contains(r.raw, "PRIVATE KEY") || strings.Contains(r.raw, "private_key") {
		t.Errorf("POST /register answer reveals the key: %s", r.raw)
	}
	if s, _ := c["secrets"].([]any); len(s) != 1 || s[0] != "service_account_json" {
		t.Errorf("connector.secrets = %v; want [service_account_json]", c["secrets"])
	}
	// Where the secret lives, never what it holds: the store's name for it and the pinned version.
	wantSecret := map[string]any{"name": "memory/secrets/gcpconn-" + c["id"].(string), "version": "1"}
	if sec, _ := c["secret"].(map[string]any); len(sec) != 2 || sec["name"] != wantSecret["name"] || sec["version"] != wantSecret["version"] {
		t.Errorf("connector.secret = %v; want %v", c["secret"], wantSecret)
	}
	d := e.do("GET", "/list?connector=alpha", e.token(owner), nil)
	e.expect(d, http.StatusOK, "")
	if sec, _ := d.body["connector"].(map[string]any)["secret"].(map[string]any); sec["name"] != wantSecret["name"] || sec["version"] != "1" {
		t.Errorf("GET /list?connector=alpha secret = %v; want %v", sec, wantSecret)
	}
	if res, _ := r.body["resources"].(map[string]any); res == nil || len(res["resources"].([]any)) == 0 {
		t.Errorf("POST /register resources = %v; want the verification outcome", r.body["resources"])
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", r.header.Get("Cache-Control"))
	}

	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"duplicate name", e.regBody("alpha", nil), 409, "already_exists", ""},
		{"unknown field", e.regBody("beta", map[string]any{"colour": "red"}), 400, "invalid_argument", "colour"},
		{"wrong type", e.regBody("beta", map[string]any{"users": "everyone"}), 400, "invalid_argument", "users"},
		{"invalid auth method", e.regBody("beta", map[string]any{"auth_method": "telepathy"}), 400, "invalid_argument", ""},
		{"bad name", e.regBody("Bad Name!", nil), 400, "invalid_argument", ""},
		{"unknown configuration field", e.regBody("beta", map[string]any{"configuration": map[string]any{"project_id": "demo-project", "magic": true}}), 400, "invalid_argument", ""},
		{"not JSON", `{"name":`, 400, "invalid_argument", ""},
		{"two objects", `{"name":"x"} {"name":"y"}`, 400, "invalid_argument", ""},
		{"array", `[1,2]`, 400, "invalid_argument", ""},
		{"empty", ``, 400, "invalid_argument", ""},
		{"too large", `{"description":"` + strings.Repeat("x", 70<<10) + `"}`, 413, codeTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.do("POST", "/register", e.token(owner), tc.body)
			e.expect(r, tc.status, tc.code)
			if tc.field != "" && r.errField() != tc.field {
				t.Errorf("error.field = %q; want %q (%s)", r.errField(), tc.field, r.raw)
			}
		})
	}
}

func TestRegisterVerifyFailure(t *testing.T) {
	e := newEnv(t)
	e.google.TokenFunc = denyToken
	r := e.do("POST", "/register", e.token(owner), e.regBody("denied", nil))
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("POST /register with credentials Google refuses = %d %s; want a 4xx", r.status, r.raw)
	}
	r = e.do("POST", "/register", e.token(owner), e.regBody("unverified", map[string]any{"verify": false}))
	e.expect(r, http.StatusCreated, "")
}

func TestUpdateAndDelete(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)

	r := e.do("PUT", "/register?connector=alpha", e.token(owner), map[string]any{"description": "new words", "labels": map[string]string{"env": "prod"}})
	e.expect(r, http.StatusOK, "")
	c := r.body["connector"].(map[string]any)
	if c["description"] != "new words" || c["labels"].(map[string]any)["env"] != "prod" {
		t.Errorf("PUT /register connector = %v; want the new description and labels", c)
	}
	if _, ok := r.body["resources"]; ok {
		t.Errorf("PUT /register answered resources: %s", r.raw)
	}

	e.expect(e.do("PUT", "/register", e.token(owner), map[string]any{"description": "x"}), 400, "invalid_argument")
	e.expect(e.do("PUT", "/register?connector=nope", e.token(owner), map[string]any{"description": "x"}), 404, "not_found")
	e.expect(e.do("PUT", "/register?connector=alpha", e.token(owner), map[string]any{"bogus": 1}), 400, "invalid_argument")
	// A user may read and use but not administer: they see the connector, so they are told no
	// (403); a stranger is told it does not exist (404).
	e.expect(e.do("PUT", "/register?connector=alpha", e.token(user), map[string]any{"description": "x"}), 403, "permission_denied")
	e.expect(e.do("PUT", "/register?connector=alpha", e.token(other), map[string]any{"description": "x"}), 404, "not_found")
	e.expect(e.do("DELETE", "/register?connector=alpha", e.token(user), nil), 403, "permission_denied")
	e.expect(e.do("DELETE", "/register", e.token(owner), nil), 400, "invalid_argument")

	r = e.do("DELETE", "/register?connector=alpha", e.token(owner), nil)
	if r.status != http.StatusNoContent || r.raw != "" {
		t.Fatalf("DELETE /register = %d %q; want 204 and no body", r.status, r.raw)
	}
	e.expect(e.do("DELETE", "/register?connector=alpha", e.token(owner), nil), 404, "not_found")
	e.expect(e.do("GET", "/list?connector=alpha", e.token(owner), nil), 404, "not_found")
	if ids, _ := e.secrets.ListConnectorIDs(t.Context()); len(ids) != 0 {
		t.Errorf("secrets after delete = %v; want none", ids)
	}
	e.expect(e.do("PATCH", "/register?connector=alpha", e.token(owner), nil), 405, codeMethodNotAllowed)
}

// TestRotationPeriodWire: rotation_period on register, update and verify's spec is parsed at the
// edge and every refusal is a 400 naming the field; without a key manager the deployment says
// rotation is not available rather than storing a schedule nobody runs.
func TestRotationPeriodWire(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)
	userAccount := map[string]any{"auth_method": "user-account", "configuration": map[string]any{"project_id": "demo-project",
		"user_account_json": map[string]any{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}}}
	for _, tc := range []struct {
		name, method, path string
		body               any
		want               string // in the message
	}{
		{"not a duration", "POST", "/register", e.regBody("b1", map[string]any{"rotation_period": "monthly"}), "not a duration"},
		{"not days", "POST", "/register", e.regBody("b2", map[string]any{"rotation_period": "xd"}), "not a number of days"},
		{"too short", "POST", "/register", e.regBody("b3", map[string]any{"rotation_period": "12h"}), "out of range"},
		{"too long", "POST", "/register", e.regBody("b4", map[string]any{"rotation_period": "400d"}), "out of range"},
		{"a number", "POST", "/register", e.regBody("b5", map[string]any{"rotation_period": 30}), ""},
		{"user account", "POST", "/register", e.regBody("b6", mergeMaps(userAccount, map[string]any{"rotation_period": "30d"})), "cannot"},
		{"not available", "POST", "/register", e.regBody("b7", map[string]any{"rotation_period": "30d"}), "not available"},
		{"update not a duration", "PUT", "/register?connector=alpha", map[string]any{"rotation_period": "soon"}, "not a duration"},
		{"update not available", "PUT", "/register?connector=alpha", map[string]any{"rotation_period": "90d"}, "not available"},
		{"verify spec", "POST", "/verify", map[string]any{"spec": e.regBody("b8", map[string]any{"rotation_period": "0.5d"})}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.do(tc.method, tc.path, e.token(owner), tc.body)
			e.expect(r, http.StatusBadRequest, "invalid_argument")
			if r.errField() != "rotation_period" {
				t.Errorf("error.field = %q; want rotation_period (%s)", r.errField(), r.raw)
			}
			if !strings.Contains(r.raw, tc.want) {
				t.Errorf("error = %s; want it to say %q", r.raw, tc.want)
			}
		})
	}
	// "" is no rotation, on register and update alike; a connector without rotation has no
	// rotation object.
	e.t = t
	r := e.do("POST", "/register", e.token(owner), e.regBody("norot", map[string]any{"rotation_period": ""}))
	e.expect(r, http.StatusCreated, "")
	if _, ok := r.body["connector"].(map[string]any)["rotation"]; ok {
		t.Errorf("connector without rotation has a rotation object: %s", r.raw)
	}
	e.expect(e.do("PUT", "/register?connector=norot", e.token(owner), map[string]any{"rotation_period": ""}), http.StatusOK, "")
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
