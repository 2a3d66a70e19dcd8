package infratest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// FrameworkFunctions is the import path whose HTTP and CloudEvent calls register entry points.
const FrameworkFunctions = "github.com/GoogleCloudPlatform/functions-framework-go/functions"

// Entry point kinds, as registered with the functions framework.
const (
	KindHTTP       = "HTTP"
	KindCloudEvent = "CloudEvent"
)

// Registered returns the entry points the package in dir registers (name -> KindHTTP or
// KindCloudEvent), read from calls functions.HTTP("Name", ...) and functions.CloudEvent("Name",
// ...) in its non-test files. A name that is not a string literal, or registered twice, is an
// error: the deployment could not be checked against it.
func Registered(dir string) (map[string]string, error) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, fmt.Errorf("list go files: %w", err)
	}
	sort.Strings(names)
	out := map[string]string{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read entry points: %w", err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			return nil, fmt.Errorf("parse entry points: %w", err)
		}
		local := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == FrameworkFunctions {
				local = "functions"
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" {
			continue
		}
		var firstErr error
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || pkg.Name != local || (sel.Sel.Name != KindHTTP && sel.Sel.Name != KindCloudEvent) {
				return true
			}
			pos := fset.Position(call.Pos())
			if len(call.Args) == 0 {
				firstErr = fmt.Errorf("%s: %s.%s without a name", pos, local, sel.Sel.Name)
				return false
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				firstErr = fmt.Errorf("%s: entry point name is not a string literal", pos)
				return false
			}
			ep, _ := strconv.Unquote(lit.Value)
			if _, dup := out[ep]; dup {
				firstErr = fmt.Errorf("%s: entry point %q registered twice", pos, ep)
				return false
			}
			out[ep] = sel.Sel.Name
			return true
		})
		if firstErr != nil {
			return nil, firstErr
		}
	}
	return out, nil
}

// FunctionName is the deployed name (and URL path) of an entry point: MintToken -> mint-token.
func FunctionName(entryPoint string) string {
	var b strings.Builder
	for i, r := range entryPoint {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
