package callerauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-json-experiment/json/jsontext"
)

// The JOSE header, the claims and the trusted issuers' configuration are read by one exact
// parser: every object name is compared as written (no case folding, so "IAT" is never read
// as "iat"), an object that names a key twice, or two keys that differ only in case ("iat"
// and "IAT", "alg" and "ALG"), is refused because readers disagree on which one wins, strings
// must be valid UTF-8, numbers keep their JSON text (numericDate reads them), and nesting
// deeper than maxJSONDepth is refused before the parser descends. The cost is linear in the
// input, which is at most maxTokenBytes for a token.

// maxJSONDepth bounds the nesting of a parsed document: claims such as Kubernetes'
// {"kubernetes.io": {"serviceaccount": {"name": ...}}} need 3 levels.
const maxJSONDepth = 8

// jsonNumber is a JSON number, as written.
type jsonNumber string

// parseJSON parses b, exactly one JSON value, into nil, bool, string, jsonNumber, []any and
// map[string]any values. The error says what is wrong without quoting more than a clipped
// object name.
func parseJSON(b []byte) (any, error) {
	// readObject refuses duplicate names itself, naming them (and their case-folded twins).
	d := jsontext.NewDecoder(bytes.NewReader(b), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(false))
	v, err := readJSON(d, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// parseJSONObject parses b, which must be one JSON object.
func parseJSONObject(b []byte) (map[string]any, error) {
	v, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// readJSON reads the next value of d, at nesting depth.
func readJSON(d *jsontext.Decoder, depth int) (any, error) {
	switch d.PeekKind() {
	case '{', '[':
		if depth >= maxJSONDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
		}
		if d.PeekKind() == '{' {
			return readObject(d, depth)
		}
		return readArray(d, depth)
	case '0':
		raw, err := d.ReadValue()
		if err != nil {
			return nil, errors.New("invalid JSON")
		}
		return jsonNumber(raw), nil
	}
	tok, err := d.ReadToken()
	if err != nil {
		return nil, errors.New("invalid JSON")
	}
	switch tok.Kind() {
	case 'n':
		return nil, nil
	case 't', 'f':
		return tok.Bool(), nil
	case '"':
		return tok.String(), nil
	}
	return nil, errors.New("invalid JSON")
}

func readObject(d *jsontext.Decoder, depth int) (any, error) {
	if _, err := d.ReadToken(); err != nil {
		return nil, errors.New("invalid JSON")
	}
	m := map[string]any{}
	folded := map[string]string{}
	for d.PeekKind() != '}' {
		tok, err := d.ReadToken()
		if err != nil || tok.Kind() != '"' {
			return nil, errors.New("invalid JSON")
		}
		k := tok.String()
		f := foldName(k)
		if prev, dup := folded[f]; dup {
			if prev == k {
				return nil, fmt.Errorf("claim %s appears twice", quoteClip(k))
			}
			return nil, fmt.Errorf("claims %s and %s differ only in case", quoteClip(prev), quoteClip(k))
		}
		folded[f] = k
		if m[k], err = readJSON(d, depth+1); err != nil {
			return nil, err
		}
	}
	if _, err := d.ReadToken(); err != nil {
		return nil, errors.New("invalid JSON")
	}
	return m, nil
}

func readArray(d *jsontext.Decoder, depth int) (any, error) {
	if _, err := d.ReadToken(); err != nil {
		return nil, errors.New("invalid JSON")
	}
	a := []any{}
	for d.PeekKind() != ']' {
		v, err := readJSON(d, depth+1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	if _, err := d.ReadToken(); err != nil {
		return nil, errors.New("invalid JSON")
	}
	return a, nil
}

// foldName maps every rune of s to the least rune of its Unicode case-folding orbit, so two
// names fold alike exactly when they are equal under simple case folding (as
// strings.EqualFold, which encoding/json's case-insensitive matching is based on: "K" and the
// Kelvin sign fold alike).
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// numericDate reads the NumericDate claim name of claims (RFC 7519: seconds since the epoch,
// a JSON number; fractions are cut). present is false when the claim is absent; a present
// claim that is not a positive JSON number below 1e11 is an error naming it.
func numericDate(claims map[string]any, name string) (t int64, present bool, err error) {
	v, ok := claims[name]
	if !ok {
		return 0, false, nil
	}
	n, isNumber := v.(jsonNumber)
	if !isNumber {
		return 0, true, fmt.Errorf("claim %s is not a JSON number (NumericDate)", name)
	}
	f, perr := strconv.ParseFloat(string(n), 64)
	if perr != nil || f <= 0 || f > 1e11 {
		return 0, true, fmt.Errorf("claim %s is not a time in seconds since the epoch", name)
	}
	return int64(f), true, nil
}

// stringClaim returns the claim name when it is a string.
func stringClaim(claims map[string]any, name string) (string, bool) {
	s, ok := claims[name].(string)
	return s, ok
}

// audienceClaim reads "aud": a string or an array of strings.
func audienceClaim(claims map[string]any) ([]string, error) {
	v, ok := claims["aud"]
	if !ok {
		return nil, errors.New("no audience (aud)")
	}
	switch a := v.(type) {
	case string:
		return []string{a}, nil
	case []any:
		out := make([]string, 0, len(a))
		for _, v := range a {
			s, ok := v.(string)
			if !ok {
				return nil, errors.New("aud is neither a string nor a list of strings")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errors.New("aud is neither a string nor a list of strings")
}
