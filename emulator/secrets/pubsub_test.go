package secrets_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gcpconn/gcpconn/emulator/secrets"
)

const pubsubEmulator = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"

// startPubSub returns the host:port of a Pub/Sub emulator: the one at PUBSUB_EMULATOR_HOST
// (scripts/test.sh starts it), else the official emulator started here when installed (killed
// by PID at cleanup), else the in-process pstest server.
func startPubSub(t *testing.T) string {
	t.Helper()
	if host := os.Getenv("PUBSUB_EMULATOR_HOST"); host != "" {
		return host
	}
	if _, err := os.Stat(pubsubEmulator); err != nil {
		t.Logf("Pub/Sub emulator not installed (%s); using pstest", pubsubEmulator)
		srv := pstest.NewServer()
		t.Cleanup(func() { srv.Close() })
		return srv.Addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	host := fmt.Sprintf("127.0.0.1:%d", port)
	// The script execs java, so the process we start is the JVM itself.
	cmd := exec.Command(pubsubEmulator, "--host=127.0.0.1", fmt.Sprintf("--port=%d", port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Pub/Sub emulator: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 300; i++ {
		resp, err := http.Get("http://" + host + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return host
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("Pub/Sub emulator on %s did not become ready", host)
	return ""
}

func TestPubSubNotifier(t *testing.T) {
	host := startPubSub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client, err := pubsub.NewClient(ctx, "p1", option.WithEndpoint(host), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatalf("pubsub.NewClient: %v", err)
	}
	defer client.Close()
	// The official emulator refuses topic and subscription names shorter than 3 characters
	// ("t1"), so use long ones; unique ones, since the emulator may be shared by other runs.
	name := fmt.Sprintf("secret-events-%d", time.Now().UnixNano())
	topic, sub := "projects/p1/topics/"+name, "projects/p1/subscriptions/"+name+"-sub"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic}); err != nil {
		t.Fatalf("CreateSubscription: %v", err)
	}
	notifier, err := secrets.NewPubSubNotifier(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	defer notifier.Close()
	f := newFixture(t, notifier)
	c := f.client(t, admin)
	if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "via-pubsub", Secret: newSecret(nil, topic)}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p1/secrets/via-pubsub", Payload: &secretmanagerpb.SecretPayload{Data: []byte("v1")}}); err != nil {
		t.Fatalf("AddSecretVersion: %v", err)
	}
	got := map[string]map[string]string{}
	var mu sync.Mutex // Receive calls back concurrently
	rctx, rcancel := context.WithCancel(ctx)
	err = client.Subscriber(sub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		got[m.Attributes["eventType"]] = m.Attributes
		if len(got) == 2 {
			rcancel()
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("received %v before the deadline; want SECRET_CREATE and SECRET_VERSION_ADD", got)
	}
	add := got["SECRET_VERSION_ADD"]
	if add["secretId"] != "projects/101/secrets/via-pubsub" || add["versionId"] != "projects/101/secrets/via-pubsub/versions/1" || add["dataFormat"] != "JSON_API_V1" {
		t.Errorf("SECRET_VERSION_ADD attributes = %v; want secretId, versionId and dataFormat", add)
	}
	if got["SECRET_CREATE"]["secretId"] != "projects/101/secrets/via-pubsub" {
		t.Errorf("SECRET_CREATE attributes = %v", got["SECRET_CREATE"])
	}
}
