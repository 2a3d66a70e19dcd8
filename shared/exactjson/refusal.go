package exactjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// This file turns the library's errors into *Error: the dotted path and the message are
// built here, once, for the one value at fault.

var timeType = reflect.TypeFor[time.Time]()

// refusal translates an error of json.Unmarshal on data.
func refusal(data []byte, err error) *Error {
	var se *json.SemanticError
	var sy *jsontext.SyntacticError
	switch {
	case errors.As(err, &se):
		return semantic(data, se)
	case errors.As(err, &sy):
		return syntactic(data, sy)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Msg: "is not valid JSON: it ends too early"}
	}
	return &Error{Msg: "could not be decoded"}
}

// syntactic translates an error of the scanner: the document is not (one, valid) JSON value.
func syntactic(data []byte, sy *jsontext.SyntacticError) *Error {
	msg := sy.Err.Error()
	switch {
	case errors.Is(sy.Err, jsontext.ErrDuplicateName):
		return &Error{Path: dotted(data, sy.JSONPointer), Msg: fmt.Sprintf("key %q appears more than once", sy.JSONPointer.LastToken())}
	case strings.Contains(msg, "exceeded max depth"): // in a raw value, read to the scanner's limit
		return &Error{Path: dotted(data, sy.JSONPointer), Msg: "nests arrays and objects more than 10000 levels deep"}
	case errors.Is(sy.Err, io.ErrUnexpectedEOF):
		return &Error{Msg: "is not valid JSON: it ends too early"}
	case strings.Contains(msg, "after top-level value"):
		return &Error{Msg: "holds data after the JSON value"}
	case strings.Contains(msg, "escape sequence"):
		msg = "invalid escape sequence in a string" // the library quotes the escape
	}
	return &Error{Msg: fmt.Sprintf("is not valid JSON (offset %d): %s", sy.ByteOffset, msg)}
}

func tooDeep(data []byte, ptr jsontext.Pointer) *Error {
	return &Error{Path: dotted(data, ptr), Msg: fmt.Sprintf("nests arrays and objects more than %d levels deep", MaxDepth)}
}

// semantic translates an error of the decoder: valid JSON that the target type refuses.
func semantic(data []byte, se *json.SemanticError) *Error {
	path := dotted(data, se.JSONPointer)
	t := se.GoType
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case errors.Is(se.Err, errTooDeep):
		return tooDeep(data, se.JSONPointer)
	case errors.Is(se.Err, json.ErrUnknownName):
		return &Error{Path: path, Msg: unknownField(se.JSONPointer.LastToken(), t)}
	case t == nil:
		return &Error{Path: path, Msg: "could not be decoded"}
	case t == timeType:
		return &Error{Path: path, Msg: "must be a time in RFC 3339 form (2006-01-02T15:04:05Z)"}
	case se.JSONKind == '0' && se.Err != nil:
		return number(t, path, string(se.JSONValue), se.Err)
	case se.Err == nil:
		return &Error{Path: path, Msg: fmt.Sprintf("must be %s, not %s", describe(t), got(data, se))}
	}
	// The type refused the value for a reason of its own (bad base64, ...): name what it
	// accepts, without the reason, which may quote the value.
	return &Error{Path: path, Msg: "could not be decoded as " + describe(t)}
}

// number explains why the literal lit does not fit t.
func number(t reflect.Type, path, lit string, err error) *Error {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		lo, hi := -(int64(1) << (t.Bits() - 1)), int64(1)<<(t.Bits()-1)-1
		return wholeNumber(path, lit, strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10), err)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		hi := uint64(1)<<(t.Bits()-1) - 1 + uint64(1)<<(t.Bits()-1)
		return wholeNumber(path, lit, "0", strconv.FormatUint(hi, 10), err)
	}
	return &Error{Path: path, Msg: fmt.Sprintf("%s is out of range for a number", lit)}
}

func wholeNumber(path, lit, lo, hi string, err error) *Error {
	if errors.Is(err, strconv.ErrRange) {
		return &Error{Path: path, Msg: fmt.Sprintf("must be a whole number from %s to %s, not %s", lo, hi, lit)}
	}
	return &Error{Path: path, Msg: fmt.Sprintf("must be a whole number, not %s", lit)}
}

// got describes the JSON value the decoder refused: its kind, and its literal when it is a
// number (never a string's contents).
func got(data []byte, se *json.SemanticError) string {
	switch se.JSONKind {
	case '"':
		return "a string"
	case 't', 'f':
		return "true or false"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 'n':
		return "null"
	case '0':
		if se.ByteOffset >= 0 && se.ByteOffset < int64(len(data)) {
			if v, err := jsontext.NewDecoder(bytes.NewReader(data[se.ByteOffset:])).ReadValue(); err == nil && v.Kind() == '0' {
				return "a number " + string(v)
			}
		}
		return "a number"
	}
	return "another type"
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
		if t == timeType {
			return "a string"
		}
		return "an object"
	case reflect.Map:
		return "an object"
	}
	return "another type"
}

// unknownField says that key names no field of the struct t, with the field it matches
// but for case, if any.
func unknownField(key string, t reflect.Type) string {
	if t != nil && t.Kind() == reflect.Struct {
		if name, ok := foldedField(t, key); ok {
			return fmt.Sprintf("unknown field %q (keys are case-sensitive: did you mean %q?)", key, name)
		}
	}
	return fmt.Sprintf("unknown field %q", key)
}

// foldedField finds the JSON name of a field of t (as the decoder names them: tag name, else
// the Go name; embedded structs without a tag flattened) equal to key but for case.
func foldedField(t reflect.Type, key string) (string, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			if n, ok := foldedField(ft, key); ok {
				return n, true
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if f.IsExported() && strings.EqualFold(name, key) {
			return name, true
		}
	}
	return "", false
}

// dotted turns the JSON Pointer of a value in data into the dotted path gcpconn's messages
// use ("list[1].credential_source"): a pointer does not say whether "1" is an index or a
// key, so it follows the pointer through data. It runs only for a refusal, once.
func dotted(data []byte, ptr jsontext.Pointer) string {
	var b strings.Builder
	d := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	lost := false // the walk could not follow the pointer: name the rest as keys
	n := 0
	for seg := range ptr.Tokens() {
		if n++; n > MaxDepth+1 {
			b.WriteString("…")
			break
		}
		if !lost && d.PeekKind() == '[' {
			i, err := strconv.Atoi(seg)
			fmt.Fprintf(&b, "[%s]", seg)
			lost = err != nil || enterArray(d, i) != nil
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
		lost = lost || d.PeekKind() != '{' || enterObject(d, seg) != nil
	}
	return b.String()
}

// enterArray reads '[' and the i values before element i.
func enterArray(d *jsontext.Decoder, i int) error {
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	for ; i > 0; i-- {
		if err := d.SkipValue(); err != nil {
			return err
		}
	}
	return nil
}

// enterObject reads '{' and the members before the first one named name, and its name.
func enterObject(d *jsontext.Decoder, name string) error {
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	for {
		tok, err := d.ReadToken()
		if err != nil {
			return err
		}
		if tok.Kind() != '"' {
			return errors.New("object ends")
		}
		if tok.String() == name {
			return nil
		}
		if err := d.SkipValue(); err != nil {
			return err
		}
	}
}
