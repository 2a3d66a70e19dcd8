package exactjson

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Free-form values (a field of type any, the values of a map[string]any) are the only place
// where a document can nest as deep as it likes: a typed value nests no deeper than its Go
// type. They are decoded here, from the library's tokens, into what encoding/json makes of
// them (objects map[string]any, arrays []any, numbers float64, strings, booleans, nil):
//
//   - the depth is checked before an array or object is entered, so the recursion is at most
//     MaxDepth calls deep;
//   - members and elements are gathered on a scratch stack, reused between documents, and
//     copied once into a map or slice of their final size (the library's decoder grows a
//     []any by appending: about 5 times its final size in garbage);
//   - a value's JSON Pointer is asked of the library only when it is refused.
//
// Duplicate names, invalid UTF-8 and syntax errors are the scanner's, reported as usual.

var float64Type = reflect.TypeFor[float64]()

// freeForm decodes one free-form value.
type freeForm struct {
	d      *jsontext.Decoder
	values []any    // elements and member values of the arrays and objects being read
	names  []string // member names of the objects being read
}

var freeForms = sync.Pool{New: func() any { return new(freeForm) }}

// maxScratch is the largest scratch stack kept for the next document (entries).
const maxScratch = 1 << 14

// decodeFreeForm is the type-specific unmarshaler of *any.
func decodeFreeForm(d *jsontext.Decoder, v *any) error {
	f := freeForms.Get().(*freeForm)
	f.d = d
	x, err := f.value()
	if err == nil {
		*v = x
	}
	clear(f.values) // what a refused value left
	clear(f.names)
	if f.d = nil; cap(f.values) <= maxScratch && cap(f.names) <= maxScratch {
		f.values, f.names = f.values[:0], f.names[:0]
		freeForms.Put(f)
	}
	return err
}

// value reads one value.
func (f *freeForm) value() (any, error) {
	switch k := f.d.PeekKind(); k {
	case '[', '{':
		if f.d.StackDepth() >= MaxDepth {
			return nil, &json.SemanticError{JSONPointer: nextPointer(f.d), JSONKind: k, Err: errTooDeep}
		}
		if k == '[' {
			return f.array()
		}
		return f.object()
	}
	tok, err := f.d.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '"':
		return tok.String(), nil
	case '0':
		x, err := tok.Float()
		if err != nil {
			lit := tok.String()
			return nil, &json.SemanticError{JSONPointer: f.d.StackPointer(), JSONKind: '0', JSONValue: jsontext.Value(lit), GoType: float64Type, Err: strconv.ErrRange}
		}
		return x, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return nil, nil
}

// nextPointer is the JSON Pointer of the value d reads next: the library's pointer names the
// value read last, the previous element when the parent is an array.
func nextPointer(d *jsontext.Decoder) jsontext.Pointer {
	p := d.StackPointer()
	if k, n := d.StackIndex(d.StackDepth()); k == '[' {
		if n > 0 {
			p = p.Parent()
		}
		p = p.AppendToken(strconv.FormatInt(n, 10))
	}
	return p
}

// push adds x to the scratch stack, doubling it when full: append grows large slices by a
// quarter, which leaves about four times the final size in garbage, doubling about one.
func (f *freeForm) push(x any) {
	if len(f.values) == cap(f.values) {
		f.values = slices.Grow(f.values, max(len(f.values), 64))
	}
	f.values = append(f.values, x)
}

// array reads an array, from its '['.
func (f *freeForm) array() (any, error) {
	base, err := f.members(']')
	if err != nil {
		return nil, err
	}
	out := make([]any, len(f.values)-base)
	copy(out, f.values[base:])
	clear(f.values[base:])
	f.values = f.values[:base]
	return out, nil
}

// object reads an object, from its '{'.
func (f *freeForm) object() (any, error) {
	base, err := f.members('}')
	if err != nil {
		return nil, err
	}
	n := len(f.values) - base
	out := make(map[string]any, n)
	names := f.names[len(f.names)-n:]
	for i, name := range names {
		out[name] = f.values[base+i]
	}
	clear(f.values[base:])
	clear(names)
	f.values, f.names = f.values[:base], f.names[:len(f.names)-n]
	return out, nil
}

// members reads an array (end ']') or an object (end '}') from its opening token to its
// closing one, pushing its elements or member values onto the scratch stack from base on
// and, for an object, its member names onto f.names.
func (f *freeForm) members(end jsontext.Kind) (base int, err error) {
	if _, err := f.d.ReadToken(); err != nil {
		return 0, err
	}
	base = len(f.values)
	for f.d.PeekKind() != end {
		if end == '}' {
			name, err := f.d.ReadToken()
			if err != nil {
				return 0, err
			}
			if name.Kind() != '"' {
				return 0, errors.New("exactjson: object member without a name")
			}
			f.names = append(f.names, name.String())
		}
		x, err := f.value()
		if err != nil {
			return 0, err
		}
		f.push(x)
	}
	if _, err := f.d.ReadToken(); err != nil {
		return 0, err
	}
	return base, nil
}
