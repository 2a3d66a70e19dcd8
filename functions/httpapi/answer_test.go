package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/wire"
)

// filled returns a wire.Credential with every field set, found by reflection (strings s,
// numbers n, booleans true, pointers to filled structs), so that a field added to the wire
// type and not to appendCredential makes the comparison fail.
func filled(s string, n int64, at time.Time) *wire.Credential {
	var c wire.Credential
	fill(reflect.ValueOf(&c).Elem(), s, n)
	c.ExpiresAt = at
	return &c
}

func fill(v reflect.Value, s string, n int64) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		v.SetInt(n)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), s, n)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), s, n)
		}
	}
}

// TestCredentialAnswerMatchesEncodingJSON: the hand-written answer is json.Marshal's, byte for
// byte, with every field set, with the optional ones empty, and for strings that need
// escaping.
func TestCredentialAnswerMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 6, 23, 0, 0, 123000000, time.UTC)
	cases := map[string]*wire.Credential{
		"every field":     filled("v", 3600, at),
		"escaping":        filled("a\"b\\c\n<&>\u2028\xff é", -1, at),
		"optional absent": {AccessToken: "ya29.x", TokenType: "Bearer", ExpiresAt: at, ExpiresIn: 3599, Lifetime: wire.Lifetime{Requested: 7200, Applied: 3600}},
		"zero":            {},
	}
	for name, c := range cases {
		checkAnswer(t, name, c)
	}
}

func FuzzCredentialAnswer(f *testing.F) {
	f.Add("ya29.token", "reason <x>", int64(3600), false)
	f.Add("\xff\u2029\"", "", int64(-5), true)
	f.Fuzz(func(t *testing.T, s, reason string, n int64, bare bool) {
		c := filled(s, n, time.Unix(n%(1<<35), 0).UTC())
		c.Lifetime.Reason = reason
		if bare {
			c.Docker, c.Kubernetes = nil, nil
		}
		checkAnswer(t, "fuzz", c)
	})
}

func checkAnswer(t *testing.T, name string, c *wire.Credential) {
	t.Helper()
	want, err := json.Marshal(c)
	got, ok := appendCredential(nil, c)
	if (err == nil) != ok {
		t.Fatalf("%s: appendCredential ok = %v; json.Marshal error %v", name, ok, err)
	}
	if ok && !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// TestWriteCredentialHeaders: the answer's headers are those of writeJSON, plus Pragma.
func TestWriteCredentialHeaders(t *testing.T) {
	w := httptest.NewRecorder()
	writeCredential(w, filled("v", 1, time.Now()))
	want := http.Header{"Pragma": {"no-cache"}, "Content-Type": {"application/json; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}}
	if w.Code != http.StatusOK || !reflect.DeepEqual(w.Header(), want) || !json.Valid(w.Body.Bytes()) {
		t.Errorf("writeCredential = %d %v %s; want 200 %v and JSON", w.Code, w.Header(), w.Body, want)
	}
}
