// Package deadline budgets a context for work whose outcome must still be recorded within the
// caller's deadline: the core's store writes that may need a cleanup (shared/connector) and
// the verification of a rotated key (shared/upkeep).
package deadline

import (
	"context"
	"time"
)

// maxReserve bounds the part of ctx's remaining time that WriteContext leaves for recording
// the outcome (a quarter of it).
const maxReserve = 5 * time.Second

// WriteContext bounds work that must still leave time, within ctx's deadline, to record its
// outcome (read it back, clean up after it): the context ends a quarter of ctx's remaining
// time (at most maxReserve) before ctx's deadline, and at the latest budget from now.
func WriteContext(ctx context.Context, budget time.Duration) (context.Context, context.CancelFunc) {
	end := time.Now().Add(budget)
	if d, ok := ctx.Deadline(); ok {
		if e := d.Add(-min(maxReserve, max(time.Until(d), 0)/4)); e.Before(end) {
			end = e
		}
	}
	return context.WithDeadline(ctx, end)
}
