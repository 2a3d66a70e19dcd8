package codecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// notes is the name of the design document kept beside the checkout, not in it.
const notes = "DESIGN"

// designCitation matches a citation of the design notes beside the checkout (a section of
// notes, its file, the reference/ notes, the *-anchor notes): a reader of the repository
// cannot follow it.
var designCitation = regexp.MustCompile(notes + `( §|\.md)|reference/[\w.-]+\.md|[\w-]+-anchors?(\.md| §)`)

// citations returns "name:line" for every line of files (name to content) that cites the
// design notes outside the repository.
func citations(files map[string]string) []string {
	var out []string
	for name, content := range files {
		for i, line := range strings.Split(content, "\n") {
			if designCitation.MatchString(line) {
				out = append(out, name+":"+strconv.Itoa(i+1))
			}
		}
	}
	return out
}

// TestNoDesignCitations: no tracked file but this check cites the design notes beside the
// checkout (a section, the file, the reference/ notes or the *-anchor notes); the
// repository's own documents are ARCHITECTURE.md, the README files and the package docs.
func TestNoDesignCitations(t *testing.T) {
	root := "../.."
	out, err := exec.Command("git", "-C", root, "ls-files").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout)", err)
	}
	files := map[string]string{}
	for _, name := range strings.Fields(string(out)) {
		if strings.HasPrefix(name, "internal/codecheck/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue // listed but absent from the work tree (deleted, not yet committed)
		}
		files[name] = string(b)
	}
	for _, c := range citations(files) {
		t.Errorf("%s cites the design notes outside the repository; point at ARCHITECTURE.md or a package doc", c)
	}
}

// TestCitationsFindsDesignReferences: the pattern sees both spellings and nothing else.
func TestCitationsFindsDesignReferences(t *testing.T) {
	got := citations(map[string]string{
		"a.go": "// fine\n// as " + notes + " §8 says\n",
		"b.md": "see ../shared/" + notes + ".md\ndesigned with care\n",
		"c.go": "// as reference/local-emulation.md says\n// (zenml-anchor §7.6)\n// RFC 6749 §2.3.1\n",
	})
	want := []string{"a.go:2", "b.md:1", "c.go:1", "c.go:2"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("citations = %q; want %q", got, want)
	}
}
