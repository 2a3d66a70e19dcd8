package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

func TestSweepHandler(t *testing.T) {
	e := newEnv(t)
	for i := range 4 {
		e.register(fmt.Sprintf("conn-%d", i), nil)
	}
	e.google.TokenFunc = func(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
		if g.Connector.Name == "conn-2" {
			return denyToken(ctx, g, req)
		}
		return connector.Token{Value: "ya29.x", Expiry: testNow.Add(req.Lifetime + 1e12)}, nil
	}
	r := e.do("POST", "/sweep", e.token(admin), map[string]any{"concurrency": 2})
	e.expect(r, http.StatusOK, "")
	if r.body["checked"] != float64(4) || r.body["ok"] != float64(3) || r.body["failed"] != float64(1) {
		t.Errorf("POST /sweep = %s; want checked 4, ok 3, failed 1", r.raw)
	}
	r = e.do("GET", "/list?connector=conn-2", e.token(admin), nil)
	st := r.body["connector"].(map[string]any)["status"].(map[string]any)
	if st["state"] != "error" || st["error"] == "" || st["checked_at"] == nil {
		t.Errorf("conn-2 status after sweep = %v; want error with reason and checked_at", st)
	}
	e.expect(e.do("POST", "/sweep", e.token(admin), map[string]any{"concurency": 2}), 400, "invalid_argument")
	e.expect(e.do("PUT", "/sweep", e.token(admin), nil), 405, codeMethodNotAllowed)
	e.expect(e.do("GET", "/sweep", e.token(admin), nil), 412, "failed_precondition") // no runs kept
}

// TestSweepRunHandlers: with sweep runs, POST /sweep plans a run whose shards (run in this
// process here) check every connector; GET /sweep shows the latest run and GET
// /sweep?run=ID a given one; only admins start or see runs.
func TestSweepRunHandlers(t *testing.T) {
	e := newEnv(t)
	e.keeper.Runs = &store.MemoryRuns{}
	e.keeper.Shards = upkeep.LocalShards{Keeper: e.keeper}
	for i := range 5 {
		e.register(fmt.Sprintf("conn-%d", i), nil)
	}
	e.expect(e.do("GET", "/sweep", e.token(admin), nil), 404, "not_found")
	r := e.do("POST", "/sweep", e.token(admin), map[string]any{"shard_size": 2})
	e.expect(r, http.StatusOK, "")
	shards, _ := r.body["shards"].(map[string]any)
	if r.body["state"] != "done" || r.body["checked"] != float64(5) || r.body["connectors"] != float64(5) ||
		shards["planned"] != float64(3) || shards["done"] != float64(3) || r.body["run"] == "" {
		t.Errorf("POST /sweep = %s; want a done run of 3 shards, 5 checked", r.raw)
	}
	latest := e.do("GET", "/sweep", e.token(admin), nil)
	byID := e.do("GET", "/sweep?run="+url.QueryEscape(r.body["run"].(string)), e.token(admin), nil)
	for _, g := range []response{latest, byID} {
		e.expect(g, http.StatusOK, "")
		if g.body["run"] != r.body["run"] || g.body["checked"] != float64(5) {
			t.Errorf("GET /sweep = %s; want run %v", g.raw, r.body["run"])
		}
	}
	e.expect(e.do("GET", "/sweep?run=nope", e.token(admin), nil), 404, "not_found")
	e.expect(e.do("POST", "/sweep", e.token(admin), map[string]any{"shard_size": 501}), 400, "invalid_argument")
	e.expect(e.do("GET", "/sweep", e.token(owner), nil), 403, "permission_denied")
	e.expect(e.do("POST", "/sweep", e.token(owner), nil), 403, "permission_denied")
}

// TestSweepShardHandler: the worker takes a Pub/Sub push of a shard (with the fields Pub/Sub
// adds), answers 200 once it is done and 200 again, changing nothing, when delivered twice;
// a message that is not a shard is a 400 naming what is wrong; only admins may push.
func TestSweepShardHandler(t *testing.T) {
	e := newEnv(t)
	q := &shardQueue{}
	e.keeper.Runs, e.keeper.Shards = &store.MemoryRuns{}, q
	for i := range 3 {
		e.register(fmt.Sprintf("conn-%d", i), nil)
	}
	r := e.do("POST", "/sweep", e.token(admin), nil)
	if r.body["state"] != "running" || len(q.shards) != 1 {
		t.Fatalf("POST /sweep = %s; want a running run with one shard published", r.raw)
	}
	data, _ := json.Marshal(q.shards[0])
	push := map[string]any{"message": map[string]any{"data": data, "messageId": "1", "message_id": "1",
		"publishTime": "2026-01-01T00:00:00Z", "publish_time": "2026-01-01T00:00:00Z", "attributes": map[string]any{}},
		"subscription": "projects/p/subscriptions/gcpconn-sweep", "deliveryAttempt": 1}
	for range 2 {
		s := e.do("POST", "/sweep-shard", e.token(admin), push)
		e.expect(s, http.StatusOK, "")
		if s.body["state"] != "done" || s.body["attempts"] != float64(1) {
			t.Errorf("POST /sweep-shard = %s; want done after one attempt", s.raw)
		}
	}
	if g := e.do("GET", "/sweep", e.token(admin), nil); g.body["state"] != "done" || g.body["checked"] != float64(3) {
		t.Errorf("GET /sweep after the shard = %s; want done, 3 checked once", g.raw)
	}
	bad := map[string]any{"message": map[string]any{"data": []byte(`{"run":"r","ids":[],"extra":1}`)}}
	e.expect(e.do("POST", "/sweep-shard", e.token(admin), bad), 400, "invalid_argument")
	e.expect(e.do("POST", "/sweep-shard", e.token(admin), map[string]any{"message": map[string]any{}}), 400, "invalid_argument")
	e.expect(e.do("POST", "/sweep-shard", e.token(owner), push), 403, "permission_denied")
}

// shardQueue keeps published shards for the test to deliver. The planner publishes several at
// once, so it takes a lock; the test reads shards once planning has returned.
type shardQueue struct {
	mu     sync.Mutex
	shards []upkeep.SweepShard
}

func (q *shardQueue) PublishShard(_ context.Context, sh upkeep.SweepShard) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shards = append(q.shards, sh)
	return nil
}
