package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// TestSweepWorkerKilledMidShard: a sweep run's shard goes through the Pub/Sub emulator to a
// worker (functions/cmd/serve on the Firestore emulator) that is killed with SIGKILL in the
// middle of it. The shard delivered again to a new worker finishes it: every connector ends
// with a whole, checked status, and the run is done with no failed shard.
func TestSweepWorkerKilledMidShard(t *testing.T) {
	if os.Getenv("FIRESTORE_EMULATOR_HOST") == "" || os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		t.Skip("needs FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST (scripts/test.sh starts both emulators)")
	}
	dir := t.TempDir()
	fakeBin, serveBin := build(t, dir, "./emulator/cmd/fakegcp"), build(t, dir, "./functions/cmd/serve")
	fake := start(t, fakeBin, nil, "-keys-dir", filepath.Join(dir, "keys"))
	env := map[string]string{}
	var envLines []string
	for _, line := range fake.readUntil(t, "# fakegcp ready") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k], envLines = v, append(envLines, line)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tag := fmt.Sprintf("kill%d", time.Now().UnixNano()%1e9)
	topic, sub := subscription(ctx, t, "projects/zenml-core/topics/sweep-"+tag)
	const audience = "https://gcpconn.e2e"
	serveEnv := append(envLines, "GCPCONN_AUDIENCE="+audience, "GCPCONN_ADMINS=admin@zenml.io", "GCPCONN_STORE=google",
		"GCPCONN_PROJECT=zenml-core", "GCPCONN_SWEEP_TOPIC="+topic)
	serve := func() (*proc, string) {
		p := start(t, serveBin, serveEnv, "-addr", "127.0.0.1:0")
		lines := p.readUntil(t, "serving ")
		return p, strings.Fields(strings.TrimPrefix(lines[len(lines)-1], "serving "))[0]
	}
	first, base := serve()
	admin := &client{t: t, base: base, token: idToken(t, env["FAKEGCP_ADMIN_URL"], "admin@zenml.io", audience)}
	key, err := os.ReadFile(filepath.Join(dir, "keys", "connectors-admin@zenml-core.iam.gserviceaccount.com.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keyJSON map[string]any
	_ = json.Unmarshal(key, &keyJSON)
	names := make([]string, 12)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%02d", tag, i)
		admin.must("POST", "/register", map[string]any{"name": names[i], "auth_method": "service-account", "verify": false,
			"configuration": map[string]any{"project_id": "zenml-core", "service_account_json": keyJSON}}, 201)
	}
	// Every Google call now takes 300 ms, so that a shard is still running when its worker dies.
	if r, err := http.Post(env["FAKEGCP_ADMIN_URL"]+"/admin/faults", "application/json", strings.NewReader(`{"endpoint":"*","latency":"300ms"}`)); err != nil || r.StatusCode != 200 {
		t.Fatalf("set the fake's latency: %v %v", r, err)
	}
	run, _ := admin.must("POST", "/sweep", map[string]any{"shard_size": 500, "concurrency": 2}, 200)
	pushes := receive(ctx, t, sub, int(run["shards"].(map[string]any)["planned"].(float64)))

	// The first delivery: the worker dies (SIGKILL) in the middle of the shard.
	var wg sync.WaitGroup
	before := tokenGrants(t, env["FAKEGCP_ADMIN_URL"])
	body, _ := json.Marshal(pushes[0])
	wg.Go(func() { // fails when the worker is killed: that is the point
		req, _ := http.NewRequest("POST", admin.base+"/sweep-shard", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin.token)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	for tokenGrants(t, env["FAKEGCP_ADMIN_URL"]) < before+2 { // two checks under way: the shard is running
		select {
		case <-ctx.Done():
			t.Fatal("the first worker never started the shard")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if done := tokenGrants(t, env["FAKEGCP_ADMIN_URL"]) - before; done >= int64(len(names)) {
		t.Fatalf("the first worker checked %d connectors before it was killed; want it killed mid-shard", done)
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	// Delivered again to a new worker, every shard finishes.
	_, base = serve()
	admin.base = base
	for _, p := range pushes {
		if m, raw := admin.must("POST", "/sweep-shard", p, 200); m["state"] != "done" {
			t.Errorf("redelivered shard = %s; want done", raw)
		}
	}
	got, raw := admin.must("GET", "/sweep?run="+run["run"].(string), nil, 200)
	if got["state"] != "done" || got["shards"].(map[string]any)["failed"] != float64(0) {
		t.Errorf("run after the redelivery = %s; want done, no failed shard", raw)
	}
	for _, n := range names {
		m, raw := admin.must("GET", "/list?connector="+n, nil, 200)
		st, _ := m["connector"].(map[string]any)["status"].(map[string]any)
		if st["state"] != "ok" || st["checked_at"] == nil || st["inconclusive"] != nil {
			t.Errorf("%s after the killed shard = %s; want a whole, checked ok status", n, raw)
		}
	}
}

// subscription creates topic and a pull subscription on it in the Pub/Sub emulator.
func subscription(ctx context.Context, t *testing.T, topic string) (string, *pubsub.Subscriber) {
	t.Helper()
	c, err := pubsub.NewClient(ctx, "zenml-core")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	name := strings.Replace(topic, "/topics/", "/subscriptions/", 1)
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: name, Topic: topic, AckDeadlineSeconds: 300}); err != nil {
		t.Fatal(err)
	}
	return topic, c.Subscriber(name)
}

// receive pulls n messages and returns them as push bodies, as the push subscription would
// deliver them.
func receive(ctx context.Context, t *testing.T, sub *pubsub.Subscriber, n int) []map[string]any {
	t.Helper()
	var (
		mu  sync.Mutex
		out []map[string]any
	)
	rctx, cancel := context.WithCancel(ctx)
	err := sub.Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		out = append(out, map[string]any{"message": map[string]any{"data": m.Data, "attributes": m.Attributes, "messageId": m.ID},
			"subscription": "projects/zenml-core/subscriptions/sweep"})
		if len(out) == n {
			cancel()
		}
	})
	if err != nil || len(out) != n {
		t.Fatalf("received %d shards of %d: %v", len(out), n, err)
	}
	return out
}

// idToken mints a caller's ID token at the fake's admin API.
func idToken(t *testing.T, adminURL, email, audience string) string {
	t.Helper()
	resp, err := http.Post(adminURL+"/admin/id-token", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"audience":%q}`, email, audience)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		IDToken string `json:"id_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out.IDToken
}

// tokenGrants is how many token grants the fake has answered.
func tokenGrants(t *testing.T, adminURL string) int64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/admin/counts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var counts map[string]int64
	_ = json.NewDecoder(resp.Body).Decode(&counts)
	return counts["oauth2.token"]
}
