package httpapi

import (
	"net/http"
	"time"
)

// Sweep re-verifies every connector and records their status (admins only; Cloud Scheduler
// calls it). An optional body tunes concurrency and the per-connector timeout.
func (a *API) Sweep(w http.ResponseWriter, r *http.Request) {
	c, ok := a.start(w, r, "sweep")
	defer c.done()
	if !ok {
		return
	}
	var b sweepBody
	if !c.decode(&b, true) {
		return
	}
	if err := c.svc.AuthorizeOperator(c.p); err != nil {
		c.fail(err)
		return
	}
	o := a.SweepDefaults
	if b.Concurrency > 0 {
		o.Concurrency = b.Concurrency
	}
	if b.TimeoutSeconds > 0 {
		o.Timeout = time.Duration(b.TimeoutSeconds) * time.Second
	}
	o.KeepOrphans = o.KeepOrphans || b.KeepOrphans
	rep, err := c.svc.Sweep(c.ctx, o)
	if err != nil {
		c.fail(err)
		return
	}
	writeJSON(w, http.StatusOK, toSweepResponse(rep))
}
