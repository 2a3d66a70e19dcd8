package rpcproxy

import (
	"maps"
	"testing"
)

func TestCounter(t *testing.T) {
	var c Counter
	for _, m := range []string{"/google.firestore.v1.Firestore/Commit", "/google.firestore.v1.Firestore/RunQuery", "/google.firestore.v1.Firestore/Commit", "Listen"} {
		c.Add(m)
	}
	if got := c.Sum(map[string]bool{"Commit": true, "Listen": true}); got != 3 {
		t.Errorf("Sum(Commit, Listen) = %d, want 3", got)
	}
	want := map[string]int64{"Commit": 2, "RunQuery": 1, "Listen": 1}
	if got := c.Take(); !maps.Equal(got, want) {
		t.Errorf("Take() = %v, want %v", got, want)
	}
	if got := c.Take(); len(got) != 0 {
		t.Errorf("second Take() = %v, want nothing counted since the first", got)
	}
	if got := c.Sum(map[string]bool{"Commit": true}); got != 0 {
		t.Errorf("Sum after Take = %d, want 0", got)
	}
}
