package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// pushBody is a Pub/Sub push request carrying a Secret Manager notification, as Secret
// Manager publishes it: attributes eventType, secretId, versionId (version events) and
// dataFormat; data the Secret or SecretVersion JSON.
func pushBody(eventType, secret, version string) map[string]any {
	attrs := map[string]string{"eventType": eventType, "secretId": secret, "dataFormat": "JSON"}
	data := map[string]any{"name": secret, "createTime": "2026-11-22T01:00:00Z"}
	if version != "" {
		attrs["versionId"] = secret + "/versions/" + version
		data = map[string]any{"name": secret + "/versions/" + version, "state": "ENABLED", "createTime": "2026-11-22T01:00:00Z"}
	}
	raw, _ := json.Marshal(data)
	return map[string]any{
		"message": map[string]any{
			"data": base64.StdEncoding.EncodeToString(raw), "attributes": attrs,
			"messageId": "m-" + eventType + version, "message_id": "m-" + eventType + version, "publishTime": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano),
		},
		"subscription": "projects/demo-project/subscriptions/gcpconn-refresh",
	}
}

// labelled puts labels on the Secret JSON in a push body built by pushBody.
func labelled(push map[string]any, labels map[string]string) map[string]any {
	msg := push["message"].(map[string]any)
	raw, _ := base64.StdEncoding.DecodeString(msg["data"].(string))
	var data map[string]any
	_ = json.Unmarshal(raw, &data)
	data["labels"] = labels
	raw, _ = json.Marshal(data)
	msg["data"] = base64.StdEncoding.EncodeToString(raw)
	return push
}

func TestRefreshPinsNewVersion(t *testing.T) {
	e := newEnv(t)
	id := e.register("alpha", nil)
	secret := "projects/demo-project/secrets/gcpconn-" + id
	ctx := context.Background()
	c, _ := e.svc.Store.Get(ctx, id)
	old, _ := e.secrets.Access(ctx, id, c.SecretVersion)

	// An operator adds a version in Secret Manager directly: refresh verifies and pins it.
	v2, err := e.secrets.AddVersion(ctx, id, old)
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/refresh", e.token(admin), pushBody("SECRET_VERSION_ADD", secret, v2))
	if r.status != http.StatusNoContent {
		t.Fatalf("POST /refresh SECRET_VERSION_ADD = %d %s; want 204", r.status, r.raw)
	}
	if c, _ = e.svc.Store.Get(ctx, id); c.SecretVersion != v2 || c.Status.State != connector.StateOK {
		t.Fatalf("after SECRET_VERSION_ADD: pinned %q state %q; want %q ok", c.SecretVersion, c.Status.State, v2)
	}

	// Duplicate and out-of-order events change nothing.
	rev := c.Revision
	for _, b := range []map[string]any{pushBody("SECRET_VERSION_ADD", secret, v2), pushBody("SECRET_VERSION_ADD", secret, "1")} {
		if r := e.do("POST", "/refresh", e.token(admin), b); r.status != http.StatusNoContent {
			t.Fatalf("POST /refresh duplicate = %d %s", r.status, r.raw)
		}
	}
	if c, _ = e.svc.Store.Get(ctx, id); c.Revision != rev || c.SecretVersion != v2 {
		t.Errorf("duplicate events changed the connector: revision %d→%d, pinned %s", rev, c.Revision, c.SecretVersion)
	}

	// A version that does not authenticate is not pinned; the status says why.
	v3, _ := e.secrets.AddVersion(ctx, id, old)
	e.google.TokenFunc = denyToken
	if r := e.do("POST", "/refresh", e.token(admin), pushBody("SECRET_VERSION_ADD", secret, v3)); r.status != http.StatusNoContent {
		t.Fatalf("POST /refresh bad version = %d %s", r.status, r.raw)
	}
	if c, _ = e.svc.Store.Get(ctx, id); c.SecretVersion != v2 || !strings.Contains(c.Status.Error, "not pinned") {
		t.Errorf("after a failing version: pinned %q, status error %q; want %q kept and the reason", c.SecretVersion, c.Status.Error, v2)
	}

	// Google unavailable: a retry could help, so the event is refused (Pub/Sub redelivers).
	v4, _ := e.secrets.AddVersion(ctx, id, old)
	e.google.TokenFunc = unavailableToken
	if r := e.do("POST", "/refresh", e.token(admin), pushBody("SECRET_VERSION_ADD", secret, v4)); r.status != http.StatusServiceUnavailable {
		t.Errorf("POST /refresh with Google down = %d %s; want 503", r.status, r.raw)
	}
	e.google.TokenFunc = nil

	// Rotation due is recorded.
	if r := e.do("POST", "/refresh", e.token(admin), pushBody("SECRET_ROTATE", secret, "")); r.status != http.StatusNoContent {
		t.Fatalf("POST /refresh SECRET_ROTATE = %d %s", r.status, r.raw)
	}
	if c, _ = e.svc.Store.Get(ctx, id); !c.Status.RotationDue {
		t.Errorf("after SECRET_ROTATE: rotation_due = false")
	}

	// Disabling an unpinned version changes nothing; disabling the pinned one stops minting.
	if r := e.do("POST", "/refresh", e.token(admin), pushBody("SECRET_VERSION_DISABLE", secret, "1")); r.status != http.StatusNoContent {
		t.Fatalf("POST /refresh disable old = %d", r.status)
	}
	if c, _ = e.svc.Store.Get(ctx, id); c.Status.State == connector.StateDisabled {
		t.Fatalf("disabling an unpinned version disabled the connector")
	}
	mint := map[string]any{"connector": "alpha", "resource_type": "gcp-generic"}
	e.expect(e.do("POST", "/mint-token", e.token(user), mint), 200, "")
	if err := e.secrets.DisableVersion(ctx, id, v2); err != nil {
		t.Fatal(err)
	}
	if r := e.do("POST", "/refresh", e.token(admin), pushBody("SECRET_VERSION_DISABLE", secret, v2)); r.status != http.StatusNoContent {
		t.Fatalf("POST /refresh disable pinned = %d %s", r.status, r.raw)
	}
	if c, _ = e.svc.Store.Get(ctx, id); c.Status.State != connector.StateDisabled {
		t.Errorf("after disabling the pinned version: state %q; want disabled", c.Status.State)
	}
	r = e.do("POST", "/mint-token", e.token(user), mint)
	if r.status < 400 || r.status >= 500 {
		t.Errorf("mint from a disabled connector = %d %s; want a 4xx", r.status, r.raw)
	}

	// Events about secrets that are not a connector's, or about deleted connectors, are dropped.
	for _, b := range []map[string]any{
		pushBody("SECRET_VERSION_ADD", "projects/demo-project/secrets/unrelated", "1"),
		pushBody("SECRET_VERSION_ADD", "projects/demo-project/secrets/gcpconn-gone", "1"),
		pushBody("TOPIC_CONFIGURED", "projects/demo-project/secrets/gcpconn-"+id, ""),
	} {
		if r := e.do("POST", "/refresh", e.token(admin), b); r.status != http.StatusNoContent {
			t.Errorf("POST /refresh unrelated = %d %s; want 204", r.status, r.raw)
		}
	}
}

func TestRefreshEncodings(t *testing.T) {
	e := newEnv(t)
	id := e.register("alpha", nil)
	secret := "projects/demo-project/secrets/gcpconn-" + id
	push := pushBody("SECRET_ROTATE", secret, "")
	raw, _ := json.Marshal(push)

	// Binary-mode CloudEvent: ce-* headers, the Pub/Sub message as body.
	req, _ := http.NewRequest("POST", e.srv.URL+"/refresh", strings.NewReader(string(raw)))
	req.Header.Set("Authorization", "Bearer "+e.token(admin))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Id", "evt-1")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Type", "google.cloud.pubsub.topic.v1.messagePublished")
	req.Header.Set("Ce-Source", "//pubsub.googleapis.com/projects/demo-project/topics/secrets")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("binary CloudEvent = %v, %v; want 204", resp, err)
	}
	resp.Body.Close()
	if c, _ := e.svc.Store.Get(context.Background(), id); !c.Status.RotationDue {
		t.Errorf("binary CloudEvent was not applied")
	}

	// Structured-mode CloudEvent.
	structured, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "evt-2", "type": "google.cloud.pubsub.topic.v1.messagePublished",
		"source": "//pubsub.googleapis.com/projects/demo-project/topics/secrets", "datacontenttype": "application/json", "data": push})
	req, _ = http.NewRequest("POST", e.srv.URL+"/refresh", strings.NewReader(string(structured)))
	req.Header.Set("Authorization", "Bearer "+e.token(admin))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("structured CloudEvent = %v, %v; want 204", resp, err)
	}
	resp.Body.Close()

	// Not a Secret Manager notification.
	e.expect(e.do("POST", "/refresh", e.token(admin), map[string]any{"message": map[string]any{"data": ""}}), 400, "invalid_argument")
	e.expect(e.do("POST", "/refresh", e.token(admin), `"hello"`), 400, "invalid_argument")
}

// TestRefreshCloudEventFunction drives the deployed entry point's function directly, with
// the event the functions framework builds from a Pub/Sub push.
func TestRefreshCloudEventFunction(t *testing.T) {
	e := newEnv(t)
	id := e.register("alpha", nil)
	secret := "projects/demo-project/secrets/gcpconn-" + id
	ev := event.New()
	ev.SetID("evt-3")
	ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	ev.SetSource("//pubsub.googleapis.com/projects/demo-project/topics/secrets")
	if err := ev.SetData("application/json", pushBody("SECRET_ROTATE", secret, "")); err != nil {
		t.Fatal(err)
	}
	if err := e.api.Refresh(context.Background(), ev); err != nil {
		t.Fatalf("Refresh(event) = %v", err)
	}
	if c, _ := e.svc.Store.Get(context.Background(), id); !c.Status.RotationDue {
		t.Errorf("Refresh(event) did not record rotation_due")
	}
	bad := event.New()
	bad.SetID("evt-4")
	bad.SetType("x")
	bad.SetSource("y")
	_ = bad.SetData("text/plain", "not json")
	if err := e.api.Refresh(context.Background(), bad); err != nil {
		t.Errorf("Refresh(malformed event) = %v; want nil (a retry cannot help)", err)
	}
}

func TestSecretEvent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		push    map[string]any
		want    upkeep.SecretEvent
		mutated func(p map[string]any)
	}{
		{"version add", pushBody("SECRET_VERSION_ADD", "projects/p/secrets/gcpconn-abc", "7"),
			upkeep.SecretEvent{Type: "SECRET_VERSION_ADD", Secret: "projects/p/secrets/gcpconn-abc", Version: "7"}, nil},
		{"rotate", pushBody("SECRET_ROTATE", "projects/p/secrets/gcpconn-abc", ""),
			upkeep.SecretEvent{Type: "SECRET_ROTATE", Secret: "projects/p/secrets/gcpconn-abc"}, nil},
		{"labels of the secret", labelled(pushBody("SECRET_UPDATE", "projects/p/secrets/team-a-abc", ""), map[string]string{"gcpconn-connector": "abc"}),
			upkeep.SecretEvent{Type: "SECRET_UPDATE", Secret: "projects/p/secrets/team-a-abc", Labels: map[string]string{"gcpconn-connector": "abc"}}, nil},
		{"foreign secret", pushBody("SECRET_VERSION_ADD", "projects/p/secrets/db-password", "1"),
			upkeep.SecretEvent{Type: "SECRET_VERSION_ADD", Secret: "projects/p/secrets/db-password", Version: "1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(tc.push)
			var p pubsubPush
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			got := secretEvent(p, "")
			got.MessageID, got.PublishTime = "", time.Time{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("secretEvent = %+v; want %+v", got, tc.want)
			}
		})
	}
}
