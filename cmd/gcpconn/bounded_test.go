package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/exactjson"
)

// TestBoundedInputs: the CLI's YAML and JSON inputs nesting exactjson.MaxDepth levels are
// read, one level more is refused before it is decoded, and a file above the size limit is
// refused without being read.
func TestBoundedInputs(t *testing.T) {
	yamlNest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	blockNest := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.Repeat("  ", i) + "a:\n")
		}
		return b.String() + strings.Repeat("  ", n) + "b: 1\n"
	}
	for _, tc := range []struct {
		name   string
		decode func([]byte, any) error
		doc    func(levels int) string
	}{
		{"yaml flow", unmarshalYAML, yamlNest},
		{"yaml block", unmarshalYAML, func(n int) string { return blockNest(n - 1) }},
		{"json", unmarshalJSON, func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := tc.decode([]byte(tc.doc(exactjson.MaxDepth)), &v); err != nil {
				t.Errorf("%d levels: %v; want read", exactjson.MaxDepth, err)
			}
			if err := tc.decode([]byte(tc.doc(exactjson.MaxDepth+1)), &v); err == nil || !strings.Contains(err.Error(), "levels deep") {
				t.Errorf("%d levels: %v; want refused as too deep", exactjson.MaxDepth+1, err)
			}
		})
	}
	// The shape, 100,000 levels: refused, with bounded work (yaml.v3 alone stops at
	// 10,000 and would decode those recursively).
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := unmarshalYAML([]byte(yamlNest(100000)), new(any))
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Errorf("100,000 levels of YAML read")
	}
	t.Logf("100,000-deep YAML: %v, %d bytes allocated", err, after.TotalAlloc-before.TotalAlloc)

	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readBounded(path, 99); err == nil || !strings.Contains(err.Error(), "at most 99") {
		t.Errorf("readBounded(100 bytes, limit 99) = %v; want refused", err)
	}
	if b, err := readBounded(path, 100); err != nil || len(b) != 100 {
		t.Errorf("readBounded(100 bytes, limit 100) = %d bytes, %v", len(b), err)
	}
}
