package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	var b bytes.Buffer
	(&table{Headers: []string{"RESOURCE TYPE", "RESOURCE NAMES"}, Ruled: true, Rows: [][]string{
		{withEmoji("gcs-bucket"), "gs://a\ngs://b"},
		{withEmoji("kubernetes-cluster"), "💥 error: " + strings.Repeat("denied ", 20)},
	}}).render(&b)
	golden(t, "table.txt", b.String())
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for _, l := range lines[1:] {
		if width(l) != width(lines[0]) {
			t.Errorf("line %q is %d columns; the frame is %d", l, width(l), width(lines[0]))
		}
	}
}

func TestWidthAndWrap(t *testing.T) {
	for s, want := range map[string]int{"abc": 3, "📦 gcs-bucket": 13, "✅": 2, "➖": 2, "💥 error": 8} {
		if got := width(s); got != want {
			t.Errorf("width(%q) = %d; want %d", s, got, want)
		}
	}
	got := wrap("aaaa bbbb cccc", 9)
	if !reflect.DeepEqual(got, []string{"aaaa bbbb", "cccc"}) {
		t.Errorf("wrap = %q", got)
	}
	if got := wrap(strings.Repeat("x", 12), 5); !reflect.DeepEqual(got, []string{"xxxxx", "xxxxx", "xx"}) {
		t.Errorf("wrap of a long word = %q", got)
	}
}
