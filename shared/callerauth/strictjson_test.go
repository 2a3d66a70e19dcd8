package callerauth

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseJSONExact(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{`{"iat":1,"exp":2}`, ""},
		{`{"a":{"b":[1,"x",true,null]}}`, ""},
		{`{"iat":1,"iat":2}`, `claim "iat" appears twice`},
		{`{"iat":1,"IAT":2}`, `claims "iat" and "IAT" differ only in case`},
		{`{"a":{"kid":1,"Kid":2}}`, `claims "kid" and "Kid" differ only in case`},
		{`{"kid":"a","\u212aid":"b"}`, `differ only in case`}, // the Kelvin sign folds to k
		{`{"a":[{"x":1,"x":1}]}`, `claim "x" appears twice`},
		{`{"s":"` + "\xff" + `"}`, "invalid JSON"},
		{`{"a":1}{"b":2}`, "data after"},
		{`{"a":1,}`, "invalid JSON"},
		{`[1]`, "not a JSON object"},
		{`{"a":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`, "nested deeper than 8 levels"},
		{`{"a":` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `}`, ""},
	} {
		_, err := parseJSONObject([]byte(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("parseJSONObject(%s) = %v; want accepted", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseJSONObject(%s) = %v; want an error containing %q", tc.in, err, tc.err)
		}
	}
}

func TestNumericDate(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		present bool
		err     string
	}{
		{`{"exp":1700000000}`, 1700000000, true, ""},
		{`{"exp":1700000000.9}`, 1700000000, true, ""},
		{`{"exp":1.7e9}`, 1700000000, true, ""},
		{`{}`, 0, false, ""},
		{`{"exp":"1700000000"}`, 0, true, "not a JSON number"},
		{`{"exp":null}`, 0, true, "not a JSON number"},
		{`{"exp":-1}`, 0, true, "not a time"},
		{`{"exp":1e300}`, 0, true, "not a time"},
	} {
		m, err := parseJSONObject([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		got, present, err := numericDate(m, "exp")
		if got != tc.want || present != tc.present || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("numericDate(%s) = %d, %v, %v; want %d, %v, %q", tc.in, got, present, err, tc.want, tc.present, tc.err)
		}
	}
}

// TestParseJSONCostIsLinear: a token-sized document of a thousand claims costs a bounded
// number of allocations per claim.
func TestParseJSONCostIsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 1000 {
		fmt.Fprintf(&b, `"c%d":%d,`, i, i)
	}
	b.WriteString(`"end":1}`)
	doc := []byte(b.String())
	if len(doc) > maxTokenBytes {
		t.Fatalf("document of %d bytes is larger than a token", len(doc))
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := parseJSONObject(doc); err != nil {
			t.Fatal(err)
		}
	})
	if perKey := allocs / 1000; perKey > 12 {
		t.Errorf("parseJSONObject allocates %.0f times for 1000 claims (%.1f per claim); want at most 12 per claim", allocs, perKey)
	}
	t.Logf("%.0f allocations for 1000 claims", allocs)
}

// FuzzParseJWS feeds arbitrary tokens to the parser: it never panics, what it accepts is
// valid JSON with no key that another key folds to, and it never accepts a document nested
// deeper than maxJSONDepth.
func FuzzParseJWS(f *testing.F) {
	hdr := b64([]byte(`{"alg":"RS256","kid":"k1","typ":"JWT"}`))
	for _, claims := range []string{
		`{"iss":"https://ci.test","aud":"x","sub":"repo:a/b","iat":1700000000,"exp":1700000300}`,
		`{"iat":1,"IAT":2}`, `{"exp":"1"}`, `{"a":{"b":{"c":[1,2,{"d":null}]}}}`, `{"k":1,"\u212a":2}`,
		`{"a":[[[[[[[[[[1]]]]]]]]]]}`, "{\"s\":\"\xff\"}", `{}`, `[]`, `{"a":1}{}`,
	} {
		f.Add(hdr + "." + b64([]byte(claims)) + ".c2ln")
	}
	f.Add(b64([]byte(`{"alg":"RS256","alg":"none"}`)) + ".e30.c2ln")
	f.Add(b64([]byte(`{"alg":"RS256","jwk":{}}`)) + ".e30.c2ln")
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := parseJWS(raw)
		if err != nil {
			return
		}
		out, merr := json.Marshal(tok.claims)
		if merr != nil || !json.Valid(out) {
			t.Fatalf("accepted claims do not marshal: %v", merr)
		}
		checkNoFoldedTwins(t, tok.claims, 0)
	})
}

func checkNoFoldedTwins(t *testing.T, v any, depth int) {
	if depth > maxJSONDepth {
		t.Fatalf("accepted a document nested deeper than %d", maxJSONDepth)
	}
	switch v := v.(type) {
	case map[string]any:
		seen := map[string]bool{}
		for k, x := range v {
			if seen[foldName(k)] {
				t.Fatalf("accepted keys that fold alike: %q", k)
			}
			seen[foldName(k)] = true
			checkNoFoldedTwins(t, x, depth+1)
		}
	case []any:
		for _, x := range v {
			checkNoFoldedTwins(t, x, depth+1)
		}
	}
}
