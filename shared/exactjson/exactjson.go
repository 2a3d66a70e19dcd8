// Package exactjson decodes JSON exactly as gcpconn's contract reads it (DESIGN §8, Exact
// JSON), where encoding/json is lenient:
//
//   - keys match a struct's field names exactly: "NAME" is not "name" (encoding/json folds
//     case);
//   - a key that appears twice in one object is refused, at every level, in maps and in
//     free-form values (encoding/json keeps the last one);
//   - a key that names no field is refused, at every level;
//   - a number that does not fit its field is refused with the literal the caller sent
//     ("9223372036854775808", "3600.5", "1e400"), not a parsed float;
//   - a value of the wrong JSON type is refused naming the field and the type it must be.
//
// Decode checks the document against the Go type of its target first (a walk over the token
// stream, so it costs one extra pass and no allocation per value), then decodes it with
// encoding/json. Every refusal is an *Error naming the path of the value at fault, dotted
// ("spec.configuration.project_id", "scopes[2]"), and a message safe to show the caller: it
// quotes keys and numbers, never string values (which may be secrets).
package exactjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Error is a refusal: the value at Path is not what its type accepts.
type Error struct {
	Path string // dotted path of the value at fault; "" for the document itself
	Msg  string // caller-safe; never holds a string value of the document
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return fmt.Sprintf("field %q: %s", e.Path, e.Msg)
}

// Decode decodes the one JSON value in data into v (a non-nil pointer), exactly: see the
// package doc. Trailing data after the value is refused.
func Decode(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("exactjson: Decode needs a non-nil pointer, not %T", v)
	}
	if err := Check(data, rv.Type().Elem()); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return &Error{Msg: "could not be decoded: " + err.Error()}
	}
	return nil
}

// Check reports whether data is exactly one JSON value that t accepts (see the package doc),
// without decoding it.
func Check(data []byte, t reflect.Type) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	w := walker{d: d}
	if err := w.value(t, ""); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return &Error{Msg: "holds data after the JSON value"}
	}
	return nil
}

type walker struct{ d *json.Decoder }

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	anyType         = reflect.TypeFor[any]()
)

func (w *walker) token() (json.Token, error) {
	tok, err := w.d.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &Error{Msg: fmt.Sprintf("is not valid JSON (offset %d): %s", se.Offset, se.Error())}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &Error{Msg: "is not valid JSON: it ends too early"}
		}
		return nil, &Error{Msg: "is not valid JSON: " + err.Error()}
	}
	return tok, nil
}

// value walks one value, which t must accept, at path.
func (w *walker) value(t reflect.Type, path string) error {
	tok, err := w.token()
	if err != nil {
		return err
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != anyType && reflect.PointerTo(t).Implements(unmarshalerType) {
		// The type reads itself (time.Time, json.RawMessage): check only the shape rules.
		if !isString(tok) || t.Kind() != reflect.Struct {
			t = anyType
		} else {
			return nil
		}
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			return w.object(t, path)
		}
		return w.array(t, path)
	case json.Number:
		return number(t, path, string(tok))
	case string:
		if t.Kind() == reflect.String || t == anyType || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8) {
			return nil
		}
		return mismatch(t, path, "a string")
	case bool:
		if t.Kind() == reflect.Bool || t == anyType {
			return nil
		}
		return mismatch(t, path, "true or false")
	case nil:
		return nil
	}
	return &Error{Path: path, Msg: fmt.Sprintf("unexpected token %v", tok)}
}

// object walks the members of an object whose '{' has been read.
func (w *walker) object(t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	switch {
	case t.Kind() == reflect.Struct:
		fields = fieldsOf(t)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
	case t == anyType:
	default:
		return mismatch(t, path, "an object")
	}
	seen := map[string]bool{}
	for w.d.More() {
		tok, err := w.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		at := join(path, key)
		if seen[key] {
			return &Error{Path: at, Msg: fmt.Sprintf("key %q appears more than once", key)}
		}
		seen[key] = true
		vt := anyType
		switch {
		case fields != nil:
			ft, ok := fields[key]
			if !ok {
				return &Error{Path: at, Msg: unknownField(key, fields)}
			}
			vt = ft
		case t.Kind() == reflect.Map:
			vt = t.Elem()
		}
		if err := w.value(vt, at); err != nil {
			return err
		}
	}
	_, err := w.token() // '}'
	return err
}

// array walks the elements of an array whose '[' has been read.
func (w *walker) array(t reflect.Type, path string) error {
	var et reflect.Type
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		et = t.Elem()
	case reflect.Interface:
		et = anyType
	default:
		return mismatch(t, path, "an array")
	}
	for i := 0; w.d.More(); i++ {
		if err := w.value(et, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	_, err := w.token() // ']'
	return err
}

// number checks that the literal lit fits t.
func number(t reflect.Type, path, lit string) error {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, err := strconv.ParseInt(lit, 10, t.Bits()); err != nil {
			lo, hi := -(int64(1) << (t.Bits() - 1)), int64(1)<<(t.Bits()-1)-1
			return wholeNumber(path, lit, strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10), err)
		}
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, err := strconv.ParseUint(lit, 10, t.Bits()); err != nil {
			hi := uint64(1)<<(t.Bits()-1) - 1 + uint64(1)<<(t.Bits()-1)
			return wholeNumber(path, lit, "0", strconv.FormatUint(hi, 10), err)
		}
		return nil
	case reflect.Float32, reflect.Float64, reflect.Interface:
		if t.Kind() == reflect.Interface && t != anyType {
			return mismatch(t, path, "a number")
		}
		bits := 64
		if t.Kind() == reflect.Float32 {
			bits = 32
		}
		if _, err := strconv.ParseFloat(lit, bits); err != nil {
			return &Error{Path: path, Msg: fmt.Sprintf("%s is out of range for a number", lit)}
		}
		return nil
	}
	return mismatch(t, path, "a number "+lit)
}

func wholeNumber(path, lit, lo, hi string, err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return &Error{Path: path, Msg: fmt.Sprintf("must be a whole number from %s to %s, not %s", lo, hi, lit)}
	}
	return &Error{Path: path, Msg: fmt.Sprintf("must be a whole number, not %s", lit)}
}

// mismatch says that the value at path, described by got, is not what t accepts.
func mismatch(t reflect.Type, path, got string) error {
	return &Error{Path: path, Msg: fmt.Sprintf("must be %s, not %s", describe(t), got)}
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Struct:
		if reflect.PointerTo(t).Implements(unmarshalerType) {
			return "a string"
		}
		return "an object"
	case reflect.Map:
		return "an object"
	}
	return "another type"
}

func unknownField(key string, fields map[string]reflect.Type) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf("unknown field %q (keys are case-sensitive: did you mean %q?)", key, name)
		}
	}
	return fmt.Sprintf("unknown field %q", key)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isString(tok json.Token) bool {
	_, ok := tok.(string)
	return ok
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// fieldsOf returns the JSON names of t's fields as encoding/json names them (tag name, else
// the Go name; "-" skipped; embedded structs without a tag flattened), with their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	addFields(t, m)
	fieldCache.Store(t, m)
	return m
}

func addFields(t reflect.Type, m map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, m)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := m[name]; !dup {
			m[name] = f.Type
		}
	}
}
