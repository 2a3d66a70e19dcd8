package main

import (
	"fmt"
	"strings"
)

// flagSpec declares one flag of a command.
type flagSpec struct {
	Name   string // long name without dashes, e.g. "resource-type"
	Short  string // one letter, or ""
	Value  string // placeholder of the value (e.g. "TYPE"); "" for a boolean flag
	Repeat bool   // may be given several times
	Help   string
}

// parsed is a command line split into positional arguments, declared flags and, for
// commands that take configuration, extra --key=value settings.
type parsed struct {
	Pos    []string
	Flags  map[string][]string // by long name; booleans hold "true"
	Extras map[string]string   // --key=value not declared by the command
	order  []string            // extras in command-line order
}

func (p *parsed) str(name string) string {
	if v := p.Flags[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func (p *parsed) has(name string) bool { return len(p.Flags[name]) > 0 }

func (p *parsed) bool(name string) bool { return p.str(name) == "true" }

func (p *parsed) all(name string) []string { return p.Flags[name] }

// extraKeys returns the extra settings' keys in command-line order.
func (p *parsed) extraKeys() []string { return p.order }

// parseArgs parses argv against specs. Flags may come before, between and after
// positional arguments; "--" ends flags. A flag's value is "--name=value" or the next
// argument; booleans take "--name" or "--name=true|false". When extras is true, undeclared
// "--key=value" arguments become configuration settings; otherwise they are usage errors.
func parseArgs(specs []flagSpec, argv []string, extras bool) (*parsed, error) {
	byName := map[string]flagSpec{}
	for _, s := range specs {
		byName[s.Name] = s
		if s.Short != "" {
			byName[s.Short] = s
		}
	}
	p := &parsed{Flags: map[string][]string{}, Extras: map[string]string{}}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			p.Pos = append(p.Pos, argv[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			p.Pos = append(p.Pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		long := strings.HasPrefix(a, "--")
		s, ok := byName[name]
		if ok && !long && s.Short != name {
			ok = false // -resource-type: only single letters take one dash
		}
		if !ok {
			if extras && long && hasVal && name != "" {
				if _, dup := p.Extras[name]; dup {
					return nil, usageErrorf("--%s is given twice", name)
				}
				p.Extras[name] = val
				p.order = append(p.order, name)
				continue
			}
			// Name the flag without its value: a mistyped --token=... must not reach stderr.
			flag := strings.TrimSuffix(a, "="+val)
			if extras && long && !hasVal {
				return nil, usageErrorf("unknown flag %s (configuration values are given as --key=value)", flag)
			}
			return nil, usageErrorf("unknown flag %s", flag)
		}
		if s.Value == "" {
			if !hasVal {
				val = "true"
			} else if val != "true" && val != "false" {
				return nil, usageErrorf("--%s takes no value (or =true/=false), not %q", s.Name, val)
			}
		} else if !hasVal {
			if i+1 >= len(argv) {
				return nil, usageErrorf("--%s needs a value (%s)", s.Name, s.Value)
			}
			i++
			val = argv[i]
		}
		if len(p.Flags[s.Name]) > 0 && !s.Repeat && s.Value != "" {
			return nil, usageErrorf("--%s is given twice", s.Name)
		}
		p.Flags[s.Name] = append(p.Flags[s.Name], val)
	}
	return p, nil
}

// keyValues parses repeated KEY=VALUE flags (labels).
func keyValues(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--%s %q is not KEY=VALUE", flag, v)
		}
		m[k] = val
	}
	return m, nil
}

// flagHelp renders the flag table of a command's help.
func flagHelp(specs []flagSpec) string {
	var b strings.Builder
	rows := make([][2]string, 0, len(specs))
	width := 0
	for _, s := range specs {
		left := "--" + s.Name
		if s.Short != "" {
			left = "-" + s.Short + ", " + left
		} else {
			left = "    " + left
		}
		if s.Value != "" {
			left += " " + s.Value
		}
		if len(left) > width {
			width = len(left)
		}
		help := s.Help
		if s.Repeat {
			help += " (repeatable)"
		}
		rows = append(rows, [2]string{left, help})
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, r[0], r[1])
	}
	return b.String()
}
