package infratest

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// An Ignore is a parsed .gcloudignore (gitignore syntax): Ignored says whether gcloud leaves a
// path out of the upload.
type Ignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	text    string
	negate  bool
	dirOnly bool
	re      *regexp.Regexp // matched against the slash-separated path relative to the root
}

// ParseIgnore reads gcloudignore rules. Directives such as #!include are refused, since their
// effect could not be checked here.
func ParseIgnore(r io.Reader) (*Ignore, error) {
	ig := &Ignore{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t")
		if strings.HasPrefix(line, "#!") {
			return nil, fmt.Errorf("line %d: directive %q is not supported by this checker", n, line)
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rule := ignoreRule{text: line}
		if strings.HasPrefix(line, "!") {
			rule.negate = true
			line = line[1:]
		}
		if strings.HasSuffix(line, "/") {
			rule.dirOnly = true
			line = strings.TrimSuffix(line, "/")
		}
		anchored := strings.Contains(line, "/")
		line = strings.TrimPrefix(line, "/")
		expr := GlobRegexp(line)
		if !anchored {
			expr = "(?:.*/)?" + expr
		}
		re, err := regexp.Compile("^" + expr + "$")
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rule.re = re
		ig.rules = append(ig.rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ignore file: %w", err)
	}
	return ig, nil
}

// Ignored reports whether the slash-separated path rel (relative to the upload root; isDir
// when it names a directory) is left out. A path inside an ignored directory is ignored.
func (ig *Ignore) Ignored(rel string, isDir bool) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if ig.match(strings.Join(parts[:i], "/"), true) {
			return true
		}
	}
	return ig.match(rel, isDir)
}

func (ig *Ignore) match(rel string, isDir bool) bool {
	ignored := false
	for _, r := range ig.rules {
		if r.dirOnly && !isDir {
			continue
		}
		if r.re.MatchString(rel) {
			ignored = !r.negate
		}
	}
	return ignored
}

// GlobRegexp translates a glob with *, ?, [...] and ** (any number of directories) into a
// regular expression body (without anchors).
func GlobRegexp(glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch {
		case strings.HasPrefix(glob[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(glob[i:], "/**") && i+3 == len(glob):
			b.WriteString("(?:/.*)?")
			i += 2
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(glob[i:], ']')
			if j < 0 {
				b.WriteString(regexp.QuoteMeta(string(c)))
				continue
			}
			class := glob[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}
