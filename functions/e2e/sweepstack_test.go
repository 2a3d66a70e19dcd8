package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// sweepStack is a deployed sweep on this machine: the fake Google (its own process), the
// functions (functions/cmd/serve, which a test may kill and start again) over the Firestore
// emulator, and the sweep topic in the Pub/Sub emulator with a push subscription as infra/
// makes it (a dead-letter topic after 5 deliveries), but with a 10 s ack deadline and a 1-2 s
// retry backoff so that a test sees the redeliveries soon. The pushes go to a relay in the
// test, which adds the push identity's ID token (as Pub/Sub does deployed; the emulator does
// not) and forwards each to the serve running now, answering with its status (502 when it
// could not be reached), and counts the deliveries by shard.
type sweepStack struct {
	t          *testing.T
	ctx        context.Context
	serveBin   string
	serveEnv   []string
	fake       map[string]string // the fake's environment (FAKEGCP_ADMIN_URL, ...)
	keyJSON    map[string]any
	admin      *client
	serve      *proc
	deadLetter *pubsub.Subscriber

	mu         sync.Mutex
	target     string         // the serve that pushes go to
	deliveries map[string]int // by "run/shard"
	began      time.Time
	done       bool // the test has ended: no more logging
}

const sweepAudience = "https://gcpconn.e2e"

// needEmulators skips t without both emulators, except in CI (CI=1), where it fails.
func needEmulators(t *testing.T) {
	if os.Getenv("FIRESTORE_EMULATOR_HOST") != "" && os.Getenv("PUBSUB_EMULATOR_HOST") != "" {
		return
	}
	msg := "needs the Firestore and Pub/Sub emulators (FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST; scripts/test.sh starts both)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// newSweepStack starts the fake, one serve (with extraEnv) and the topics, within timeout.
func newSweepStack(t *testing.T, timeout time.Duration, extraEnv ...string) *sweepStack {
	needEmulators(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	dir := t.TempDir()
	s := &sweepStack{t: t, ctx: ctx, fake: map[string]string{}, deliveries: map[string]int{}, began: time.Now()}
	t.Cleanup(func() { s.mu.Lock(); s.done = true; s.mu.Unlock() })
	fakeBin := build(t, dir, "./emulator/cmd/fakegcp")
	s.serveBin = build(t, dir, "./functions/cmd/serve")
	fake := start(t, fakeBin, nil, "-keys-dir", filepath.Join(dir, "keys"))
	var envLines []string
	for _, line := range fake.readUntil(t, "# fakegcp ready") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			s.fake[k], envLines = v, append(envLines, line)
		}
	}
	key, err := os.ReadFile(filepath.Join(dir, "keys", "connectors-admin@zenml-core.iam.gserviceaccount.com.json"))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(key, &s.keyJSON)
	topic := s.topics(strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
	s.serveEnv = append(append(envLines, "GCPCONN_AUDIENCE="+sweepAudience, "GCPCONN_ADMINS=admin@zenml.io",
		"GCPCONN_STORE=google", "GCPCONN_PROJECT=zenml-core", "GCPCONN_SWEEP_TOPIC="+topic, "GCPCONN_TRACE_EXPORTER=none",
		// A database of its own: the run's counts are this test's connectors only.
		fmt.Sprintf("GCPCONN_FIRESTORE_DATABASE=e2e-%d", time.Now().UnixNano())), extraEnv...)
	s.admin = &client{t: t, token: idToken(t, s.fake["FAKEGCP_ADMIN_URL"], "admin@zenml.io", sweepAudience)}
	s.startServe()
	return s
}

// startServe starts a serve and sends the pushes to it from now on.
func (s *sweepStack) startServe() {
	s.serve = start(s.t, s.serveBin, s.serveEnv, "-addr", "127.0.0.1:0")
	lines := s.serve.readUntil(s.t, "serving ")
	base := strings.Fields(strings.TrimPrefix(lines[len(lines)-1], "serving "))[0]
	s.mu.Lock()
	s.target, s.admin.base = base, base
	s.mu.Unlock()
}

// topics creates the sweep topic (returned), its dead-letter topic with a pull subscription
// (s.deadLetter), and the push subscription to the relay.
func (s *sweepStack) topics(tag string) string {
	c, err := pubsub.NewClient(s.ctx, "zenml-core")
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	name := func(kind, n string) string {
		return fmt.Sprintf("projects/zenml-core/%s/%s-%d", kind, n, time.Now().UnixNano())
	}
	topic, dead := name("topics", "sweep-"+tag), name("topics", "sweep-dead-"+tag)
	deadSub := strings.Replace(dead, "/topics/", "/subscriptions/", 1)
	for _, tp := range []string{topic, dead} {
		if _, err := c.TopicAdminClient.CreateTopic(s.ctx, &pubsubpb.Topic{Name: tp}); err != nil {
			s.t.Fatal(err)
		}
	}
	subs := []*pubsubpb.Subscription{{Name: deadSub, Topic: dead, AckDeadlineSeconds: 10}, {
		Name: name("subscriptions", "sweep-"+tag), Topic: topic, AckDeadlineSeconds: 10,
		PushConfig:       &pubsubpb.PushConfig{PushEndpoint: s.relay()},
		DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{DeadLetterTopic: dead, MaxDeliveryAttempts: 5},
		RetryPolicy:      &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(time.Second), MaximumBackoff: durationpb.New(2 * time.Second)},
	}}
	for _, sub := range subs {
		if _, err := c.SubscriptionAdminClient.CreateSubscription(s.ctx, sub); err != nil {
			s.t.Fatal(err)
		}
	}
	s.deadLetter = c.Subscriber(deadSub)
	return topic
}

// relay serves the push endpoint on a loopback port and returns its URL.
func (s *sweepStack) relay() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.forward)}
	go func() { _ = srv.Serve(ln) }()
	s.t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/push"
}

// forward relays one push to the serve running now, as the push identity.
func (s *sweepStack) forward(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var push struct {
		Message struct {
			Attributes map[string]string `json:"attributes"`
		} `json:"message"`
	}
	_ = json.Unmarshal(body, &push)
	key := push.Message.Attributes["run"] + "/" + push.Message.Attributes["shard"]
	s.mu.Lock()
	s.deliveries[key]++
	target, n := s.target, s.deliveries[key]
	s.mu.Unlock()
	s.logf("push of shard %s, delivery %d", key, n)
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, target+"/sweep-shard", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.admin.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil { // the worker is gone: no answer, as from an instance that vanished
		s.logf("push of shard %s: the worker is gone (%v); no answer until Pub/Sub gives up on it", key, err)
		<-r.Context().Done()
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// logf logs with the time since the stack started, while the test runs.
func (s *sweepStack) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.t.Logf("%5.1fs "+format, append([]any{time.Since(s.began).Seconds()}, args...)...)
	}
}

// delivered is how many times shard of run was pushed.
func (s *sweepStack) delivered(run string, shard int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliveries[fmt.Sprintf("%s/%d", run, shard)]
}

// register registers n service-account connectors (not verified) named PREFIX-NN.
func (s *sweepStack) register(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%02d", prefix, i)
		s.admin.must("POST", "/register", map[string]any{"name": names[i], "auth_method": "service-account", "verify": false,
			"configuration": map[string]any{"project_id": "zenml-core", "service_account_json": s.keyJSON}}, 201)
	}
	return names
}

// fault sets a fault of the fake (faults.FaultSpec as JSON).
func (s *sweepStack) fault(spec string) {
	r, err := http.Post(s.fake["FAKEGCP_ADMIN_URL"]+"/admin/faults", "application/json", strings.NewReader(spec))
	if err != nil {
		s.t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		s.t.Fatalf("set fault %s: %s", spec, r.Status)
	}
}

// runDone polls the run record (GET /sweep?run=ID) until it is done, within the stack's
// deadline, and returns it. Like `gcpconn sweep --watch`, it waits out a few unavailable
// answers in a row (the Firestore emulator of a loaded machine answers a query late now and
// then); the run goes on meanwhile.
func (s *sweepStack) runDone(run string) (map[string]any, string) {
	misses := 0
	for {
		status, m, raw := s.admin.call("GET", "/sweep?run="+run, nil)
		switch {
		case status == http.StatusServiceUnavailable && misses < 5:
			misses++
			s.t.Logf("GET /sweep?run=%s = %d %s; polling on (miss %d of 5)", run, status, raw, misses)
		case status != http.StatusOK:
			s.t.Fatalf("GET /sweep?run=%s = %d %s; want 200", run, status, raw)
		case m["state"] == "done":
			return m, raw
		default:
			misses = 0
		}
		select {
		case <-s.ctx.Done():
			s.t.Fatalf("run %s not done in time: %s (deliveries %v)", run, raw, s.deliveries)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// status is connector name's status as /list shows it.
func (s *sweepStack) status(name string) map[string]any {
	m, _ := s.admin.must("GET", "/list?connector="+name, nil, 200)
	st, _ := m["connector"].(map[string]any)["status"].(map[string]any)
	return st
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
