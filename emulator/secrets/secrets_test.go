package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/secrets"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const worldYAML = `
projects: [{id: p1, number: 101}, {id: p2, number: 202}]
bindings:
  - {resource: projects/p1, role: roles/secretmanager.admin, members: ["serviceAccount:admin@p1.iam.gserviceaccount.com"]}
  - {resource: projects/p1, role: roles/secretmanager.secretAccessor, members: ["serviceAccount:accessor@p1.iam.gserviceaccount.com"]}
`

const (
	admin    = "admin@p1.iam.gserviceaccount.com"
	accessor = "accessor@p1.iam.gserviceaccount.com"
	empty    = "empty@p1.iam.gserviceaccount.com"
)

// recorder is a Notifier that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []string // "topic eventType secretId versionId"
	data [][]byte
}

func (r *recorder) Notify(_ context.Context, topic string, n secrets.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, strings.TrimSpace(topic+" "+n.Attributes["eventType"]+" "+n.Attributes["secretId"]+" "+n.Attributes["versionId"]))
	r.data = append(r.data, n.Data)
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

type fixture struct {
	world  *world.World
	srv    *secrets.Server
	url    string
	tokens *tokens.Registry
	faults *faults.Faults
	now    time.Time
}

func newFixture(t testing.TB, n secrets.Notifier) *fixture {
	t.Helper()
	w, err := world.Parse([]byte(worldYAML))
	if err != nil {
		t.Fatalf("world.Parse: %v", err)
	}
	f := &fixture{world: w, tokens: tokens.NewRegistry(time.Now), faults: faults.New(), now: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)}
	srv, err := secrets.New(secrets.Options{World: w, Auth: &auth.Guard{World: w, Tokens: f.tokens}, Faults: f.faults, Notifier: n,
		Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatalf("secrets.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); f.faults.Close() })
	f.srv, f.url = srv, hs.URL
	return f
}

func (f *fixture) client(t testing.TB, email string) *secretmanager.Client {
	t.Helper()
	tok := f.tokens.Issue(tokens.Token{Member: "serviceAccount:" + email, Email: email,
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}, Expiry: time.Now().Add(time.Hour)})
	c, err := secretmanager.NewRESTClient(context.Background(), option.WithEndpoint(f.url),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})))
	if err != nil {
		t.Fatalf("NewRESTClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func httpCode(err error) int {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae.HTTPCode()
	}
	return 0
}

func crc(b []byte) *int64 {
	v := int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return &v
}

func newSecret(labels map[string]string, topics ...string) *secretmanagerpb.Secret {
	s := &secretmanagerpb.Secret{
		Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
		Labels:      labels,
	}
	for _, t := range topics {
		s.Topics = append(s.Topics, &secretmanagerpb.Topic{Name: t})
	}
	return s
}

func TestSecretLifecycle(t *testing.T) {
	rec := &recorder{}
	f := newFixture(t, rec)
	ctx := context.Background()
	c := f.client(t, admin)
	const topic = "projects/p1/topics/secret-events"

	created, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "conn-1",
		Secret: newSecret(map[string]string{"app": "gcpconn", "kind": "connector"}, topic)})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if created.GetName() != "projects/101/secrets/conn-1" || created.GetCreateTime().AsTime() != f.now || created.GetEtag() == "" {
		t.Errorf("CreateSecret = %v; want name projects/101/secrets/conn-1, create time %v, an etag", created, f.now)
	}
	if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "conn-1", Secret: newSecret(nil)}); httpCode(err) != 409 {
		t.Errorf("CreateSecret again error = %v; want 409", err)
	}
	if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "no-replication", Secret: &secretmanagerpb.Secret{}}); httpCode(err) != 400 {
		t.Errorf("CreateSecret without replication error = %v; want 400", err)
	}

	data := []byte(`{"type":"service_account"}`)
	v1, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p1/secrets/conn-1",
		Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: crc(data)}})
	if err != nil {
		t.Fatalf("AddSecretVersion: %v", err)
	}
	if v1.GetName() != "projects/101/secrets/conn-1/versions/1" || v1.GetState() != secretmanagerpb.SecretVersion_ENABLED || !v1.GetClientSpecifiedPayloadChecksum() {
		t.Errorf("AddSecretVersion = %v; want version 1 ENABLED with client checksum", v1)
	}
	bad := int64(12345)
	if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p1/secrets/conn-1",
		Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &bad}}); httpCode(err) != 400 {
		t.Errorf("AddSecretVersion with a wrong checksum error = %v; want 400", err)
	}
	if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p1/secrets/conn-1",
		Payload: &secretmanagerpb.SecretPayload{Data: make([]byte, secrets.MaxPayloadBytes+1)}}); httpCode(err) != 400 {
		t.Errorf("AddSecretVersion over 64 KiB error = %v; want 400", err)
	}
	data2 := []byte("second")
	if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/101/secrets/conn-1",
		Payload: &secretmanagerpb.SecretPayload{Data: data2}}); err != nil {
		t.Fatalf("AddSecretVersion(2) by project number: %v", err)
	}

	access := func(name string) (string, error) {
		resp, err := f.client(t, accessor).AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
		if err != nil {
			return "", err
		}
		if *resp.GetPayload().DataCrc32C != *crc(resp.GetPayload().GetData()) {
			t.Errorf("access %s: dataCrc32c does not match the data", name)
		}
		return resp.GetName() + "=" + string(resp.GetPayload().GetData()), nil
	}
	for _, tc := range []struct{ name, want string }{
		{"projects/p1/secrets/conn-1/versions/latest", "projects/101/secrets/conn-1/versions/2=second"},
		{"projects/p1/secrets/conn-1/versions/1", "projects/101/secrets/conn-1/versions/1=" + string(data)},
	} {
		if got, err := access(tc.name); err != nil || got != tc.want {
			t.Errorf("AccessSecretVersion(%s) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}

	// State machine: disable → FAILED_PRECONDITION on access; enable again; destroy is final.
	if _, err := c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: "projects/p1/secrets/conn-1/versions/2"}); err != nil {
		t.Fatalf("DisableSecretVersion: %v", err)
	}
	_, err = access("projects/p1/secrets/conn-1/versions/latest")
	if httpCode(err) != 400 || !strings.Contains(err.Error(), "Secret Version [projects/101/secrets/conn-1/versions/2] is in DISABLED state.") {
		t.Errorf("access disabled latest error = %v; want 400 'is in DISABLED state'", err)
	}
	if _, err := c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: "projects/p1/secrets/conn-1/versions/2"}); err != nil {
		t.Fatalf("EnableSecretVersion: %v", err)
	}
	if _, err := access("projects/p1/secrets/conn-1/versions/2"); err != nil {
		t.Errorf("access re-enabled version: %v", err)
	}
	f.now = f.now.Add(time.Minute)
	destroyed, err := c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: "projects/p1/secrets/conn-1/versions/1"})
	if err != nil || destroyed.GetState() != secretmanagerpb.SecretVersion_DESTROYED || destroyed.GetDestroyTime().AsTime() != f.now {
		t.Fatalf("DestroySecretVersion = %v, %v; want DESTROYED at %v", destroyed, err, f.now)
	}
	if _, err := access("projects/p1/secrets/conn-1/versions/1"); httpCode(err) != 400 || !strings.Contains(err.Error(), "DESTROYED state") {
		t.Errorf("access destroyed version error = %v; want 400 DESTROYED state", err)
	}
	if _, err := c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: "projects/p1/secrets/conn-1/versions/1"}); httpCode(err) != 400 {
		t.Errorf("enable destroyed version error = %v; want 400", err)
	}
	if _, err := access("projects/p1/secrets/conn-1/versions/9"); httpCode(err) != 404 {
		t.Errorf("access missing version error = %v; want 404", err)
	}

	// Versions list (newest first), with a state filter.
	listVersions := func(filter string) []string {
		it := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: "projects/p1/secrets/conn-1", Filter: filter})
		var got []string
		for {
			v, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return got
			}
			if err != nil {
				t.Fatalf("ListSecretVersions(%q): %v", filter, err)
			}
			got = append(got, v.GetName()[strings.LastIndex(v.GetName(), "/")+1:]+"="+v.GetState().String())
		}
	}
	if got := listVersions(""); strings.Join(got, ",") != "2=ENABLED,1=DESTROYED" {
		t.Errorf("ListSecretVersions = %v; want [2=ENABLED 1=DESTROYED]", got)
	}
	if got := listVersions("state:ENABLED"); strings.Join(got, ",") != "2=ENABLED" {
		t.Errorf("ListSecretVersions(state:ENABLED) = %v; want [2=ENABLED]", got)
	}
	if v, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: "projects/p1/secrets/conn-1/versions/latest"}); err != nil || !strings.HasSuffix(v.GetName(), "/versions/2") {
		t.Errorf("GetSecretVersion(latest) = %v, %v; want version 2", v, err)
	}

	// Update labels with a mask; delete.
	updated, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret:     &secretmanagerpb.Secret{Name: "projects/p1/secrets/conn-1", Labels: map[string]string{"app": "gcpconn", "state": "rotated"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}},
	})
	if err != nil || updated.GetLabels()["state"] != "rotated" || len(updated.GetTopics()) != 1 {
		t.Errorf("UpdateSecret(labels) = %v, %v; want new labels and the topic kept", updated, err)
	}
	if updated.GetEtag() == created.GetEtag() {
		t.Errorf("UpdateSecret kept etag %s; want a new one", updated.GetEtag())
	}
	if err := c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: "projects/p1/secrets/conn-1", Etag: created.GetEtag()}); httpCode(err) != 400 {
		t.Errorf("DeleteSecret with a stale etag error = %v; want 400", err)
	}
	if err := c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: "projects/p1/secrets/conn-1"}); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if _, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p1/secrets/conn-1"}); httpCode(err) != 404 {
		t.Errorf("GetSecret after delete error = %v; want 404", err)
	}

	want := []string{
		topic + " SECRET_CREATE projects/101/secrets/conn-1",
		topic + " SECRET_VERSION_ADD projects/101/secrets/conn-1 projects/101/secrets/conn-1/versions/1",
		topic + " SECRET_VERSION_ADD projects/101/secrets/conn-1 projects/101/secrets/conn-1/versions/2",
		topic + " SECRET_VERSION_DISABLE projects/101/secrets/conn-1 projects/101/secrets/conn-1/versions/2",
		topic + " SECRET_VERSION_ENABLE projects/101/secrets/conn-1 projects/101/secrets/conn-1/versions/2",
		topic + " SECRET_VERSION_DESTROY projects/101/secrets/conn-1 projects/101/secrets/conn-1/versions/1",
		topic + " SECRET_UPDATE projects/101/secrets/conn-1",
		topic + " SECRET_DELETE projects/101/secrets/conn-1",
	}
	if got := rec.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notifications =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Data: Secret JSON for secret events, SecretVersion JSON for version events; never the payload.
	var first, second map[string]any
	if err := json.Unmarshal(rec.data[0], &first); err != nil || first["name"] != "projects/101/secrets/conn-1" {
		t.Errorf("SECRET_CREATE data = %s; want the Secret JSON", rec.data[0])
	}
	if err := json.Unmarshal(rec.data[1], &second); err != nil || second["state"] != "ENABLED" {
		t.Errorf("SECRET_VERSION_ADD data = %s; want the SecretVersion JSON", rec.data[1])
	}
	for i, d := range rec.data {
		if strings.Contains(string(d), "service_account") || strings.Contains(string(d), "c2Vjb25k") {
			t.Errorf("notification %d carries the payload: %s", i, d)
		}
	}
}

func TestListSecretsFilter(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	c := f.client(t, admin)
	for id, labels := range map[string]map[string]string{
		"a": {"app": "gcpconn", "env": "prod"},
		"b": {"app": "gcpconn", "env": "dev"},
		"c": {"app": "other"},
	} {
		if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: id, Secret: newSecret(labels)}); err != nil {
			t.Fatalf("CreateSecret(%s): %v", id, err)
		}
	}
	tests := []struct {
		filter   string
		pageSize int32
		want     string
		wantCode int
	}{
		{filter: "", want: "a,b,c"},
		{filter: "", pageSize: 1, want: "a,b,c"},
		{filter: "labels.app=gcpconn", want: "a,b"},
		{filter: "labels.app=gcpconn AND labels.env=prod", want: "a"},
		{filter: "labels.env:*", want: "a,b"},
		{filter: "labels:env", want: "a,b"},
		{filter: "name:b", want: "b"},
		{filter: "create_time>2020", wantCode: 400},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			it := c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/p1", Filter: tt.filter, PageSize: tt.pageSize})
			var got []string
			for {
				s, err := it.Next()
				if errors.Is(err, iterator.Done) {
					break
				}
				if err != nil {
					if httpCode(err) == tt.wantCode {
						return
					}
					t.Fatalf("ListSecrets(%q): %v", tt.filter, err)
				}
				got = append(got, s.GetName()[strings.LastIndex(s.GetName(), "/")+1:])
			}
			sort.Strings(got)
			if tt.wantCode != 0 || strings.Join(got, ",") != tt.want {
				t.Errorf("ListSecrets(%q) = %v; want %s (code %d)", tt.filter, got, tt.want, tt.wantCode)
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.client(t, admin).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "s", Secret: newSecret(nil)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(t, admin).AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p1/secrets/s", Payload: &secretmanagerpb.SecretPayload{Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		email string
		call  func(c *secretmanager.Client) error
		want  int
	}{
		{"accessor reads", accessor, func(c *secretmanager.Client) error {
			_, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p1/secrets/s/versions/latest"})
			return err
		}, 0},
		{"accessor cannot add", accessor, func(c *secretmanager.Client) error {
			_, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p1/secrets/s", Payload: &secretmanagerpb.SecretPayload{Data: []byte("y")}})
			return err
		}, 403},
		{"accessor cannot get metadata", accessor, func(c *secretmanager.Client) error {
			_, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p1/secrets/s"})
			return err
		}, 403},
		{"empty cannot access", empty, func(c *secretmanager.Client) error {
			_, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p1/secrets/s/versions/1"})
			return err
		}, 403},
		{"empty cannot create", empty, func(c *secretmanager.Client) error {
			_, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "t", Secret: newSecret(nil)})
			return err
		}, 403},
		{"admin of p1 cannot list p2", admin, func(c *secretmanager.Client) error {
			_, err := c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/p2"}).Next()
			return err
		}, 403},
		{"admin: missing secret is 404", admin, func(c *secretmanager.Client) error {
			_, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p1/secrets/missing"})
			return err
		}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(f.client(t, tt.email))
			if got := httpCode(err); got != tt.want || (tt.want == 0 && err != nil) {
				t.Errorf("%s: error = %v; want code %d", tt.name, err, tt.want)
			}
		})
	}
	// A binding on the secret itself (granted at run time) is honoured.
	if err := f.world.AddBinding(world.Binding{Resource: "projects/p1/secrets/s", Role: "roles/secretmanager.secretAccessor", Members: []string{"serviceAccount:" + empty}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(t, empty).AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p1/secrets/s/versions/1"}); err != nil {
		t.Errorf("access with a secret-level binding: %v", err)
	}
}

func TestRotation(t *testing.T) {
	rec := &recorder{}
	f := newFixture(t, rec)
	ctx := context.Background()
	s := newSecret(nil, "projects/p1/topics/rotations")
	s.Rotation = &secretmanagerpb.Rotation{NextRotationTime: timestamppb.New(f.now.Add(time.Hour)), RotationPeriod: durationpb.New(24 * time.Hour)}
	if _, err := f.client(t, admin).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "rot", Secret: s}); err != nil {
		t.Fatalf("CreateSecret with rotation: %v", err)
	}
	rec.take()
	f.srv.Tick(ctx, f.now.Add(30*time.Minute))
	if got := rec.take(); len(got) != 0 {
		t.Errorf("Tick before the rotation time sent %v; want nothing", got)
	}
	f.srv.Tick(ctx, f.now.Add(2*time.Hour))
	if got := rec.take(); strings.Join(got, ",") != "projects/p1/topics/rotations SECRET_ROTATE projects/101/secrets/rot" {
		t.Errorf("Tick at the rotation time sent %v; want one SECRET_ROTATE", got)
	}
	f.srv.Tick(ctx, f.now.Add(3*time.Hour))
	if got := rec.take(); len(got) != 0 {
		t.Errorf("second Tick before the next period sent %v; want nothing", got)
	}
	got, err := f.client(t, admin).GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p1/secrets/rot"})
	if want := f.now.Add(25 * time.Hour); err != nil || !got.GetRotation().GetNextRotationTime().AsTime().Equal(want) {
		t.Errorf("next rotation = %v, %v; want %v", got.GetRotation().GetNextRotationTime().AsTime(), err, want)
	}
	s2 := newSecret(nil)
	s2.Rotation = &secretmanagerpb.Rotation{NextRotationTime: timestamppb.New(f.now)}
	if _, err := f.client(t, admin).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "rot2", Secret: s2}); httpCode(err) != 400 {
		t.Errorf("CreateSecret with rotation and no topic error = %v; want 400", err)
	}
}

func TestNotifyFault(t *testing.T) {
	rec := &recorder{}
	f := newFixture(t, rec)
	ctx := context.Background()
	f.faults.Set("secretmanager.notify", faults.Fault{Status: http.StatusServiceUnavailable, Times: 1})
	c := f.client(t, admin)
	if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "f", Secret: newSecret(nil, "projects/p1/topics/events")}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p1/secrets/f", Payload: &secretmanagerpb.SecretPayload{Data: []byte("x")}}); err != nil {
		t.Fatalf("AddSecretVersion: %v", err)
	}
	if got := rec.take(); len(got) != 1 || !strings.Contains(got[0], "SECRET_VERSION_ADD") {
		t.Errorf("notifications = %v; want only SECRET_VERSION_ADD (the create event was dropped by the fault)", got)
	}
	if n := f.faults.Count("secretmanager.notify"); n != 2 {
		t.Errorf("Count(secretmanager.notify) = %d; want 2", n)
	}
	if n := f.faults.Count("secretmanager.secrets.create"); n != 1 {
		t.Errorf("Count(secretmanager.secrets.create) = %d; want 1", n)
	}
}

func TestPushNotifier(t *testing.T) {
	got := make(chan secrets.PushEnvelope, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env secrets.PushEnvelope
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		got <- env
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	f := newFixture(t, &secrets.PushNotifier{URL: recv.URL})
	ctx := context.Background()
	if _, err := f.client(t, admin).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "pushed", Secret: newSecret(nil, "projects/p1/topics/secret-events")}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	select {
	case env := <-got:
		if env.Subscription != "projects/p1/subscriptions/secret-events-push" || env.Message.Attributes["eventType"] != "SECRET_CREATE" ||
			env.Message.Attributes["dataFormat"] != "JSON_API_V1" || env.Message.MessageID == "" || !strings.Contains(string(env.Message.Data), "projects/101/secrets/pushed") {
			t.Errorf("push envelope = %+v; want SECRET_CREATE for projects/101/secrets/pushed", env)
		}
	default:
		t.Fatalf("no push request received before CreateSecret returned")
	}
	// A receiver that refuses does not fail the API call.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer refuse.Close()
	f2 := newFixture(t, &secrets.PushNotifier{URL: refuse.URL})
	if _, err := f2.client(t, admin).CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "x", Secret: newSecret(nil, "projects/p1/topics/secret-events")}); err != nil {
		t.Errorf("CreateSecret with a refusing push endpoint: %v", err)
	}
}
