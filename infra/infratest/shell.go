package infratest

import (
	"fmt"
	"strings"
)

// SplitCommands splits shell text into simple commands, each a list of words with quotes
// removed. It understands what our scripts print and run: single and double quotes, backslash
// escapes and line continuations, comments, and the separators newline, ';', '&&', '||' and
// '|'. Redirections (>/dev/null, 2>&1) are dropped, and so are the keywords if, then, else, elif,
// fi, do, done at the start of a command. Expansions such as $x are kept as written.
func SplitCommands(text string) ([][]string, error) {
	var (
		cmds    [][]string
		cur     []string
		word    strings.Builder
		inWord  bool
		inRedir bool
	)
	endWord := func() {
		if !inWord {
			return
		}
		w := word.String()
		word.Reset()
		inWord = false
		if inRedir {
			inRedir = false
			return
		}
		if len(cur) == 0 && shellKeywords[w] {
			return
		}
		cur = append(cur, w)
	}
	endCmd := func() {
		endWord()
		if len(cur) > 0 {
			cmds = append(cmds, cur)
		}
		cur = nil
	}
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\\':
			if i+1 < len(rs) && rs[i+1] == '\n' {
				i++
				continue
			}
			if i+1 < len(rs) {
				word.WriteRune(rs[i+1])
				inWord = true
				i++
			}
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated single quote at offset %d", i)
			}
			word.WriteString(string(rs[i+1 : j]))
			inWord = true
			i = j
		case c == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("\"\\$`\n", rs[j+1]) {
					j++
					if rs[j] != '\n' {
						word.WriteRune(rs[j])
					}
					continue
				}
				word.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated double quote at offset %d", i)
			}
			inWord = true
			i = j
		case c == '#' && !inWord:
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			endCmd()
		case c == '\n' || c == ';':
			endCmd()
		case c == '&' || c == '|':
			if c == '&' && inRedir {
				word.WriteRune(c)
				inWord = true
				continue
			}
			if i+1 < len(rs) && rs[i+1] == c {
				i++
			}
			endCmd()
		case c == '>' || c == '<':
			// A redirection: drop the operator, any fd number before it, and its target word.
			if inWord && isDigits(word.String()) {
				word.Reset()
				inWord = false
			} else {
				endWord()
			}
			inRedir = true
			if i+1 < len(rs) && rs[i+1] == '&' {
				i++
			}
			for i+1 < len(rs) && rs[i+1] == ' ' {
				i++
			}
		case c == ' ' || c == '\t':
			endWord()
		default:
			word.WriteRune(c)
			inWord = true
		}
	}
	endCmd()
	return cmds, nil
}

var shellKeywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "fi": true, "do": true, "done": true, "!": true}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Flags reads the --name=value and bare --name arguments of a command (a bare flag has value
// ""). Repeated flags keep every value in order. Words that are not flags are returned as args.
func Flags(words []string) (flags map[string][]string, args []string) {
	flags = map[string][]string{}
	for _, w := range words {
		if !strings.HasPrefix(w, "--") {
			args = append(args, w)
			continue
		}
		name, value, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
		flags[name] = append(flags[name], value)
	}
	return flags, args
}

// EnvVars parses a gcloud --set-env-vars value, including the ^DELIM^ alternate-delimiter form.
func EnvVars(v string) (map[string]string, error) {
	sep := ","
	if strings.HasPrefix(v, "^") {
		end := strings.Index(v[1:], "^")
		if end < 0 {
			return nil, fmt.Errorf("unterminated ^delimiter^ in %q", v)
		}
		sep = v[1 : 1+end]
		v = v[end+2:]
	}
	env := map[string]string{}
	for _, kv := range strings.Split(v, sep) {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("env entry %q is not KEY=VALUE", kv)
		}
		if _, dup := env[k]; dup {
			return nil, fmt.Errorf("env var %s set twice", k)
		}
		env[k] = val
	}
	return env, nil
}
