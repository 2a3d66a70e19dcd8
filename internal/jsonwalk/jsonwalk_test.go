package jsonwalk

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestGet(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a": {"b": {"c": 1}, "s": "x", "n": null}, "": 2}`), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		keys   []string
		want   any
		wantOK bool
	}{
		{[]string{"a", "b", "c"}, 1.0, true},
		{[]string{"a", "s"}, "x", true},
		{[]string{"a", "n"}, nil, true},
		{[]string{""}, 2.0, true},
		{nil, doc, true},
		{[]string{"a", "missing"}, nil, false},
		{[]string{"a", "s", "deeper"}, nil, false}, // "x" is not an object
		{[]string{"a", "b", "c", "d"}, nil, false},
	} {
		got, ok := Get(doc, tt.keys...)
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Get(doc, %q) = %v, %v; want %v, %v", tt.keys, got, ok, tt.want, tt.wantOK)
		}
	}
}
