package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// TestPubSubShards publishes shards through the official Pub/Sub emulator
// (PUBSUB_EMULATOR_HOST; scripts/test.sh starts it) and reads them back from a
// subscription: each shard arrives whole, with its run and index as attributes; a topic that
// does not exist is a failed precondition naming it.
func TestPubSubShards(t *testing.T) {
	if os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		t.Skip("PUBSUB_EMULATOR_HOST is not set: this test needs the Pub/Sub emulator (scripts/test.sh starts it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := pubsub.NewClient(ctx, "demo-gcpconn")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	name := fmt.Sprintf("gcpconn-sweep-%d", time.Now().UnixNano())
	topic, sub := "projects/demo-gcpconn/topics/"+name, "projects/demo-gcpconn/subscriptions/"+name
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	p := store.NewPubSubShards(client, topic)
	defer p.Stop()
	want := map[int]upkeep.SweepShard{}
	for i := range 3 {
		sh := upkeep.SweepShard{Run: "20261206T000000Z-abcdef", Index: i, IDs: []string{fmt.Sprint("a", i), fmt.Sprint("b", i)}, Concurrency: 4}
		want[i] = sh
		if err := p.PublishShard(ctx, sh); err != nil {
			t.Fatalf("PublishShard(%d) = %v", i, err)
		}
	}
	var mu sync.Mutex
	got := map[int]upkeep.SweepShard{}
	rctx, rcancel := context.WithCancel(ctx)
	err = client.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		var sh upkeep.SweepShard
		if err := json.Unmarshal(m.Data, &sh); err != nil || m.Attributes["run"] != sh.Run || m.Attributes["shard"] != fmt.Sprint(sh.Index) {
			t.Errorf("message %q %v: not a shard with its attributes (%v)", m.Data, m.Attributes, err)
		}
		mu.Lock()
		defer mu.Unlock()
		got[sh.Index] = sh
		if len(got) == len(want) {
			rcancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if g := got[i]; g.Run != w.Run || fmt.Sprint(g.IDs) != fmt.Sprint(w.IDs) || g.Concurrency != 4 {
			t.Errorf("shard %d arrived as %+v; want %+v", i, g, w)
		}
	}
	missing := store.NewPubSubShards(client, "projects/demo-gcpconn/topics/no-such-topic")
	defer missing.Stop()
	err = missing.PublishShard(ctx, want[0])
	if connector.KindOf(err) != connector.ErrFailedPrecondition || !strings.Contains(err.Error(), "no-such-topic") {
		t.Errorf("publish to a missing topic = %v; want failed_precondition naming it", err)
	}
}
