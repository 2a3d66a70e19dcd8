package upkeep_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// perConnector counts the token grants the checks ask for, per connector.
type perConnector struct {
	connector.Google
	mu sync.Mutex
	n  map[string]int
}

func (p *perConnector) Token(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
	p.mu.Lock()
	p.n[g.Connector.ID]++
	p.mu.Unlock()
	return p.Google.Token(ctx, g, req)
}

// metadataReads counts the Secret Manager metadata reads a sweep makes (version listings,
// the secret listing of the orphan search), the quota that is ~600 a minute per project.
type metadataReads struct {
	*store.MemorySecrets
	mu sync.Mutex
	n  int
}

func (m *metadataReads) ListVersions(ctx context.Context, id string) ([]upkeep.SecretVersion, error) {
	m.mu.Lock()
	m.n++
	m.mu.Unlock()
	return m.MemorySecrets.ListVersions(ctx, id)
}

func (m *metadataReads) SecretCreateTimes(ctx context.Context) (map[string]time.Time, error) {
	m.mu.Lock()
	m.n++
	m.mu.Unlock()
	return m.MemorySecrets.SecretCreateTimes(ctx)
}

// storeCalls counts the connector store calls a sweep makes, by method.
type storeCalls struct {
	connector.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *storeCalls) count(m string) {
	c.mu.Lock()
	c.n[m]++
	c.mu.Unlock()
}

func (c *storeCalls) Get(ctx context.Context, id string) (*connector.Connector, error) {
	c.count("get")
	return c.Store.Get(ctx, id)
}

func (c *storeCalls) SetStatus(ctx context.Context, cn *connector.Connector, st connector.Status) error {
	c.count("set-status")
	return c.Store.SetStatus(ctx, cn, st)
}

func (c *storeCalls) Update(ctx context.Context, cn *connector.Connector) error {
	c.count("update")
	return c.Store.Update(ctx, cn)
}

func (c *storeCalls) ListIDs(ctx context.Context, after string, n int) ([]string, error) {
	c.count("list-ids")
	return c.Store.(upkeep.ConnectorIDs).ListIDs(ctx, after, n)
}

// workerPool is a ShardPublisher that hands each shard to one of a fixed number of workers,
// as Pub/Sub's push spreads shards over worker instances; Wait returns when all are done.
type workerPool struct {
	svc  *upkeep.Keeper
	work chan upkeep.SweepShard
	wg   sync.WaitGroup
}

func newWorkerPool(svc *upkeep.Keeper, workers int) *workerPool {
	p := &workerPool{svc: svc, work: make(chan upkeep.SweepShard, 1<<16)}
	for range workers {
		go func() {
			for sh := range p.work {
				for range upkeep.MaxShardAttempts {
					if _, err := svc.SweepShard(context.Background(), sh, upkeep.SweepOptions{}); err == nil {
						break
					}
				}
				p.wg.Done()
			}
		}()
	}
	return p
}

func (p *workerPool) PublishShard(_ context.Context, sh upkeep.SweepShard) error {
	p.wg.Add(1)
	p.work <- sh
	return nil
}

// BenchmarkSweepFanOutAgainstFake is one sweep run fanned out in shards, through the real
// Google adapter against the fake whose every endpoint answers after GCPCONN_BENCH_LATENCY
// (default 20ms), over GCPCONN_BENCH_CONNECTORS connectors (default 1000) in shards of 100,
// GCPCONN_BENCH_WORKERS shards at a time (default 4; each checks 32 connectors at once).
// With PUBSUB_EMULATOR_HOST the shards go through the Pub/Sub emulator (PubSubShards, a
// subscription whose receiver runs SweepShard); otherwise through an in-process pool. It
// reports wall time, connectors/s, Google calls per connector by API and Secret Manager
// metadata reads per run and connector-store calls per connector, and fails unless every connector was checked exactly once.
// scripts/bench-sweep.sh --connectors N runs it.
func BenchmarkSweepFanOutAgainstFake(b *testing.B) {
	n, workers := envInt(b, "GCPCONN_BENCH_CONNECTORS", 1000), envInt(b, "GCPCONN_BENCH_WORKERS", 4)
	latency := 20 * time.Millisecond
	if v := os.Getenv("GCPCONN_BENCH_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("GCPCONN_BENCH_LATENCY=%q: %v", v, err)
		}
		latency = d
	}
	s, srv := sweepFakeService(b, n, 100)
	google := &perConnector{Google: s.Google}
	secrets := &metadataReads{MemorySecrets: s.Secrets.(*store.MemorySecrets)}
	calls := &storeCalls{Store: s.Store}
	s.Google, s.Secrets, s.Runs, s.Store = google, secrets, &store.MemoryRuns{}, calls
	wait := fanOutTransport(b, s, workers)
	srv.Faults().Set("*", faults.Fault{Latency: latency})
	defer srv.Faults().Set("*", faults.Fault{})
	b.ResetTimer()
	for b.Loop() {
		google.n, secrets.n, calls.n = map[string]int{}, 0, map[string]int{}
		before := srv.Faults().Counts()
		start := time.Now()
		v, err := s.StartSweep(context.Background(), upkeep.SweepOptions{Concurrency: 32}, upkeep.DefaultShardSize)
		if err != nil {
			b.Fatal(err)
		}
		wait()
		wall := time.Since(start)
		if v, err = s.SweepRunStatus(context.Background(), v.Run.ID); err != nil || v.State != "done" || v.Report.Checked != n {
			b.Fatalf("run = %+v, %v; want done with %d checked", v, err, n)
		}
		checkedOnce(b, google.n, n)
		b.ReportMetric(wall.Seconds(), "s/run")
		b.ReportMetric(float64(n)/wall.Seconds(), "connectors/s")
		b.ReportMetric(float64(secrets.n), "sm-metadata-reads/run")
		reportCallsByAPI(b, before, srv.Faults().Counts(), n)
		for m, k := range calls.n {
			b.ReportMetric(float64(k)/float64(n), "store-"+m+"/connector")
		}
	}
}

// fanOutTransport sets s.Shards: the Pub/Sub emulator with a receiving worker when
// PUBSUB_EMULATOR_HOST is set, an in-process pool otherwise. It returns a wait for the
// published shards to be done.
func fanOutTransport(b *testing.B, s *upkeep.Keeper, workers int) func() {
	if os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		pool := newWorkerPool(s, workers)
		s.Shards = pool
		return pool.wg.Wait
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	client, err := pubsub.NewClient(ctx, "demo-gcpconn")
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("gcpconn-sweep-bench-%d", time.Now().UnixNano())
	topic, sub := "projects/demo-gcpconn/topics/"+name, "projects/demo-gcpconn/subscriptions/"+name
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		b.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 300}); err != nil {
		b.Fatal(err)
	}
	pub := store.NewPubSubShards(client, topic)
	b.Cleanup(pub.Stop)
	var pending sync.WaitGroup
	s.Shards = countingPublisher{pub: pub, pending: &pending}
	r := client.Subscriber(sub)
	r.ReceiveSettings.MaxOutstandingMessages = workers
	go func() {
		_ = r.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
			sh, err := decodeShard(m.Data)
			if err == nil {
				_, err = s.SweepShard(ctx, sh, upkeep.SweepOptions{})
			}
			if err != nil {
				m.Nack()
				return
			}
			m.Ack()
			pending.Done()
		})
	}()
	return pending.Wait
}

// countingPublisher publishes through pub and counts the shards still to be done.
type countingPublisher struct {
	pub     upkeep.ShardPublisher
	pending *sync.WaitGroup
}

func (c countingPublisher) PublishShard(ctx context.Context, sh upkeep.SweepShard) error {
	c.pending.Add(1)
	if err := c.pub.PublishShard(ctx, sh); err != nil {
		c.pending.Done()
		return err
	}
	return nil
}

func decodeShard(data []byte) (upkeep.SweepShard, error) {
	var sh upkeep.SweepShard
	err := json.Unmarshal(data, &sh)
	return sh, err
}

// checkedOnce fails unless each of n connectors was checked exactly once.
func checkedOnce(b *testing.B, checks map[string]int, n int) {
	b.Helper()
	if len(checks) != n {
		b.Fatalf("%d connectors checked; want every one of %d", len(checks), n)
	}
	for id, k := range checks {
		if k != 1 {
			b.Fatalf("connector %s checked %d times in one run; want once", id, k)
		}
	}
}

// reportCallsByAPI reports the fake's calls per connector, by API (the fake's endpoint
// name's first word: oauth2, storage, iam, ...).
func reportCallsByAPI(b *testing.B, before, after map[string]int64, n int) {
	byAPI := map[string]int64{}
	for k, v := range after {
		api, _, _ := strings.Cut(k, ".")
		byAPI[api] += v - before[k]
	}
	apis := make([]string, 0, len(byAPI))
	for api := range byAPI {
		apis = append(apis, api)
	}
	sort.Strings(apis)
	for _, api := range apis {
		if byAPI[api] > 0 {
			b.ReportMetric(float64(byAPI[api])/float64(n), api+"-calls/connector")
		}
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}
