package fakegcp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gcpconn/gcpconn/emulator/secrets"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

const (
	rotSA    = "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	rotAdmin = "connectors-admin@zenml-core.iam.gserviceaccount.com" // project owner
	rotNoKey = "empty-connectors@zenml-core.iam.gserviceaccount.com"
)

// bearer issues an access token for a service account of the world.
func bearer(s *Server, email string) option.ClientOption {
	tok := s.Tokens().Issue(tokens.Token{Member: "serviceAccount:" + email, Email: email,
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}, Expiry: s.opts.Now().Add(time.Hour)})
	return option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}))
}

func iamClient(t *testing.T, s *Server, email string) *iam.Service {
	t.Helper()
	c, err := iam.NewService(context.Background(), option.WithEndpoint(s.URL("iam")+"/"), bearer(s, email))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mintWith tries the JWT-bearer grant with a key file at the fake's token endpoint.
func mintWith(s *Server, keyFile []byte) error {
	cfg, err := google.JWTConfigFromJSON(keyFile, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		return err
	}
	cfg.TokenURL = s.BaseURL() + "/token"
	_, err = cfg.TokenSource(context.Background()).Token()
	return err
}

func googleCode(err error) (int, string) {
	var g *googleapi.Error
	if errors.As(err, &g) {
		return g.Code, g.Message
	}
	return 0, ""
}

// TestServiceAccountKeysLifecycle drives the fake IAM keys API with the real Google client:
// a created key mints tokens; disabled or deleted, the token endpoint refuses it with
// invalid_grant; the account's other keys keep working.
func TestServiceAccountKeysLifecycle(t *testing.T) {
	s := start(t, Options{})
	ctx := context.Background()
	// The account may manage its own keys (as gcpconn's rotation needs).
	if err := s.World().AddBinding(world.Binding{Resource: "projects/zenml-core/serviceAccounts/" + rotSA,
		Role: "roles/iam.serviceAccountKeyAdmin", Members: []string{"serviceAccount:" + rotSA}}); err != nil {
		t.Fatal(err)
	}
	keys := iamClient(t, s, rotSA).Projects.ServiceAccounts.Keys
	name := "projects/-/serviceAccounts/" + rotSA
	created, err := keys.Create(name, &iam.CreateServiceAccountKeyRequest{}).Context(ctx).Do()
	if err != nil {
		t.Fatalf("keys.create: %v", err)
	}
	file, err := base64.StdEncoding.DecodeString(created.PrivateKeyData)
	if err != nil {
		t.Fatalf("privateKeyData is not base64: %v", err)
	}
	var kf struct{ Type, PrivateKeyID, ClientEmail string }
	var raw map[string]string
	_ = json.Unmarshal(file, &raw)
	kf.Type, kf.PrivateKeyID, kf.ClientEmail = raw["type"], raw["private_key_id"], raw["client_email"]
	id := created.Name[strings.LastIndex(created.Name, "/")+1:]
	if kf.Type != "service_account" || kf.PrivateKeyID != id || kf.ClientEmail != rotSA || created.KeyType != "USER_MANAGED" {
		t.Fatalf("created key %s: file type %q id %q email %q, keyType %q; want a service_account file for the key", created.Name, kf.Type, kf.PrivateKeyID, kf.ClientEmail, created.KeyType)
	}
	if err := mintWith(s, file); err != nil {
		t.Fatalf("mint with the new key: %v", err)
	}
	first, _ := s.KeyJSON(rotSA)
	list, err := keys.List(name).KeyTypes("USER_MANAGED").Context(ctx).Do()
	if err != nil || len(list.Keys) != 2 {
		t.Fatalf("keys.list = %d keys, %v; want the first key and the new one", len(list.Keys), err)
	}
	if got, err := keys.Get(created.Name).Context(ctx).Do(); err != nil || got.PrivateKeyData != "" || got.Name != created.Name {
		t.Fatalf("keys.get = %+v, %v; want the key without its private data", got, err)
	}

	if _, err := keys.Disable(created.Name, &iam.DisableServiceAccountKeyRequest{}).Context(ctx).Do(); err != nil {
		t.Fatalf("keys.disable: %v", err)
	}
	if err := mintWith(s, file); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("mint with a disabled key = %v; want invalid_grant", err)
	}
	if _, err := keys.Enable(created.Name, &iam.EnableServiceAccountKeyRequest{}).Context(ctx).Do(); err != nil {
		t.Fatalf("keys.enable: %v", err)
	}
	if err := mintWith(s, file); err != nil {
		t.Errorf("mint with the re-enabled key: %v", err)
	}
	if _, err := keys.Delete(created.Name).Context(ctx).Do(); err != nil {
		t.Fatalf("keys.delete: %v", err)
	}
	if err := mintWith(s, file); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("mint with a deleted key = %v; want invalid_grant", err)
	}
	if err := mintWith(s, first); err != nil {
		t.Errorf("mint with the account's other key after the delete: %v", err)
	}
	if _, err := keys.Get(created.Name).Context(ctx).Do(); func() int { c, _ := googleCode(err); return c }() != http.StatusNotFound {
		t.Errorf("keys.get of a deleted key = %v; want 404", err)
	}
}

// TestServiceAccountKeysLimitAndPermissions: Google's 10-key limit with Google's answer, and
// the iam.serviceAccountKeys.* permissions checked before anything else.
func TestServiceAccountKeysLimitAndPermissions(t *testing.T) {
	s := start(t, Options{})
	ctx := context.Background()
	name := "projects/zenml-core/serviceAccounts/" + rotSA
	owner := iamClient(t, s, rotAdmin).Projects.ServiceAccounts.Keys
	for i := 0; i < world.MaxKeysPerAccount-1; i++ { // the account's first key counts
		if _, err := owner.Create(name, &iam.CreateServiceAccountKeyRequest{}).Context(ctx).Do(); err != nil {
			t.Fatalf("create key %d: %v", i+2, err)
		}
	}
	_, err := owner.Create(name, &iam.CreateServiceAccountKeyRequest{}).Context(ctx).Do()
	if code, msg := googleCode(err); code != http.StatusBadRequest || msg != "Precondition check failed." || !strings.Contains(err.Error(), "failedPrecondition") {
		t.Errorf("the 11th key = %v; want Google's 400 FAILED_PRECONDITION Precondition check failed.", err)
	}

	stranger := iamClient(t, s, rotNoKey).Projects.ServiceAccounts.Keys
	for what, call := range map[string]func() error{
		"create": func() error {
			_, err := stranger.Create(name, &iam.CreateServiceAccountKeyRequest{}).Context(ctx).Do()
			return err
		},
		"list": func() error { _, err := stranger.List(name).Context(ctx).Do(); return err },
		"delete": func() error {
			_, err := stranger.Delete(name + "/keys/0123").Context(ctx).Do()
			return err
		},
		"disable": func() error {
			_, err := stranger.Disable(name+"/keys/0123", &iam.DisableServiceAccountKeyRequest{}).Context(ctx).Do()
			return err
		},
	} {
		code, msg := googleCode(call())
		if code != http.StatusForbidden || !strings.Contains(msg, "Permission 'iam.serviceAccountKeys."+what+"' denied") {
			t.Errorf("%s by an account without key permissions = %d %q; want 403 naming iam.serviceAccountKeys.%s", what, code, msg, what)
		}
	}
	_, err = owner.List("projects/zenml-core/serviceAccounts/nobody@zenml-core.iam.gserviceaccount.com").Context(ctx).Do()
	if code, _ := googleCode(err); code != http.StatusNotFound {
		t.Errorf("list keys of an unknown account (as owner) = %v; want 404", err)
	}
}

// TestTickSecretsPublishesRotate: a secret's rotation schedule publishes SECRET_ROTATE when
// the fake's clock says it is due, once per period, through POST /admin/secrets/tick ("now",
// or "advance" from the fake's clock); each push carries the push identity's ID token.
func TestTickSecretsPublishesRotate(t *testing.T) {
	var mu sync.Mutex
	var got []secrets.PushEnvelope
	var auths []string
	push := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env secrets.PushEnvelope
		_ = json.NewDecoder(r.Body).Decode(&env)
		mu.Lock()
		got = append(got, env)
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer push.Close()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := start(t, Options{PushURL: push.URL, Now: func() time.Time { return t0 }, PushEmail: "admin@example.com", PushAudience: "http://gcpconn.test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	sm, err := secretmanager.NewRESTClient(ctx, option.WithEndpoint(s.URL("secretmanager")), bearer(s, rotAdmin))
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	_, err = sm.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/zenml-core", SecretId: "rot",
		Secret: &secretmanagerpb.Secret{
			Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
			Topics:      []*secretmanagerpb.Topic{{Name: "projects/zenml-core/topics/rotations"}},
			Rotation:    &secretmanagerpb.Rotation{NextRotationTime: timestamppb.New(t0.Add(24 * time.Hour)), RotationPeriod: durationpb.New(24 * time.Hour)},
		}})
	if err != nil {
		t.Fatal(err)
	}
	rotates := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, e := range got {
			if e.Message.Attributes["eventType"] == "SECRET_ROTATE" {
				n++
			}
		}
		return n
	}
	tick := func(at time.Time) {
		t.Helper()
		resp, err := http.Post(s.BaseURL()+"/admin/secrets/tick", "application/json", strings.NewReader(`{"now":"`+at.Format(time.RFC3339)+`"}`))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("admin tick: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	tick(t0.Add(23 * time.Hour))
	if n := rotates(); n != 0 {
		t.Fatalf("before the rotation time: %d SECRET_ROTATE; want 0", n)
	}
	tick(t0.Add(24 * time.Hour))
	tick(t0.Add(25 * time.Hour))
	if n := rotates(); n != 1 {
		t.Fatalf("at the rotation time and an hour later: %d SECRET_ROTATE; want 1", n)
	}
	s.TickSecrets(ctx, t0.Add(48*time.Hour))
	if n := rotates(); n != 2 {
		t.Fatalf("a period later: %d SECRET_ROTATE; want 2", n)
	}
	sec, err := sm.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/zenml-core/secrets/rot"})
	if err != nil || !sec.GetRotation().GetNextRotationTime().AsTime().Equal(t0.Add(72*time.Hour)) {
		t.Errorf("next rotation time = %v, %v; want %v", sec.GetRotation().GetNextRotationTime().AsTime(), err, t0.Add(72*time.Hour))
	}
	resp, err := http.Post(s.BaseURL()+"/admin/secrets/tick", "application/json", strings.NewReader(`{"advance":"73h"}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin tick advance: %v %v", resp, err)
	}
	resp.Body.Close()
	if n := rotates(); n != 3 {
		t.Errorf("advance 73h from the fake's clock: %d SECRET_ROTATE; want 3", n)
	}
	mu.Lock()
	for _, a := range auths {
		tok, _ := strings.CutPrefix(a, "Bearer ")
		parts := strings.Split(tok, ".")
		var claims struct{ Email, Aud string }
		if len(parts) == 3 {
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(payload, &claims)
		}
		if claims.Email != "admin@example.com" || claims.Aud != "http://gcpconn.test" {
			t.Errorf("push Authorization = %q (claims %+v); want an ID token of admin@example.com for http://gcpconn.test", a, claims)
		}
	}
	mu.Unlock()
	for _, body := range []string{`{"now":"tomorrow"}`, `{"advance":"a day"}`, `{"advance":"-1h"}`} {
		resp, _ := http.Post(s.BaseURL()+"/admin/secrets/tick", "application/json", strings.NewReader(body))
		if resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("tick %s = %v; want 400", body, resp)
		}
	}
}
