package infratest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/functions/httpapi"
)

// TestRoutesAreTheFunctions: httpapi's Routes() is the one list of functions. Each route is
// registered in entrypoints.go under its Name, with the kind its route says (HTTP, or a
// CloudEvent function), as functions/app's function of the same name; its path is the name
// the manifest deploys it under; and nothing is registered or deployed that Routes() lacks.
func TestRoutesAreTheFunctions(t *testing.T) {
	eps := registered(t)
	m := loadManifest(t)
	appFuncs := appRegistrations(t)
	routes := (&httpapi.API{}).Routes()
	if len(routes) != len(eps) || len(routes) != len(m.Functions) {
		t.Errorf("Routes() has %d functions, entrypoints.go registers %d, functions.json deploys %d", len(routes), len(eps), len(m.Functions))
	}
	for _, rt := range routes {
		name := strings.TrimPrefix(rt.Path, "/")
		if FunctionName(rt.Name) != name {
			t.Errorf("route %s is served at %s; its deployed name is %s", rt.Name, rt.Path, FunctionName(rt.Name))
		}
		wantKind := KindHTTP
		if rt.CloudEvent {
			wantKind = KindCloudEvent
		}
		if kind, ok := eps[rt.Name]; !ok || kind != wantKind {
			t.Errorf("entrypoints.go registers %s as %q; Routes() wants %q", rt.Name, kind, wantKind)
		}
		if got := appFuncs[rt.Name]; got != rt.Name {
			t.Errorf("entrypoints.go registers %s with app.%s; want app.%s", rt.Name, got, rt.Name)
		}
		if f, ok := m.Functions[name]; !ok || f.EntryPoint != rt.Name {
			t.Errorf("functions.json does not deploy %s with entry point %s", name, rt.Name)
		}
		if len(rt.Methods) == 0 {
			t.Errorf("route %s accepts no method", rt.Name)
		}
	}
}

// appRegistrations maps each entry point that entrypoints.go registers to the name of the
// functions/app function it registers it with (functions.HTTP("X", app.Y) gives X → Y).
func appRegistrations(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot, "entrypoints.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		lit, ok1 := call.Args[0].(*ast.BasicLit)
		sel, ok2 := call.Args[1].(*ast.SelectorExpr)
		if ok1 && ok2 {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "app" {
				out[strings.Trim(lit.Value, `"`)] = sel.Sel.Name
			}
		}
		return true
	})
	return out
}
