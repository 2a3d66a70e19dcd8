package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestRoutesDecideMethodsAndPaths: the methods each function accepts and the list of functions
// in the 404 answer come from Routes(), not from copies in the handlers.
func TestRoutesDecideMethodsAndPaths(t *testing.T) {
	e := newEnv(t)
	tok := e.token(admin)
	routes := e.api.Routes()
	for _, rt := range routes {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			if slices.Contains(rt.Methods, m) {
				continue
			}
			r := e.do(m, rt.Path, tok, nil)
			e.expect(r, http.StatusMethodNotAllowed, codeMethodNotAllowed)
			if got, want := r.header.Get("Allow"), strings.Join(rt.Methods, ", "); got != want {
				t.Errorf("%s %s: Allow = %q; want %q", m, rt.Path, got, want)
			}
		}
	}
	r := e.do(http.MethodGet, "/nothing-here", tok, nil)
	e.expect(r, http.StatusNotFound, "not_found")
	for _, rt := range routes {
		if !strings.Contains(r.raw, rt.Path) {
			t.Errorf("404 answer %s does not name %s", r.raw, rt.Path)
		}
	}
}
