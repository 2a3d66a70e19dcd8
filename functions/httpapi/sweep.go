package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Sweep starts a sweep run (POST; admins only; Cloud Scheduler calls it) or shows one (GET
// /sweep?run=ID, the latest without run). POST plans the run: every connector id, in shards
// published to the workers (SweepShard), and answers the run as it stands once the shards
// are published (finished already when the shards run in this process). An optional body
// tunes concurrency, the per-connector timeout and the shard size. A Service without sweep
// runs sweeps every connector in this request, as before.
func (a *API) Sweep(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		a.serve(w, r, "sweep", sweepGet)
		return
	}
	serveBody(a, w, r, "sweep", true, func(c *call, b wire.SweepRequest) error {
		if err := c.svc.AuthorizeOperator(c.p); err != nil {
			return err
		}
		if b.ShardSize < 0 || b.ShardSize > upkeep.MaxShardSize {
			return connector.FieldErrorf("shard_size", "shard_size must be from 1 to %d connectors (0: %d)", upkeep.MaxShardSize, upkeep.DefaultShardSize)
		}
		return a.sweepPost(c, b)
	})
}

// sweepGet answers the run ?run=ID, or the latest.
func sweepGet(c *call) error {
	if err := c.svc.AuthorizeOperator(c.p); err != nil {
		return err
	}
	k, err := c.keeper()
	if err != nil {
		return err
	}
	v, err := k.SweepRunStatus(c.ctx, c.r.URL.Query().Get("run"))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, toSweepRunResponse(v))
	return nil
}

// sweepPost starts a run (or, without sweep runs, sweeps in this request).
func (a *API) sweepPost(c *call, b wire.SweepRequest) error {
	o := a.SweepDefaults
	if b.Concurrency > 0 {
		o.Concurrency = b.Concurrency
	}
	if b.TimeoutSeconds > 0 {
		o.Timeout = time.Duration(b.TimeoutSeconds) * time.Second
	}
	o.KeepOrphans = o.KeepOrphans || b.KeepOrphans
	k, err := c.keeper()
	if err != nil {
		return err
	}
	if k.Runs == nil || k.Shards == nil {
		rep, err := k.Sweep(c.ctx, o)
		if err != nil {
			return err
		}
		writeJSON(c.w, http.StatusOK, toSweepResponse(rep))
		return nil
	}
	v, err := k.StartSweep(c.ctx, o, b.ShardSize)
	if err != nil && v.Run.ID == "" {
		return err
	}
	writeJSON(c.w, http.StatusOK, toSweepRunResponse(v)) // a planning failure is in plan_error
	return nil
}

// SweepShard is the sweep worker: a Pub/Sub push delivery of one shard of a run (the
// planner's message as data). It checks, repairs, rotates and cleans up the shard's
// connectors and answers 200, or an error status so that Pub/Sub delivers the shard again
// (503 when it could not be finished; 400 for a message that is not a shard, which ends in
// the dead-letter topic). The caller must be an admin (the push subscription's OIDC identity).
func (a *API) SweepShard(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "sweep-shard", func(c *call) error {
		if err := c.svc.AuthorizeOperator(c.p); err != nil {
			return err
		}
		sh, ok, err := decodeAs(c, shardFromPush)
		if !ok {
			return err
		}
		k, err := c.keeper()
		if err != nil {
			return err
		}
		rec, err := k.SweepShard(c.ctx, sh, a.SweepDefaults)
		if err != nil {
			if k := connector.KindOf(err); k != connector.ErrInvalid && k != connector.ErrFailedPrecondition {
				err = &connector.Error{Kind: connector.ErrUpstreamUnavailable, Err: err,
					Message: "the shard was not finished and will be delivered again: " + connector.MessageOf(err)}
			}
			return err
		}
		writeJSON(w, http.StatusOK, shardResponse{Run: rec.Run, Index: rec.Index, State: string(rec.State),
			Attempts: rec.Attempts, Checked: rec.Report.Checked, Unchecked: len(rec.Unchecked)})
		return nil
	})
}

// shardFromPush reads the shard in a Pub/Sub push body. The envelope is Pub/Sub's, which
// adds fields over time (deliveryAttempt, publish_time, orderingKey): it is read leniently;
// the shard itself, gcpconn's own message, exactly.
func shardFromPush(body json.RawMessage) (upkeep.SweepShard, error) {
	var push struct {
		Message struct {
			Data []byte `json:"data"`
		} `json:"message"`
	}
	var sh upkeep.SweepShard
	if err := json.Unmarshal(body, &push); err != nil || len(push.Message.Data) == 0 {
		return sh, connector.FieldErrorf("message.data", "the body is not a Pub/Sub push of a sweep shard (message.data, base64 JSON)")
	}
	if err := decodeStrict(push.Message.Data, &sh); err != nil {
		return sh, err
	}
	return sh, sh.Check()
}
