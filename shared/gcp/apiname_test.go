package gcp

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// TestAPIOfEveryCall: every call to upstream or keysError in this package describes its call
// with words that apiOf maps to a Google API, so no upstream_error log line says "other" for a
// call we make. It reads the package's source: a new call with new words fails here.
func TestAPIOfEveryCall(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	calls := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			id, ok := call.Fun.(*ast.Ident)
			if !ok || (id.Name != "upstream" && id.Name != "keysError") {
				return true
			}
			what, ok := leadingLiteral(call.Args[0])
			if !ok {
				return true // upstream(what, err) inside keysError, or upstream("", err) for the kind only
			}
			calls++
			if api := apiOf(what); api == "other" {
				t.Errorf("%s: %s(%q...) maps to no Google API; add its words to apiPrefixes", fset.Position(call.Pos()), id.Name, what)
			}
			return true
		})
	}
	if calls < 15 {
		t.Errorf("found %d described calls to upstream/keysError; the reader is broken", calls)
	}
}

// leadingLiteral returns the string literal an argument starts with: "x", "x"+y or
// fmt.Sprintf("x...", ...).
func leadingLiteral(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		return s, err == nil && s != ""
	case *ast.BinaryExpr:
		return leadingLiteral(e.X)
	case *ast.CallExpr:
		if len(e.Args) > 0 {
			return leadingLiteral(e.Args[0])
		}
	}
	return "", false
}

// TestUpstreamNamesTheAPI: the error upstream returns carries the API, which
// connector.APIOf finds through wrapping.
func TestUpstreamNamesTheAPI(t *testing.T) {
	err := upstream("generateAccessToken for sa@p.iam.gserviceaccount.com", errors.New("dial tcp: refused"))
	wrapped := &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "mint a token", Err: err}
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"direct", err, "iamcredentials"},
		{"wrapped", wrapped, "iamcredentials"},
		{"sts", upstream("STS token exchange", errors.New("x")), "sts"},
		{"unknown words", upstream("something new", errors.New("x")), "other"},
		{"not upstream", errors.New("x"), ""},
	} {
		if got := connector.APIOf(tt.err); got != tt.want {
			t.Errorf("%s: APIOf = %q; want %q", tt.name, got, tt.want)
		}
	}
}
