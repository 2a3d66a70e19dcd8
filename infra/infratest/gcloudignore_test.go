package infratest

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// tree is every file and directory under a module root (slash paths, .git skipped).
type tree struct {
	files []string
	dirs  map[string]bool
}

func walkTree(t *testing.T, root string) tree {
	t.Helper()
	tr := tree{dirs: map[string]bool{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			tr.dirs[rel] = true
			return nil
		}
		tr.files = append(tr.files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(tr.files)
	return tr
}

// goPackageDir reports whether the go command treats dir as holding a package of the module
// (not testdata, not a directory whose name starts with . or _).
func goPackageDir(dir string) bool {
	if dir == "." {
		return true
	}
	for _, part := range strings.Split(dir, "/") {
		if part == "testdata" || strings.HasPrefix(part, ".") || strings.HasPrefix(part, "_") {
			return false
		}
	}
	return true
}

// uploadProblems lists every way in which the upload (the module minus what ig drops) would
// not build: the root module files missing, or an uploaded package (tests included) importing
// a package, or embedding a file, that is not uploaded.
func uploadProblems(root string, tr tree, ig *Ignore) ([]string, error) {
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("read go.mod: %w", err)
	}
	modPath := ""
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			modPath = strings.Trim(f[1], `"`)
		}
	}
	if modPath == "" {
		return nil, fmt.Errorf("go.mod has no module line")
	}
	var problems []string
	for _, f := range []string{"go.mod", "go.sum"} {
		if ig.Ignored(f, false) {
			problems = append(problems, f+" is not uploaded")
		}
	}
	fset := token.NewFileSet()
	for _, f := range tr.files {
		if !strings.HasSuffix(f, ".go") || ig.Ignored(f, false) {
			continue
		}
		dir := path.Dir(f)
		if !goPackageDir(dir) {
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		pf, err := parser.ParseFile(fset, f, src, parser.ImportsOnly)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		for _, imp := range pf.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p != modPath && !strings.HasPrefix(p, modPath+"/") {
				continue
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p, modPath), "/")
			if rel == "" {
				rel = "."
			}
			if rel != "." && !tr.dirs[rel] {
				problems = append(problems, fmt.Sprintf("%s imports %s, which does not exist", f, p))
				continue
			}
			if rel != "." && ig.Ignored(rel, true) {
				problems = append(problems, fmt.Sprintf("%s imports %s, but .gcloudignore leaves %s/ out of the upload (go mod tidy would fail)", f, p, rel))
			}
		}
		for _, line := range strings.Split(string(src), "\n") {
			pats, ok := strings.CutPrefix(strings.TrimSpace(line), "//go:embed ")
			if !ok {
				continue
			}
			for _, pat := range strings.Fields(pats) {
				pat = strings.TrimPrefix(strings.Trim(pat, "\"`"), "all:")
				full := path.Clean(path.Join(dir, pat))
				for _, cand := range tr.files {
					if ok, _ := path.Match(full, cand); ok || strings.HasPrefix(cand, full+"/") {
						if ig.Ignored(cand, false) {
							problems = append(problems, fmt.Sprintf("%s embeds %s, but .gcloudignore leaves it out of the upload", f, cand))
						}
					}
				}
			}
		}
	}
	sort.Strings(problems)
	return problems, nil
}

func loadIgnore(t *testing.T, root string) *Ignore {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".gcloudignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ig, err := ParseIgnore(f)
	if err != nil {
		t.Fatalf("ParseIgnore(.gcloudignore) = %v", err)
	}
	return ig
}

// TestGcloudignoreUploadsEveryImportedPackage is the rule in .gcloudignore's header.
func TestGcloudignoreUploadsEveryImportedPackage(t *testing.T) {
	ig := loadIgnore(t, repoRoot)
	tr := walkTree(t, repoRoot)
	problems, err := uploadProblems(repoRoot, tr, ig)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	// And it does trim the upload: the deployment and tooling directories stay home.
	for _, dir := range []string{"infra", "scripts"} {
		if !ig.Ignored(dir, true) {
			t.Errorf(".gcloudignore uploads %s/", dir)
		}
	}
	for _, f := range tr.files {
		if path.Dir(f) == "." && strings.HasSuffix(f, ".go") && ig.Ignored(f, false) {
			t.Errorf(".gcloudignore leaves out %s, a file of the root package that --entry-point builds", f)
		}
	}
}

// TestUploadProblemsFindsBrokenUploads shows the check above can fail.
func TestUploadProblemsFindsBrokenUploads(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                 "module example.com/m\n\ngo 1.26\n",
		"go.sum":                 "",
		"root.go":                "package m\n\nimport _ \"example.com/m/lib\"\n",
		"lib/lib.go":             "package lib\n",
		"lib/lib_test.go":        "package lib\n\nimport _ \"example.com/m/fake\"\n",
		"fake/fake.go":           "package fake\n",
		"web/web.go":             "package web\n\nimport \"embed\"\n\n//go:embed api.md\nvar api embed.FS\n",
		"web/api.md":             "# api\n",
		"tools/tools.go":         "package tools\n\nimport _ \"example.com/m/fake\"\n",
		"lib/testdata/x/data.go": "package x\n\nimport _ \"example.com/m/fake\"\n",
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ignore string
		want   []string
	}{
		{"tools/\n", nil},
		{"fake/\ntools/\n", []string{"lib/lib_test.go imports example.com/m/fake, but .gcloudignore leaves fake/ out of the upload (go mod tidy would fail)"}},
		{"*.md\ntools/\n", []string{"web/web.go embeds web/api.md, but .gcloudignore leaves it out of the upload"}},
		{"go.sum\ntools/\n", []string{"go.sum is not uploaded"}},
		{"lib/\ntools/\n", []string{"root.go imports example.com/m/lib, but .gcloudignore leaves lib/ out of the upload (go mod tidy would fail)"}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.ignore, "\n", " "), func(t *testing.T) {
			ig, err := ParseIgnore(strings.NewReader(tt.ignore))
			if err != nil {
				t.Fatal(err)
			}
			got, err := uploadProblems(root, walkTree(t, root), ig)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("uploadProblems(%q) = %q; want %q", tt.ignore, got, tt.want)
			}
		})
	}
}

// TestTerraformUploadMatchesGcloudignore: infra/ zips the source itself (local.source_excludes);
// it must upload exactly what gcloud would.
func TestTerraformUploadMatchesGcloudignore(t *testing.T) {
	m := loadInfra(t, nil)
	v := m.Locals["source_excludes"]
	if v == cty.NilVal {
		t.Fatal("infra has no local.source_excludes")
	}
	var globs []string
	for it := v.ElementIterator(); it.Next(); {
		_, g := it.Element()
		globs = append(globs, g.AsString())
	}
	re := make([]*regexpMatcher, len(globs))
	for i, g := range globs {
		re[i] = newRegexpMatcher(g)
	}
	ig := loadIgnore(t, repoRoot)
	var diffs []string
	for _, f := range walkTree(t, repoRoot).files {
		tf := false
		for _, r := range re {
			tf = tf || r.match(f)
		}
		if gc := ig.Ignored(f, false); gc != tf {
			diffs = append(diffs, fmt.Sprintf("%s: gcloud leaves out %v, terraform leaves out %v", f, gc, tf))
		}
	}
	if len(diffs) > 10 {
		diffs = append(diffs[:10], fmt.Sprintf("... and %d more", len(diffs)-10))
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

// regexpMatcher matches a whole slash path against a glob, as archive_file's excludes do.
type regexpMatcher struct{ re *regexp.Regexp }

func newRegexpMatcher(glob string) *regexpMatcher {
	return &regexpMatcher{re: regexp.MustCompile("^" + GlobRegexp(glob) + "$")}
}

func (m *regexpMatcher) match(p string) bool { return m.re.MatchString(p) }
