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
	s := &splitter{rs: []rune(text)}
	for ; s.i < len(s.rs); s.i++ {
		if err := s.step(); err != nil {
			return nil, err
		}
	}
	s.endCmd()
	return s.cmds, nil
}

// splitter is SplitCommands' state: the text, the position, the commands so far, the command
// and the word being read, and whether that word is a redirection's target (to be dropped).
type splitter struct {
	rs      []rune
	i       int
	cmds    [][]string
	cur     []string
	word    strings.Builder
	inWord  bool
	inRedir bool
}

// step reads the rune at s.i (and whatever belongs to it, leaving s.i on its last rune).
func (s *splitter) step() error {
	switch c := s.rs[s.i]; {
	case c == '\\':
		s.escape()
	case c == '\'':
		return s.singleQuoted()
	case c == '"':
		return s.doubleQuoted()
	case c == '#' && !s.inWord:
		for s.i < len(s.rs) && s.rs[s.i] != '\n' {
			s.i++
		}
		s.endCmd()
	case c == '\n' || c == ';':
		s.endCmd()
	case c == '&' || c == '|':
		s.separator(c)
	case c == '>' || c == '<':
		s.redirection()
	case c == ' ' || c == '\t':
		s.endWord()
	default:
		s.add(c)
	}
	return nil
}

// next reports whether the rune after s.i is c.
func (s *splitter) next(c rune) bool { return s.i+1 < len(s.rs) && s.rs[s.i+1] == c }

func (s *splitter) add(c rune) {
	s.word.WriteRune(c)
	s.inWord = true
}

// escape reads a backslash: a line continuation, or the next rune taken literally.
func (s *splitter) escape() {
	if s.next('\n') {
		s.i++
		return
	}
	if s.i+1 < len(s.rs) {
		s.i++
		s.add(s.rs[s.i])
	}
}

func (s *splitter) singleQuoted() error {
	j := s.i + 1
	for j < len(s.rs) && s.rs[j] != '\'' {
		j++
	}
	if j >= len(s.rs) {
		return fmt.Errorf("unterminated single quote at offset %d", s.i)
	}
	s.word.WriteString(string(s.rs[s.i+1 : j]))
	s.inWord = true
	s.i = j
	return nil
}

// doubleQuoted reads a double-quoted part, where a backslash escapes only " \ $ ` and newline.
func (s *splitter) doubleQuoted() error {
	rs, j := s.rs, s.i+1
	for ; j < len(rs) && rs[j] != '"'; j++ {
		if rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("\"\\$`\n", rs[j+1]) {
			j++
			if rs[j] != '\n' {
				s.word.WriteRune(rs[j])
			}
			continue
		}
		s.word.WriteRune(rs[j])
	}
	if j >= len(rs) {
		return fmt.Errorf("unterminated double quote at offset %d", s.i)
	}
	s.inWord = true
	s.i = j
	return nil
}

// separator reads &, |, && or || (the & of a redirection such as 2>&1 is part of its word).
func (s *splitter) separator(c rune) {
	if c == '&' && s.inRedir {
		s.add(c)
		return
	}
	if s.next(c) {
		s.i++
	}
	s.endCmd()
}

// redirection reads > or <: it drops the operator, any fd number before it, and (through
// inRedir) its target word.
func (s *splitter) redirection() {
	if s.inWord && isDigits(s.word.String()) {
		s.word.Reset()
		s.inWord = false
	} else {
		s.endWord()
	}
	s.inRedir = true
	if s.next('&') {
		s.i++
	}
	for s.next(' ') {
		s.i++
	}
}

func (s *splitter) endWord() {
	if !s.inWord {
		return
	}
	w := s.word.String()
	s.word.Reset()
	s.inWord = false
	if s.inRedir {
		s.inRedir = false
		return
	}
	if len(s.cur) == 0 && shellKeywords[w] {
		return
	}
	s.cur = append(s.cur, w)
}

func (s *splitter) endCmd() {
	s.endWord()
	if len(s.cur) > 0 {
		s.cmds = append(s.cmds, s.cur)
	}
	s.cur = nil
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
