package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// stringCases are strings whose escaping differs between writers: quotes, control
// characters, HTML, invalid UTF-8, the JavaScript line separators, multi-byte runes.
var stringCases = []string{
	"", "plain", `q"uote`, `back\slash`, "nl\ncr\rtab\tbs\bff\f", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "bad\xffutf8\xc3", "sep\u2028par\u2029", "é ü 日本 🔑",
	"\xed\xa0\x80 surrogate", "end\xe2\x80",
}

func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range stringCases {
		checkString(t, s)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(checkString)
}

// checkString compares String with json.Marshal (escaping HTML) and with an Encoder that
// does not escape HTML.
func checkString(t *testing.T, s string) {
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := String(nil, s, true); !bytes.Equal(got, want) {
		t.Errorf("String(%q, html) = %s; json.Marshal = %s", s, got, want)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	want = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if got := String([]byte("prefix"), s, false); !bytes.Equal(got[len("prefix"):], want) {
		t.Errorf("String(%q) = %s; Encoder without HTML escaping = %s", s, got[len("prefix"):], want)
	}
}

func TestTimeMatchesMarshalJSON(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 12, 6, 22, 30, 0, 0, time.UTC),
		time.Date(2026, 12, 6, 22, 30, 0, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.FixedZone("x", -5*3600)),
		{},
	} {
		want, err := json.Marshal(tm)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := Time(nil, tm); !ok || !bytes.Equal(got, want) {
			t.Errorf("Time(%v) = %s, %v; json.Marshal = %s", tm, got, ok, want)
		}
	}
	if got, ok := Time([]byte("x"), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); ok || string(got) != "x" {
		t.Errorf("Time(year 10000) = %q, %v; want nothing appended, false", got, ok)
	}
}

func TestStringDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = String(buf[:0], "sa@demo.iam.gserviceaccount.com <x>", true) }); n != 0 {
		t.Errorf("String allocates %v times into a large enough buffer; want 0", n)
	}
}
