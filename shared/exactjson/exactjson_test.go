package exactjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

type inner struct {
	TokenURI string `json:"token_uri"`
	Count    int64  `json:"count"`
}

type embedded struct {
	Extra string `json:"extra"`
}

type doc struct {
	embedded
	Name     string            `json:"name"`
	Lifetime int               `json:"lifetime_seconds"`
	Small    *int32            `json:"small"`
	Ratio    float64           `json:"ratio"`
	Labels   map[string]string `json:"labels"`
	Config   map[string]any    `json:"configuration"`
	Inner    *inner            `json:"inner"`
	List     []inner           `json:"list"`
	When     *time.Time        `json:"when"`
	Raw      json.RawMessage   `json:"raw"`
	Skipped  string            `json:"-"`
	Flag     bool              `json:"flag"`
	Blob     []byte            `json:"blob"`
	CountU   uint              `json:"count_u"`
	Tiny     uint8             `json:"tiny"`
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, in, path, msg string
	}{
		{"case-folded key", `{"NAME":"b"}`, "NAME", `did you mean "name"`},
		{"duplicate key", `{"name":"a","name":"b"}`, "name", "more than once"},
		{"duplicate after case fold", `{"name":"a","NAME":"b"}`, "NAME", "unknown field"},
		{"unknown key", `{"nope":1}`, "nope", `unknown field "nope"`},
		{"nested case-folded key", `{"inner":{"TOKEN_URI":"x"}}`, "inner.TOKEN_URI", "unknown field"},
		{"nested unknown key in list", `{"list":[{"count":1},{"credential_source":{}}]}`, "list[1].credential_source", "unknown field"},
		{"duplicate in map", `{"labels":{"a":"1","a":"2"}}`, "labels.a", "more than once"},
		{"duplicate in free form", `{"configuration":{"x":{"y":1,"y":2}}}`, "configuration.x.y", "more than once"},
		{"duplicate in raw", `{"raw":{"k":1,"k":1}}`, "raw.k", "more than once"},
		{"int too big", `{"lifetime_seconds":9223372036854775808}`, "lifetime_seconds", "not 9223372036854775808"},
		{"int fraction", `{"lifetime_seconds":3600.5}`, "lifetime_seconds", "must be a whole number, not 3600.5"},
		{"int exponent", `{"lifetime_seconds":1e400}`, "lifetime_seconds", "not 1e400"},
		{"int32 too big", `{"small":2147483648}`, "small", "from -2147483648 to 2147483647, not 2147483648"},
		{"nested int too big", `{"inner":{"count":-9223372036854775809}}`, "inner.count", "not -9223372036854775809"},
		{"float out of range", `{"ratio":1e400}`, "ratio", "1e400 is out of range"},
		{"free-form number out of range", `{"configuration":{"n":-1e999}}`, "configuration.n", "-1e999 is out of range"},
		{"string for int", `{"lifetime_seconds":"60"}`, "lifetime_seconds", "must be a whole number, not a string"},
		{"number for string", `{"name":5}`, "name", "must be a string, not a number 5"},
		{"object for list", `{"list":{}}`, "list", "must be an array, not"},
		{"array for object", `{"inner":[]}`, "inner", "must be an object"},
		{"bool for map", `{"labels":true}`, "labels", "must be an object, not true or false"},
		{"not an object", `[1]`, "", "must be an object"},
		{"trailing data", `{"name":"a"} {}`, "", "after the JSON value"},
		{"truncated", `{"name":"a"`, "", "ends too early"},
		{"syntax", `{"name" "a"}`, "", "not valid JSON"},
		{"skipped field", `{"Skipped":"x"}`, "Skipped", "unknown field"},
		{"bad time", `{"when":"yesterday"}`, "when", "must be a time in RFC 3339 form"},
		{"bad base64", `{"blob":"!!"}`, "blob", "could not be decoded as a base64 string"},
		{"invalid UTF-8", "{\"name\":\"\xff\"}", "", "not valid JSON"},
		{"number for bool", `{"flag":12}`, "flag", "must be true or false, not a number 12"},
		{"uint negative", `{"count_u":-1}`, "count_u", "must be a whole number, not -1"},
		{"uint8 too big", `{"tiny":256}`, "tiny", "from 0 to 255, not 256"},
		{"key with a dot and an index", `{"configuration":{"a.b":[0,{"0":{"k":1,"k":2}}]}}`, "configuration.a.b[1].0.k", "more than once"},
		{"escaped key", `{"configuration":{"a\u0062":{"k":1,"k":2}}}`, "configuration.ab.k", "more than once"},
		{"too deep in free form", `{"configuration":{"x":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}}`, "configuration.x" + strings.Repeat("[0]", MaxDepth-2), "more than 32 levels deep"},
		{"too deep in a map", `{"configuration":` + strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth) + `}`, "configuration" + strings.Repeat(".a", MaxDepth-1), "more than 32 levels deep"},
		{"too deep in raw", `{"raw":` + strings.Repeat("[", 20000) + `}`, "raw" + strings.Repeat("[0]", MaxDepth) + "…", "more than 10000 levels deep"},
		{"too deep after siblings", `{"configuration":{"x":[1,[2,` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth+2) + `}}`, "configuration.x[1][1]" + strings.Repeat("[0]", MaxDepth-4), "more than 32 levels deep"},
		{"number out of range deep in free form", `{"configuration":{"x":[{"y":[0,-1e999]}]}}`, "configuration.x[0].y[1]", "-1e999 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d doc
			err := Decode([]byte(tc.in), &d)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%s) = %v, want an *Error", tc.in, err)
			}
			if e.Path != tc.path || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("Decode(%s) = path %q msg %q, want path %q and a message with %q", tc.in, e.Path, e.Msg, tc.path, tc.msg)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	in := `{"name":"a","extra":"e","lifetime_seconds":9223372036854775807,"small":-2147483648,"ratio":0.5,
		"labels":{"a":"1","A":"2"},"configuration":{"x":[1,{"y":null}],"X":true},"inner":{"token_uri":"t","count":3},
		"list":[],"when":"2026-01-02T15:04:05Z","raw":{"z":1},"flag":false}`
	var d doc
	if err := Decode([]byte(in), &d); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d.Name != "a" || d.Extra != "e" || d.Lifetime != 9223372036854775807 || *d.Small != -2147483648 ||
		d.Labels["A"] != "2" || d.Inner.Count != 3 || d.When.Year() != 2026 || string(d.Raw) != `{"z":1}` {
		t.Errorf("Decode decoded %+v", d)
	}
	var m map[string]any
	if err := Decode([]byte(`{"a":{"b":[{"c":1}]}}`), &m); err != nil {
		t.Errorf("Decode into a map: %v", err)
	}
}

// open keeps the members it does not name.
type open struct {
	Name string         `json:"name"`
	Rest map[string]any `json:",embed"`
}

// TestUnknownMembersKept: a struct with a field tagged unknown keeps the members it does not
// name, still exactly (duplicates refused).
func TestUnknownMembersKept(t *testing.T) {
	var o open
	if err := Decode([]byte(`{"name":"a","Name":"b","x":{"y":[1]}}`), &o); err != nil || o.Name != "a" || o.Rest["Name"] != "b" || o.Rest["x"] == nil {
		t.Errorf("Decode = %v, %+v; want name a and the others kept", err, o)
	}
	var e *Error
	if err := Decode([]byte(`{"x":1,"x":2}`), &open{}); !errors.As(err, &e) || e.Path != "x" {
		t.Errorf("duplicate kept member: %v; want refused naming x", err)
	}
}

// TestDepthLimit: a document nested MaxDepth levels deep is decoded, one level more is
// refused, in free-form values, maps and typed lists alike.
func TestDepthLimit(t *testing.T) {
	nest := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	for _, tc := range []struct {
		name string
		doc  func(levels int) string // a document nesting levels deep
		v    func() any
	}{
		{"free-form arrays", func(n int) string { return `{"configuration":{"x":` + nest("[", "]", n-2) + `}}` }, func() any { return &doc{} }},
		{"free-form objects", func(n int) string {
			return `{"configuration":` + strings.Repeat(`{"a":`, n-1) + "1" + strings.Repeat("}", n)
		}, func() any { return &doc{} }},
		{"any", func(n int) string { return nest("[", "]", n) }, func() any { var v any; return &v }},
		{"map", func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }, func() any { return &map[string]any{} }},
		{"kept unknown members", func(n int) string { return `{"name":"a","zz":` + nest("[", "]", n-1) + `}` }, func() any { return &open{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Decode([]byte(tc.doc(MaxDepth)), tc.v()); err != nil {
				t.Errorf("%d levels: %v; want accepted", MaxDepth, err)
			}
			err := Decode([]byte(tc.doc(MaxDepth+1)), tc.v())
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, "levels deep") {
				t.Errorf("%d levels: %v; want refused as too deep", MaxDepth+1, err)
			}
		})
	}
}

// TestMessagesHoldNoStringValues: a refusal never quotes a string value of the document,
// which may be a secret.
func TestMessagesHoldNoStringValues(t *testing.T) {
	for _, in := range []string{`{"lifetime_seconds":"s3cr3t"}`, `{"inner":"s3cr3t"}`, `{"list":"s3cr3t"}`,
		`{"when":"s3cr3t"}`, `{"blob":"s3cr3t!"}`, `{"name":"s3cr3t\q"}`, `{"name":"s3cr3t` + "\xff" + `"}`} {
		err := Decode([]byte(in), &doc{})
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Decode(%s) = %v: want a refusal without the value", in, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"NAME":"a"}`, `{"configuration":{"a":{"a":1,"a":2}}}`, `{"lifetime_seconds":1e400}`, `[`, `{"list":[{"count":1}]}`,
		`{"configuration":{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, `{"configuration":{"x":[0,{"y":[1,-1e999]}]}}`,
		`{"raw":` + strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40) + `}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d doc
		err := Decode(data, &d)
		if err == nil {
			// What exactjson accepts, encoding/json accepts too.
			var d2 doc
			if err := json.Unmarshal(data, &d2); err != nil {
				t.Fatalf("exactjson accepted %q but encoding/json refused it: %v", data, err)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Decode(%q) = %T %v, want *Error", data, err, err)
		}
	})
}

// TestScan: Scan refuses what Decode refuses of the document's shape (depth, duplicates,
// syntax, trailing data) and accepts any member name.
func TestScan(t *testing.T) {
	for _, tc := range []struct{ in, path, msg string }{
		{`{"auths":{"a":{}},"Unknown":[1,{"x":null}]}`, "", ""},
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), "", ""},
		{`{"a":[0,` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `]}`, "a[1]" + strings.Repeat("[0]", MaxDepth-2), "more than 32 levels deep"},
		{`{"auths":{"h":{},"h":{}}}`, "auths.h", "more than once"},
		{`{"a":1} x`, "", "after the JSON value"},
		{`{"a":`, "", "ends too early"},
		{``, "", "ends too early"},
		{`{"a" 1}`, "", "not valid JSON"},
	} {
		err := Scan([]byte(tc.in))
		var e *Error
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("Scan(%.40s) = %v; want nil", tc.in, err)
		case tc.msg != "" && (!errors.As(err, &e) || e.Path != tc.path || !strings.Contains(e.Msg, tc.msg)):
			t.Errorf("Scan(%.40s) = %v; want path %q and a message with %q", tc.in, err, tc.path, tc.msg)
		}
	}
}

// TestNoWorkPerValueBeyondTheResult: decoding free-form values allocates what the result
// holds and nothing per value besides (no path or pointer per element, no growth garbage
// beyond the reused scratch stack): zeros and nulls (which box without allocating) cost no
// allocation, an array two (its elements and its box).
func TestNoWorkPerValueBeyondTheResult(t *testing.T) {
	body := []byte(`{"configuration":{"x":[` + strings.TrimSuffix(strings.Repeat("0,null,[0],", 5000), ",") + `]}}`)
	Decode(body, &doc{}) // warm the scratch stack's pool
	allocs := testing.AllocsPerRun(20, func() {
		if err := Decode(body, &doc{}); err != nil {
			t.Fatal(err)
		}
	})
	// The result: the map, its key, the outer slice, 5,000 one-element slices and their
	// boxes in an any.
	if allocs > 2*5000+50 {
		t.Errorf("%.0f allocations to decode 20,000 values; want at most %d (the result's)", allocs, 2*5000+50)
	}
}
