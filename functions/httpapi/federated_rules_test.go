package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestFederatedGlobsEndAtASeparator: over HTTP against the fake's ci issuer, a glob that ends
// at a separator ("ci:repo:acme/*") admits the repositories under it; globs that cross a
// boundary are refused at registration, and a connector stored with one before the rule
// (written to the store directly) admits nobody through it: not "acme/lib-evil" for
// "acme/lib*", not "acme/lib" itself either.
func TestFederatedGlobsEndAtASeparator(t *testing.T) {
	e := newFedEnv(t)
	body := func(name string, users ...string) map[string]any {
		return map[string]any{"name": name, "auth_method": "service-account", "verify": false,
			"configuration": map[string]any{"project_id": "zenml-core", "service_account_json": e.keyJSON("connectors-admin@zenml-core.iam.gserviceaccount.com")},
			"users":         users}
	}
	mint := func(name, repo string) int {
		tok := e.ci("ci", repo, "refs/heads/main", "", nil)
		return e.do("POST", "/mint-token", tok, map[string]any{"connector": name, "resource_type": "gcp-generic"}).status
	}
	e.expect(e.do("POST", "/register", e.google(owner), body("owners", "ci:repo:acme/*")), http.StatusCreated, "")
	if got := mint("owners", "acme/lib-evil"); got != http.StatusOK {
		t.Errorf("mint by acme/lib-evil with users ci:repo:acme/* = %d; want 200", got)
	}

	for _, bad := range []string{"ci:repo:acme/lib*", "ci:repo:acme*", "nope:repo:x"} {
		r := e.do("POST", "/register", e.google(owner), body("bad", bad))
		e.expect(r, http.StatusBadRequest, "invalid_argument")
		if msg, _ := r.body["error"].(map[string]any)["message"].(string); r.errField() != "users" || !strings.Contains(msg, `"`+bad+`"`) {
			t.Errorf("register with users %q = %s; want 400 on users naming the entry", bad, r.raw)
		}
	}

	// A connector stored before the rule, with globs that cross a boundary.
	e.expect(e.do("POST", "/register", e.google(owner), body("legacy", user)), http.StatusCreated, "")
	c, err := e.svc.Store.GetByName(context.Background(), "legacy")
	if err != nil {
		t.Fatal(err)
	}
	c.Users = []string{"ci:repo:acme/lib*", "ci:repo:acm*", user}
	if err := e.svc.Store.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"acme/lib-evil", "acme/lib", "acme/pipelines"} {
		if got := mint("legacy", repo); got != http.StatusNotFound {
			t.Errorf("mint by %s through a stored glob that crosses a boundary = %d; want 404", repo, got)
		}
	}
	e.expect(e.do("POST", "/mint-token", e.google(user), map[string]any{"connector": "legacy", "resource_type": "gcp-generic"}), http.StatusOK, "")

	// Its next update is refused until the users follow the rule, naming the entry.
	r := e.do("PUT", "/register?connector=legacy", e.google(owner), map[string]any{"description": "x"})
	e.expect(r, http.StatusBadRequest, "invalid_argument")
	if r.errField() != "users" || !strings.Contains(r.raw, "ci:repo:acme/lib*") {
		t.Errorf("update of a connector with a stored crossing glob = %s; want 400 on users naming it", r.raw)
	}
	e.expect(e.do("PUT", "/register?connector=legacy", e.google(owner), map[string]any{"users": []string{"ci:repo:acme/lib:*", user}}), http.StatusOK, "")
}
