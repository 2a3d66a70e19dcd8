package codecheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// longFuncs returns "file:function:lines" for every function declared in the non-test Go
// files under dir (testdata excluded) that is longer than max lines.
func longFuncs(root, dir string, max int) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			if n > max {
				out = append(out, fmt.Sprintf("%s:%s:%d", filepath.ToSlash(rel), funcName(fd), n))
			}
		}
		return nil
	})
	return out, err
}

// funcName is fd's name as a reader looks for it: Name, or Type.Name for a method.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

// TestFunctionLength: no function in CheckedDirs is longer than MaxFuncLines.
func TestFunctionLength(t *testing.T) {
	for _, dir := range CheckedDirs {
		long, err := longFuncs("../..", dir, MaxFuncLines)
		if err != nil {
			t.Fatalf("read %s: %v", dir, err)
		}
		for _, l := range long {
			t.Errorf("%s lines; want at most %d (split it where a reader loses the thread)", l, MaxFuncLines)
		}
	}
}

// TestLongFuncsFindsLongFunctions: the check sees a function over the limit, names it with
// its file, its receiver and its length, and leaves test files and testdata alone.
func TestLongFuncsFindsLongFunctions(t *testing.T) {
	root := t.TempDir()
	body := strings.Repeat("\t_ = 0\n", 5)
	files := map[string]string{
		"pkg/a.go":               "package pkg\n\ntype T struct{}\n\nfunc (t *T) Long() {\n" + body + "}\n\nfunc Short() {}\n",
		"pkg/a_test.go":          "package pkg\n\nfunc LongTest() {\n" + body + "}\n",
		"pkg/testdata/x/data.go": "package x\n\nfunc LongData() {\n" + body + "}\n",
	}
	for name, src := range files {
		if err := writeFile(filepath.Join(root, name), src); err != nil {
			t.Fatal(err)
		}
	}
	got, err := longFuncs(root, "pkg", 6)
	if err != nil {
		t.Fatal(err)
	}
	if want := "pkg/a.go:T.Long:7"; len(got) != 1 || got[0] != want {
		t.Errorf("longFuncs(max 6) = %q; want [%q]", got, want)
	}
}
