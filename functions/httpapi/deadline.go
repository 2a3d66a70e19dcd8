package httpapi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineCtx is a request's context with its deadline, whose timer is made only when
// something waits on it. context.WithDeadline makes a timer and registers the new context with
// its parent on every request; a warm mint, answered from memory without waiting on anything,
// never asks for Done, so it pays for neither (about a tenth of the mint handler's CPU time).
//
// Deadline reports the deadline at once. Done, AfterFunc (which context.WithCancel and
// friends use on a child) and Value after either make the real context (WithDeadline over the
// parent, cancelled at once if cancel came first). Before that, Err answers from the parent,
// the cancel and the clock, as the real context would have; context.Cause of a context whose
// deadline passed before anything waited on it is the parent's (nil), not DeadlineExceeded.
type deadlineCtx struct {
	context.Context // the parent
	deadline        time.Time

	real      atomic.Pointer[realDeadline] // nil until made
	mu        sync.Mutex                   // making real; cancelled
	cancelled bool
}

type realDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// withLazyDeadline returns a child of parent ending at d (or at the parent's deadline when
// that is earlier), and its cancel function.
func withLazyDeadline(parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		return context.WithCancel(parent) // as context.WithDeadline does
	}
	c := &deadlineCtx{Context: parent, deadline: d}
	return c, c.cancel
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Done() <-chan struct{} { return c.realCtx().Done() }

// AfterFunc is what context.AfterFunc and the cancellation of child contexts use.
func (c *deadlineCtx) AfterFunc(f func()) func() bool { return context.AfterFunc(c.realCtx(), f) }

func (c *deadlineCtx) Err() error {
	if r := c.real.Load(); r != nil {
		return r.ctx.Err()
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	cancelled := c.cancelled
	c.mu.Unlock()
	switch {
	case cancelled:
		return context.Canceled
	case !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

func (c *deadlineCtx) Value(key any) any {
	if r := c.real.Load(); r != nil {
		return r.ctx.Value(key)
	}
	return c.Context.Value(key)
}

// realCtx returns the real context, making it on first use.
func (c *deadlineCtx) realCtx() context.Context {
	if r := c.real.Load(); r != nil {
		return r.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.real.Load(); r != nil {
		return r.ctx
	}
	ctx, cancel := context.WithDeadline(c.Context, c.deadline)
	if c.cancelled {
		cancel()
	}
	c.real.Store(&realDeadline{ctx: ctx, cancel: cancel})
	return ctx
}

func (c *deadlineCtx) cancel() {
	c.mu.Lock()
	c.cancelled = true
	r := c.real.Load()
	c.mu.Unlock()
	if r != nil {
		r.cancel()
	}
}

func (c *deadlineCtx) String() string { return "httpapi.deadlineCtx" }
