package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.register(fmt.Sprintf("conn-%d", i), map[string]any{"labels": map[string]string{"team": []string{"ml", "web"}[i%2]}})
	}
	e.register("solo", map[string]any{"users": nil})

	r := e.do("GET", "/list", e.token(owner), nil)
	e.expect(r, http.StatusOK, "")
	if n := len(r.body["connectors"].([]any)); n != 6 {
		t.Errorf("GET /list as owner: %d connectors; want 6", n)
	}
	if strings.Contains(r.raw, "PRIVATE KEY") {
		t.Errorf("GET /list reveals a key: %s", r.raw)
	}

	r = e.do("GET", "/list", e.token(user), nil)
	e.expect(r, http.StatusOK, "")
	if n := len(r.body["connectors"].([]any)); n != 5 {
		t.Errorf("GET /list as user: %d connectors; want 5 (not solo)", n)
	}
	r = e.do("GET", "/list", e.token(other), nil)
	if n := len(r.body["connectors"].([]any)); r.status != 200 || n != 0 {
		t.Errorf("GET /list as other = %d with %d connectors; want 200 with none", r.status, n)
	}

	r = e.do("GET", "/list?label=team=ml", e.token(owner), nil)
	if n := len(r.body["connectors"].([]any)); n != 3 {
		t.Errorf("GET /list?label=team=ml: %d connectors; want 3", n)
	}
	r = e.do("GET", "/list?name=solo&auth_method=service-account&resource_type=gcs-bucket", e.token(owner), nil)
	if n := len(r.body["connectors"].([]any)); n != 1 {
		t.Errorf("GET /list?name=solo...: %d connectors; want 1", n)
	}

	// Paging: 2 at a time walks all 6 exactly once.
	seen := map[string]bool{}
	tok := ""
	for page := 0; page < 10; page++ {
		r = e.do("GET", "/list?page_size=2&page_token="+tok, e.token(owner), nil)
		e.expect(r, http.StatusOK, "")
		for _, c := range r.body["connectors"].([]any) {
			name := c.(map[string]any)["name"].(string)
			if seen[name] {
				t.Errorf("paging returned %s twice", name)
			}
			seen[name] = true
		}
		next, _ := r.body["next_page_token"].(string)
		if next == "" {
			break
		}
		tok = next
	}
	if len(seen) != 6 {
		t.Errorf("paging saw %d connectors; want 6", len(seen))
	}

	r = e.do("GET", "/list?connector=conn-1", e.token(user), nil)
	e.expect(r, http.StatusOK, "")
	if c := r.body["connector"].(map[string]any); c["name"] != "conn-1" || c["configuration"].(map[string]any)["project_id"] != "demo-project" {
		t.Errorf("GET /list?connector=conn-1 = %v", c)
	}
	e.expect(e.do("GET", "/list?connector=solo", e.token(user), nil), 404, "not_found")

	r = e.do("GET", "/list?types=true", e.token(other), nil)
	e.expect(r, http.StatusOK, "")
	types := r.body["connector_types"].([]any)
	if len(types) != 1 || types[0].(map[string]any)["connector_type"] != "gcp" {
		t.Errorf("GET /list?types=true = %s; want the gcp type", r.raw)
	}

	for _, q := range []string{"?colour=red", "?page_size=abc", "?page_size=-1", "?types=maybe", "?label==x"} {
		e.expect(e.do("GET", "/list"+q, e.token(owner), nil), 400, "invalid_argument")
	}
	e.expect(e.do("GET", "/list?page_token=garbage", e.token(owner), nil), 400, "invalid_argument")
	e.expect(e.do("POST", "/list", e.token(owner), "{}"), 405, codeMethodNotAllowed)
}
