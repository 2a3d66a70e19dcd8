package tokens

import (
	"fmt"
	"strings"
)

// Attributes are the values a condition may read: "resource.name", "resource.type",
// "resource.service", "api:NAME" for api.getAttribute('NAME', ...), and for workload
// identity attribute conditions "assertion.CLAIM" and "attribute.NAME".
type Attributes map[string]string

// EvalCondition evaluates the small subset of CEL that Credential Access Boundary
// conditions use:
//
//	resource.name.startsWith('projects/_/buckets/b/objects/customer-a/')
//	api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('customer-a/')
//	resource.type == 'storage.googleapis.com/Object'
//
// with startsWith, endsWith, contains, ==, !=, !, &&, || and parentheses, nested at
// most MaxConditionDepth deep. An empty expression is true. Anything else is an error
// (callers deny).
func EvalCondition(expr string, attrs Attributes) (bool, error) {
	if strings.TrimSpace(expr) == "" {
		return true, nil
	}
	toks, err := lex(expr)
	if err != nil {
		return false, err
	}
	p := &parser{toks: toks, attrs: attrs}
	v, err := p.or()
	if err != nil {
		return false, err
	}
	if p.pos != len(p.toks) {
		return false, fmt.Errorf("condition: unexpected %q", p.toks[p.pos].text)
	}
	return v, nil
}

// MaxConditionDepth bounds the nesting of parentheses and negations in a condition, so
// that a hostile expression cannot exhaust the parser's stack.
const MaxConditionDepth = 32

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tPunct
)

type tok struct {
	kind tokKind
	text string
}

func lex(s string) ([]tok, error) {
	var out []tok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			j := i + 1
			var b strings.Builder
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("condition: unterminated string")
			}
			out = append(out, tok{tString, b.String()})
			i = j + 1
		case strings.HasPrefix(s[i:], "&&"), strings.HasPrefix(s[i:], "||"),
			strings.HasPrefix(s[i:], "=="), strings.HasPrefix(s[i:], "!="):
			out = append(out, tok{tPunct, s[i : i+2]})
			i += 2
		case strings.ContainsRune("()!,", rune(c)):
			out = append(out, tok{tPunct, string(c)})
			i++
		case c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			out = append(out, tok{tIdent, s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("condition: unexpected character %q", c)
		}
	}
	return out, nil
}

type parser struct {
	toks  []tok
	pos   int
	depth int // open parentheses and negations around the current position
	attrs Attributes
}

// nested parses one level deeper with parse: refused beyond MaxConditionDepth, which bounds
// the recursion of the descent on hostile input.
func (p *parser) nested(parse func() (bool, error)) (bool, error) {
	if p.depth >= MaxConditionDepth {
		return false, fmt.Errorf("condition: nested more than %d deep", MaxConditionDepth)
	}
	p.depth++
	defer func() { p.depth-- }()
	return parse()
}

func (p *parser) peek(text string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind != tString && p.toks[p.pos].text == text
}

func (p *parser) expect(text string) error {
	if !p.peek(text) {
		return fmt.Errorf("condition: expected %q", text)
	}
	p.pos++
	return nil
}

func (p *parser) str() (string, error) {
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != tString {
		return "", fmt.Errorf("condition: expected a string literal")
	}
	p.pos++
	return p.toks[p.pos-1].text, nil
}

func (p *parser) or() (bool, error) {
	return p.chain("||", p.and, func(a, b bool) bool { return a || b })
}

func (p *parser) and() (bool, error) {
	return p.chain("&&", p.unary, func(a, b bool) bool { return a && b })
}

// chain reads operands joined by op (one at least), each with operand, and combines their
// values from the left.
func (p *parser) chain(op string, operand func() (bool, error), combine func(a, b bool) bool) (bool, error) {
	v, err := operand()
	for err == nil && p.peek(op) {
		p.pos++
		var r bool
		r, err = operand()
		v = combine(v, r)
	}
	return v, err
}

func (p *parser) unary() (bool, error) {
	if p.peek("!") {
		p.pos++
		v, err := p.nested(p.unary)
		return !v, err
	}
	return p.primary()
}

// stringMethods are the CEL string methods conditions may call, by the name they end
// the identifier with.
var stringMethods = map[string]func(s, arg string) bool{
	"startsWith": strings.HasPrefix,
	"endsWith":   strings.HasSuffix,
	"contains":   strings.Contains,
}

func (p *parser) primary() (bool, error) {
	if p.peek("(") {
		p.pos++
		v, err := p.nested(p.or)
		if err != nil {
			return false, err
		}
		return v, p.expect(")")
	}
	if p.peek("true") || p.peek("false") {
		p.pos++
		return p.toks[p.pos-1].text == "true", nil
	}
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != tIdent {
		return false, fmt.Errorf("condition: expected an expression")
	}
	ident := p.toks[p.pos].text
	p.pos++
	value, method, err := p.operand(ident)
	if err != nil {
		return false, err
	}
	return p.test(ident, value, method)
}

// operand reads the value the identifier ident (already consumed) names: api.getAttribute(NAME,
// DEFAULT) or an attribute, and the string method called on it, if any.
func (p *parser) operand(ident string) (value, method string, err error) {
	if ident != "api.getAttribute" {
		return p.attribute(ident)
	}
	if err := p.expect("("); err != nil {
		return "", "", err
	}
	name, err := p.str()
	if err != nil {
		return "", "", err
	}
	if err := p.expect(","); err != nil {
		return "", "", err
	}
	def, err := p.str()
	if err != nil {
		return "", "", err
	}
	if err := p.expect(")"); err != nil {
		return "", "", err
	}
	v, ok := p.attrs["api:"+name]
	if !ok {
		v = def
	}
	// A method may follow: ").startsWith" lexes as the identifier ".startsWith".
	if p.pos < len(p.toks) && p.toks[p.pos].kind == tIdent && strings.HasPrefix(p.toks[p.pos].text, ".") {
		method = p.toks[p.pos].text[1:]
		p.pos++
	}
	return v, method, nil
}

// attribute reads the attribute ident names ("resource.name", "assertion.sub", with an
// optional ".startsWith"-style method suffix).
func (p *parser) attribute(ident string) (value, method string, err error) {
	attr := ident
	for m := range stringMethods {
		if strings.HasSuffix(ident, "."+m) {
			attr, method = strings.TrimSuffix(ident, "."+m), m
		}
	}
	switch {
	case attr == "resource.name", attr == "resource.type", attr == "resource.service":
		return p.attrs[attr], method, nil
	case strings.HasPrefix(attr, "assertion.") && len(attr) > len("assertion."),
		strings.HasPrefix(attr, "attribute.") && len(attr) > len("attribute."):
		// Workload identity attribute conditions: claims of the external token and
		// mapped attributes; a missing one is "".
		return p.attrs[attr], method, nil
	}
	return "", "", fmt.Errorf("condition: unsupported attribute %q", attr)
}

// test turns an operand into a boolean: its method applied to a string argument, or its
// comparison (== or !=) with a string.
func (p *parser) test(ident, value, method string) (bool, error) {
	if method != "" {
		fn, ok := stringMethods[method]
		if !ok {
			return false, fmt.Errorf("condition: unsupported method %q", method)
		}
		if err := p.expect("("); err != nil {
			return false, err
		}
		arg, err := p.str()
		if err != nil {
			return false, err
		}
		return fn(value, arg), p.expect(")")
	}
	if p.peek("==") || p.peek("!=") {
		op := p.toks[p.pos].text
		p.pos++
		arg, err := p.str()
		if err != nil {
			return false, err
		}
		return (value == arg) == (op == "=="), nil
	}
	return false, fmt.Errorf("condition: %q is not a boolean", ident)
}
