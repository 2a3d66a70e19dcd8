package gcs_test

import (
	"context"
	"testing"
)

// BenchmarkReadObject measures one small object read through the real
// storage client over loopback HTTP (token, IAM check, fake-gcs-server).
func BenchmarkReadObject(b *testing.B) {
	f := newFixture(b)
	c := f.client(b, f.token(scoped, nil))
	ctx := context.Background()
	for b.Loop() {
		if _, err := read(ctx, c, "b1", "data/a.txt"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListBuckets measures storage.buckets.list for a project.
func BenchmarkListBuckets(b *testing.B) {
	f := newFixture(b)
	c := f.client(b, f.token(admin, nil))
	ctx := context.Background()
	for b.Loop() {
		if _, err := listBuckets(ctx, c, "p1"); err != nil {
			b.Fatal(err)
		}
	}
}
