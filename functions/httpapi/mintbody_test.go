package httpapi

import (
	"reflect"
	"testing"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/exactjson"
)

// mintBodies are mint request bodies, and whether decodeMintFast reads them (the others go to
// exactjson).
var mintBodies = []struct {
	body string
	fast bool
}{
	{`{"connector":"bench","resource_id":"gs://zenml-bucket-sl"}`, true},
	{" \n{ \"connector\" : \"c\" ,\t\"resource_type\":\"gcs-bucket\", \"resource_id\":\"gs://b\",\"lifetime_seconds\":3600}\r\n", true},
	{`{"connector":"c","subject_token":"eyJhbGciOi.x.y","lifetime_seconds":0}`, true},
	{`{}`, true},
	{`{"connector":""}`, true},
	{`{"lifetime_seconds":999999999}`, true},
	{`{"lifetime_seconds":1000000000}`, false},
	{`{"lifetime_seconds":01}`, false},
	{`{"lifetime_seconds":1.5}`, false},
	{`{"lifetime_seconds":1e3}`, false},
	{`{"lifetime_seconds":-1}`, false},
	{`{"lifetime_seconds":"60"}`, false},
	{`{"connector":"a\u0041"}`, false},
	{`{"connector":"caf` + "\u00e9" + `"}`, false},
	{"{\"connector\":\"a\x01\"}", false},
	{`{"connector":"a","connector":"b"}`, false},
	{`{"Connector":"a"}`, false},
	{`{"connector":"a","extra":1}`, false},
	{`{"connector":"a","scopes":["x"]}`, false},
	{`{"connector":"a","downscope":{"read_only":true}}`, false},
	{`{"connector":"a",}`, false},
	{`{"connector":"a"}x`, false},
	{`{"connector":"a"} {}`, false},
	{`{"connector":"a"`, false},
	{`{"connector":null}`, false},
	{`{"connector":1}`, false},
	{`[]`, false},
	{``, false},
}

// TestMintBodyFastPath: the common mint bodies take the fast path, to the result exactjson
// gives; the others are left to exactjson (and m is untouched).
func TestMintBodyFastPath(t *testing.T) {
	for _, tt := range mintBodies {
		var m wire.MintRequest
		if got := decodeMintFast([]byte(tt.body), &m); got != tt.fast {
			t.Errorf("decodeMintFast(%q) = %v; want %v", tt.body, got, tt.fast)
		}
		checkFastMint(t, []byte(tt.body))
	}
}

// FuzzMintBodyFastPath: whatever decodeMintFast accepts, exactjson accepts with the same
// result; what it refuses it leaves untouched (the general decoder then answers, with its
// messages and field paths).
func FuzzMintBodyFastPath(f *testing.F) {
	for _, tt := range mintBodies {
		f.Add([]byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFastMint(t, body) })
}

func checkFastMint(t *testing.T, body []byte) {
	t.Helper()
	var fast wire.MintRequest
	if !decodeMintFast(body, &fast) {
		if !reflect.DeepEqual(fast, wire.MintRequest{}) {
			t.Errorf("decodeMintFast(%q) refused but wrote %+v", body, fast)
		}
		return
	}
	var general wire.MintRequest
	if err := exactjson.Decode(body, &general); err != nil {
		t.Fatalf("decodeMintFast accepted %q, which exactjson refuses: %v", body, err)
	}
	if !reflect.DeepEqual(fast, general) {
		t.Fatalf("decodeMintFast(%q) = %+v; exactjson decodes %+v", body, fast, general)
	}
}
