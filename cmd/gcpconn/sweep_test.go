package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
	"github.com/gcpconn/gcpconn/functions/httpapi"
	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// anyAdmin takes every bearer token as the admin's.
type anyAdmin struct{}

func (anyAdmin) Authenticate(r *http.Request) (connector.Principal, error) {
	if r.Header.Get("Authorization") == "" {
		return connector.Principal{}, connector.Errorf(connector.ErrUnauthenticated, "no token")
	}
	return connector.Principal{Email: "admin@example.com"}, nil
}

// heldShards keeps published shards until the test delivers them. The planner publishes
// several at once, so it takes a lock.
type heldShards struct {
	mu     sync.Mutex
	shards []upkeep.SweepShard
}

func (h *heldShards) PublishShard(_ context.Context, sh upkeep.SweepShard) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shards = append(h.shards, sh)
	return nil
}

// take returns the first shard held, if any.
func (h *heldShards) take() (upkeep.SweepShard, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.shards) == 0 {
		return upkeep.SweepShard{}, false
	}
	sh := h.shards[0]
	h.shards = h.shards[1:]
	return sh, true
}

// okGoogle answers every check.
type okGoogle struct{}

func (okGoogle) Token(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error) {
	return connector.Token{Value: "ya29.x", Expiry: time.Now().Add(time.Hour)}, nil
}
func (okGoogle) ListResources(_ context.Context, _ connector.Grant, _ connector.ResourceType, id string) ([]string, error) {
	return []string{"zenml-core"}, nil
}
func (okGoogle) Cluster(context.Context, connector.Grant, string) (connector.ClusterInfo, error) {
	return connector.ClusterInfo{}, nil
}

func (okGoogle) BucketProject(context.Context, connector.Grant, string) (bool, error) {
	return true, nil
}

func (okGoogle) RegistryHost(host string) string { return host }

// TestSweepWatch: `gcpconn sweep --watch` starts a run and follows it, one plain line per
// change when stdout is not a terminal (a bar redrawn in place when it is), until every shard
// is done (here the test delivers one shard to the worker per poll); -o json prints the
// finished run; --run latest shows it again; bad flags are usage errors naming them.
// watchRig is a sweep service over the memory stores with 5 connectors behind the HTTP API
// (wrapped by wrap, if not nil), and a cli that runs gcpconn against it: each sleep of the
// CLI delivers one held shard to the worker and is recorded in *slept (if not nil).
func watchRig(t *testing.T, wrap func(http.Handler) http.Handler, slept *[]time.Duration) func(terminal bool, args ...string) (string, string, int) {
	held := &heldShards{}
	svc := upkeep.New(&connector.Service{Store: store.NewMemory(), Secrets: store.NewMemorySecrets(), Google: okGoogle{},
		Policy: connector.Policy{Admins: []string{"admin@example.com"}}}, nil)
	svc.Runs, svc.Shards = &store.MemoryRuns{}, held
	no := false
	key := testKeyPEM(t)
	for i := range 5 {
		_, _, err := svc.Register(context.Background(), connector.Principal{Email: "o@example.com"}, connector.RegisterRequest{
			Name: fmt.Sprintf("c-%d", i), AuthMethod: configschema.ServiceAccount, Verify: &no,
			Configuration: map[string]any{"project_id": "zenml-core", "service_account_json": map[string]any{"type": "service_account",
				"project_id": "zenml-core", "client_email": "sa@zenml-core.iam.gserviceaccount.com", "private_key_id": "k", "private_key": key,
				"client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var h http.Handler = (&httpapi.API{Service: func(context.Context) (*connector.Service, error) { return svc.Service, nil },
		Keeper: func(context.Context) (*upkeep.Keeper, error) { return svc, nil }, Auth: anyAdmin{}}).Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	polls := 0
	deliver := func(_ context.Context, d time.Duration) error {
		if slept != nil {
			*slept = append(*slept, d)
		}
		if polls++; polls > 1000 { // a run that never ends must fail the test, not hang it
			return fmt.Errorf("the run was not done after %d polls", polls-1)
		}
		if sh, ok := held.take(); ok {
			if _, err := svc.SweepShard(context.Background(), sh, upkeep.SweepOptions{}); err != nil {
				return err
			}
		}
		return nil
	}
	cli := func(terminal bool, args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		e := &env{Stdout: &out, Stderr: &errOut, StdoutTerminal: terminal, Sleep: deliver}
		code := run(context.Background(), e, append([]string{"gcpconn", "--url", srv.URL, "--id-token", "t"}, args...))
		return out.String(), errOut.String(), code
	}
	return cli
}

func TestSweepWatch(t *testing.T) {
	cli := watchRig(t, nil, nil)
	out, errOut, code := cli(false, "sweep", "--watch", "--shard-size", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.Contains(lines[0], "running: 0/3 shards (0 failed), 0 of 5 connectors checked") ||
		!strings.Contains(out, "done: 3/3 shards (0 failed), 5 of 5 connectors checked") || !strings.Contains(out, "checked 5: 5 ok, 0 failed") {
		t.Fatalf("sweep --watch: exit %d\n%s%s", code, out, errOut)
	}
	if progress := strings.Count(out, "shards (0 failed)"); progress != 4 || strings.Contains(out, "\r") {
		t.Errorf("sweep --watch printed %d progress lines; want one per change (4), plain:\n%s", progress, out)
	}
	out, _, code = cli(true, "-o", "json", "sweep", "--watch", "--shard-size", "5")
	var run struct {
		Run     string `json:"run"`
		State   string `json:"state"`
		Checked int    `json:"checked"`
	}
	if err := json.Unmarshal([]byte(out), &run); code != 0 || err != nil || run.State != "done" || run.Checked != 5 {
		t.Errorf("-o json sweep --watch = %d %q (%v); want the finished run alone", code, out, err)
	}
	out, _, code = cli(true, "sweep", "--run", "latest", "--watch")
	if code != 0 || !strings.Contains(out, "\r\033[K[####################] run "+run.Run+" done") {
		t.Errorf("sweep --run latest --watch on a terminal: exit %d %q; want the full bar of %s", code, out, run.Run)
	}
	// gcpconn status shows an admin the latest run.
	if out, _, code = cli(false, "status"); code != 0 || !strings.Contains(out, "LAST SWEEP  "+run.Run+" done") ||
		!strings.Contains(out, "shards 1/1 done, 0 failed; checked 5: 5 ok, 0 failed, 0 inconclusive") {
		t.Errorf("status after the run: exit %d\n%s; want the latest run %s on its LAST SWEEP row", code, out, run.Run)
	}
	for _, bad := range [][]string{{"sweep", "--shard-size", "501"}, {"sweep", "--concurrency", "x"}, {"sweep", "extra"}} {
		if _, errOut, code := cli(false, bad...); code != exitUsage || !strings.Contains(errOut, strings.TrimPrefix(bad[1], "--")) {
			t.Errorf("gcpconn %v: exit %d %q; want a usage error naming it", bad, code, errOut)
		}
	}
}

// testKeyPEM is a fresh RSA key in PEM, for service-account JSON that parses.
func testKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestSweepProgressBarClamped: counts a server should never send (more shards finished than
// planned, negative ones) draw a full or empty bar instead of panicking.
func TestSweepProgressBarClamped(t *testing.T) {
	for _, c := range []struct{ planned, done, failed int }{{1, 3, 0}, {2, 1, 5}, {4, -9, 0}, {0, 2, 0}} {
		run := &client.SweepRun{Run: "r", State: "running"}
		run.Shards = &wire.Shards{Planned: c.planned, Done: c.done, Failed: c.failed}
		if line := sweepProgress(run, true); !strings.HasPrefix(line, "[") || strings.Index(line, "]") != 21 {
			t.Errorf("%+v: %q; want a 20-wide bar", c, line)
		}
	}
}

// TestSweepWatchRidesThroughUnavailable: while the run goes on, `sweep --watch` waits out up
// to maxWatchMisses unavailable answers in a row (503 upstream_unavailable, a store blip),
// saying so on stderr and honouring Retry-After, and follows the run to its end; one more in a
// row ends the watch with the service's error.
func TestSweepWatchRidesThroughUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name     string
		failures int
		wantCode int
	}{
		{"a blip", 2, 0},
		{"as many as it allows", maxWatchMisses, 0},
		{"one more than it allows", maxWatchMisses + 1, exitUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			left, retryAfter := tt.failures, "3"
			if tt.failures == maxWatchMisses {
				retryAfter = "3600" // more than the watch waits
			}
			unavailable := func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && r.URL.Query().Get("run") != "" && left > 0 {
						left--
						w.Header().Set("Content-Type", "application/json")
						w.Header().Set("Retry-After", retryAfter)
						w.WriteHeader(http.StatusServiceUnavailable)
						io.WriteString(w, `{"error":{"code":"upstream_unavailable","message":"store: firestore list sweep shards failed (DeadlineExceeded)"}}`)
						return
					}
					h.ServeHTTP(w, r)
				})
			}
			var slept []time.Duration
			cli := watchRig(t, unavailable, &slept)
			out, errOut, code := cli(false, "sweep", "--watch", "--shard-size", "2")
			if code != tt.wantCode {
				t.Fatalf("sweep --watch through %d unavailable answers: exit %d; want %d\n%s%s", tt.failures, code, tt.wantCode, out, errOut)
			}
			misses := min(tt.failures, maxWatchMisses)
			if got := strings.Count(errOut, "still watching run"); got != misses {
				t.Errorf("stderr says %d misses; want %d:\n%s", got, misses, errOut)
			}
			want := 3 * time.Second
			if retryAfter == "3600" {
				want = maxWatchWait
			}
			if !slices.Contains(slept, want) || slices.Max(slept) > maxWatchWait {
				t.Errorf("the watch slept %v; want a wait of Retry-After %ss, at most %v", slept, retryAfter, maxWatchWait)
			}
			if tt.wantCode == 0 && !strings.Contains(out, "done: 3/3 shards (0 failed), 5 of 5 connectors checked") {
				t.Errorf("the watch did not follow the run to its end:\n%s", out)
			}
			if tt.wantCode != 0 && !strings.Contains(errOut, "firestore list sweep shards failed") {
				t.Errorf("the watch gave up without the service's error:\n%s", errOut)
			}
		})
	}
}
