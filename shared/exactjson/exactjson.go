// Package exactjson decodes JSON exactly as gcpconn's contract reads it, where encoding/json
// is lenient, in one pass with a bounded cost:
//
//   - keys match a struct's field names exactly: "NAME" is not "name" (encoding/json folds
//     case);
//   - a key that appears twice in one object is refused, at every level, in maps and in
//     free-form values (encoding/json keeps the last one);
//   - a key that names no field is refused, at every level;
//   - a number that does not fit its field is refused with the literal the caller sent
//     ("9223372036854775808", "3600.5", "1e400"), not a parsed float;
//   - a value of the wrong JSON type is refused naming the field and the type it must be;
//   - arrays and objects nest at most MaxDepth levels, checked before each level is entered;
//   - strings are valid UTF-8, and nothing but white space follows the value.
//
// Decode is github.com/go-json-experiment/json (the design of encoding/json/v2) with unknown
// members refused: the library matches names exactly, refuses duplicate names while it
// scans, quotes the literal of a number that does not fit, and builds a value's path only
// when it reports an error. A typed value nests no deeper than its Go type; free-form values
// (any, map[string]any) are decoded by this package from the library's tokens, with the depth
// checked before each level is entered (the library's own limit, 10,000 levels, cannot be
// set in this version and would let a free-form value recurse 10,000 calls deep). Values
// decoded into json.RawMessage or jsontext.Value are read by the scanner without recursion,
// to its 10,000 levels: caller input should not use them. Time and memory are linear in the
// input.
//
// Every refusal is an *Error naming the path of the value at fault, dotted
// ("spec.configuration.project_id", "scopes[2]"), and a message safe to show the caller: it
// quotes keys and numbers, never string values (which may be secrets).
package exactjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// MaxDepth is how deeply arrays and objects may nest in a document: the document itself is
// level 1. The deepest documents gcpconn reads nest 6 levels (a verify body whose spec holds an
// external-account credential: body, spec, configuration, credential, credential_source,
// format) and 7 (a kubeconfig: users, user, exec, env and its entries); the deepest JSON file
// in the repository nests 5. 32 leaves room for any real document and keeps the deepest
// accepted one cheap.
const MaxDepth = 32

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

// errTooDeep is the depth check's refusal, translated into an *Error by refusal.
var errTooDeep = errors.New("nested too deeply")

// options are the decoder's options, built once: exact names (the library's default),
// duplicate names refused (the default), unknown members refused, free-form values decoded
// by decodeFreeForm (freeform.go), which checks the depth.
var options = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.WithUnmarshalers(json.UnmarshalFromFunc(decodeFreeForm)),
)

// Decode decodes the one JSON value in data into v (a non-nil pointer), exactly: see the
// package doc. A struct that should keep members it does not name (a document another
// system writes and may extend) gives them a field tagged `json:",embed"` of type
// map[string]any: they are decoded, depth-checked and kept there instead of refused.
func Decode(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("exactjson: Decode needs a non-nil pointer, not %T", v)
	}
	if err := json.Unmarshal(data, v, options); err != nil {
		return refusal(data, err)
	}
	return nil
}

// Scan checks that data is one JSON value, with no name twice in an object, nesting at most
// MaxDepth levels, without decoding it: for documents another program writes (a docker
// config, gcloud's credentials) that gcpconn then reads leniently, keeping members it does not
// know, with encoding/json. One pass over the tokens, iterative; it allocates only the
// scanner's record of each object's names (to find duplicates).
func Scan(data []byte) error {
	d := jsontext.NewDecoder(bytes.NewReader(data))
	for {
		if k := d.PeekKind(); (k == '[' || k == '{') && d.StackDepth() >= MaxDepth {
			return tooDeep(data, nextPointer(d))
		}
		if _, err := d.ReadToken(); err != nil {
			return refusal(data, err)
		}
		if d.StackDepth() == 0 {
			break
		}
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return &Error{Msg: "holds data after the JSON value"}
	}
	return nil
}
