package infratest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// indexKey writes a composite index as "eq1,eq2|order" with the filter fields sorted, since
// Firestore matches equality and array-contains fields in any order before the sort field.
func indexKey(filters []string, orderBy string) string {
	f := append([]string(nil), filters...)
	sort.Strings(f)
	return strings.Join(f, ",") + "|" + orderBy
}

// storeQueries finds, in the Go files of dir, every function that orders a query by a field,
// and returns the composite indexes its optional filters can need: each non-empty subset of
// the fields it filters on (other than the sort field itself) followed by the sort field.
func storeQueries(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	need := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			var filters []string
			orderBy := ""
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				field, _ := strconv.Unquote(lit.Value)
				switch sel.Sel.Name {
				case "Where":
					filters = append(filters, field)
				case "OrderBy":
					orderBy = field
				}
				return true
			})
			if orderBy == "" {
				continue
			}
			var opt []string
			for _, fl := range filters {
				if fl != orderBy {
					opt = append(opt, fl)
				}
			}
			for mask := 1; mask < 1<<len(opt); mask++ {
				var sub []string
				for i, fl := range opt {
					if mask&(1<<i) != 0 {
						sub = append(sub, fl)
					}
				}
				need[indexKey(sub, orderBy)] = true
			}
		}
	}
	return need
}

func TestFirestoreIndexesCoverStoreQueries(t *testing.T) {
	need := storeQueries(t, filepath.Join(repoRoot, "shared", "store"))
	if len(need) == 0 {
		t.Fatal("found no ordered query (a Where(...) and OrderBy(\"field\", ...) in one function) in shared/store")
	}

	// Terraform, from firestore.indexes.json.
	m := loadInfra(t, nil)
	r := m.Find("resource", "google_firestore_index", "connectors")
	if r == nil {
		t.Fatal("no google_firestore_index.connectors")
	}
	tfIndexes := map[string]bool{}
	for _, in := range r.Instances {
		if got := str(t, in, "collection"); got != "connectors" {
			t.Errorf("index %s collection = %q; want connectors", in.KeyString(), got)
		}
		fields, err := in.Blocks("fields")
		if err != nil {
			t.Fatal(err)
		}
		var filters []string
		last := ""
		for i, f := range fields {
			path, order, array := str(t, f, "field_path"), str(t, f, "order"), str(t, f, "array_config")
			if (order == "") == (array == "") {
				t.Errorf("index %s field %s: want exactly one of order and array_config", in.KeyString(), path)
			}
			if i == len(fields)-1 {
				last = path
				if order != "ASCENDING" {
					t.Errorf("index %s sorts %s %s; the store sorts ascending", in.KeyString(), path, order)
				}
			} else {
				filters = append(filters, path)
			}
		}
		tfIndexes[indexKey(filters, last)] = true
	}

	// scripts/deploy.sh.
	path, _ := fakeGcloud(t, true)
	out, stderr, err := runDeploy(t, path, "--dry-run", project, region)
	if err != nil {
		t.Fatalf("deploy.sh --dry-run = %v\n%s", err, stderr)
	}
	shIndexes := map[string]bool{}
	for _, c := range gcloudCommands(t, out) {
		if !hasPrefix(c, "gcloud", "firestore", "indexes", "composite", "create") {
			continue
		}
		flags, _ := Flags(c)
		if cg := flags["collection-group"]; len(cg) != 1 || cg[0] != "connectors" {
			t.Errorf("deploy.sh index collection group = %v; want connectors", cg)
		}
		fcs := flags["field-config"]
		var filters []string
		for _, fc := range fcs[:len(fcs)-1] {
			p, _, _ := strings.Cut(strings.TrimPrefix(fc, "field-path="), ",")
			filters = append(filters, p)
		}
		last, _, _ := strings.Cut(strings.TrimPrefix(fcs[len(fcs)-1], "field-path="), ",")
		shIndexes[indexKey(filters, last)] = true
	}

	for key := range need {
		if !tfIndexes[key] {
			t.Errorf("the store's query %s has no index in infra/firestore.indexes.json", key)
		}
		if !shIndexes[key] {
			t.Errorf("the store's query %s has no index in scripts/deploy.sh", key)
		}
	}
	for key := range tfIndexes {
		if !shIndexes[key] {
			t.Errorf("index %s is in Terraform but not in scripts/deploy.sh", key)
		}
	}
	for key := range shIndexes {
		if !tfIndexes[key] {
			t.Errorf("index %s is in scripts/deploy.sh but not in Terraform", key)
		}
	}
}

// deploy.sh creates the indexes infra/firestore.indexes.json declares, not a copy of its own:
// given a reader that sees a file with one more index, the dry run creates that index too.
func TestDeployShIndexesFollowTheFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "infra", "firestore.indexes.json"))
	if err != nil {
		t.Fatal(err)
	}
	const extra = `{"collectionGroup": "connectors", "queryScope": "COLLECTION", "fields": [
      {"fieldPath": "labels.team", "order": "ASCENDING"}, {"fieldPath": "name", "order": "DESCENDING"}]},`
	text := strings.Replace(string(b), `"indexes": [`, `"indexes": [`+extra, 1)
	dir := t.TempDir()
	file := filepath.Join(dir, "indexes.json")
	wrapper := filepath.Join(dir, "gcloudargs")
	script := fmt.Sprintf("#!/bin/sh\nexec %q -indexes=%q \"$@\"\n", gcloudArgs(t), file)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	path, _ := fakeGcloud(t, true)
	out, stderr, err := runDeployWith(t, "GCLOUDARGS="+wrapper, path, "--dry-run", project, region)
	if err != nil {
		t.Fatalf("deploy.sh --dry-run = %v\n%s", err, stderr)
	}
	var created int
	found := false
	for _, c := range gcloudCommands(t, out) {
		if !hasPrefix(c, "gcloud", "firestore", "indexes", "composite", "create") {
			continue
		}
		created++
		flags, _ := Flags(c)
		if slices.Equal(flags["field-config"], []string{"field-path=labels.team,order=ascending", "field-path=name,order=descending"}) {
			found = true
		}
	}
	if !found {
		t.Errorf("deploy.sh did not create the index added to the file (%d indexes created):\n%s", created, out)
	}
}
