package deadline

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestWriteContextLeavesTimeToRecord: the context ends a quarter of the caller's remaining
// time before the caller's deadline (at most maxReserve), or after budget when that is
// sooner or the caller has no deadline.
func TestWriteContextLeavesTimeToRecord(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration // 0: none
		budget   time.Duration
		want     time.Duration
	}{
		{"no deadline", 0, 30 * time.Second, 30 * time.Second},
		{"budget first", time.Minute, 10 * time.Second, 10 * time.Second},
		{"a quarter left", 8 * time.Second, time.Minute, 6 * time.Second},
		{"at most maxReserve", time.Minute, time.Hour, time.Minute - maxReserve},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				if tc.deadline != 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.deadline)
					defer cancel()
				}
				start := time.Now()
				wctx, cancel := WriteContext(ctx, tc.budget)
				defer cancel()
				<-wctx.Done()
				if got := time.Since(start); got != tc.want {
					t.Errorf("WriteContext ended after %s; want %s", got, tc.want)
				}
			})
		})
	}
}
