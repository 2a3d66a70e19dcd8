package connector

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The cache never holds more than maxCachedConnectors entries, however many names are tried,
// and drops expired entries first when it is full.
func TestConnCacheBounded(t *testing.T) {
	var cc connCache
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	notFound := func(context.Context) (*Connector, error) { return nil, Errorf(ErrNotFound, "no") }
	ctx := context.Background()
	for i := range maxCachedConnectors {
		if _, err := cc.get(ctx, clock, time.Minute, nameKey(fmt.Sprint("old-", i)), notFound); KindOf(err) != ErrNotFound {
			t.Fatalf("get = %v; want ErrNotFound", err)
		}
	}
	now = now.Add(negativeTTL) // every entry so far has expired
	live := &Connector{ID: "live", Name: "live"}
	if _, err := cc.get(ctx, clock, time.Minute, idKey("live"), func(context.Context) (*Connector, error) { return live, nil }); err != nil {
		t.Fatal(err)
	}
	if n := cc.m.Len(); n != 2 {
		t.Errorf("entries after a put into a cache full of expired entries = %d; want 2 (the live connector by id and name)", n)
	}
	for i := range 3 * maxCachedConnectors {
		_, _ = cc.get(ctx, clock, time.Minute, nameKey(fmt.Sprint("new-", i)), notFound)
		if cc.m.Len() > maxCachedConnectors {
			t.Fatalf("entries = %d after %d misses; want at most %d", cc.m.Len(), i+1, maxCachedConnectors)
		}
	}
}
