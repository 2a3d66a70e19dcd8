package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/store/storetest"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// smProject is the demo world's project, where gcpconn-runtime is secretmanager.admin.
const (
	smProject = "zenml-core"
	smRuntime = "gcpconn-runtime@zenml-core.iam.gserviceaccount.com"
	smTopic   = "projects/zenml-core/topics/gcpconn-secrets"
)

// smFake is a running fake Google Cloud and a Secret Manager REST client for gcpconn's
// runtime account.
type smFake struct {
	srv    *fakegcp.Server
	client *secretmanager.Client
	prefix atomic.Int64
}

func startSMFake(t testing.TB) *smFake {
	t.Helper()
	ctx := context.Background()
	srv := fakegcptest.Start(t, fakegcp.Options{})
	tok := srv.Tokens().Issue(tokens.Token{
		Member: "serviceAccount:" + smRuntime, Email: smRuntime,
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}, Expiry: time.Now().Add(2 * time.Hour),
	})
	client, err := secretmanager.NewRESTClient(ctx,
		option.WithEndpoint(srv.URL("secretmanager")),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})),
	)
	if err != nil {
		t.Fatalf("secretmanager.NewRESTClient = %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return &smFake{srv: srv, client: client}
}

// store returns a SecretManager whose secrets no other store of this fake sees.
func (f *smFake) store(opts store.SecretManagerOptions) *store.SecretManager {
	s, _ := f.pair(opts)
	return s
}

// pair is store, plus an uncached store over the same secrets for checks.
func (f *smFake) pair(opts store.SecretManagerOptions) (s, check *store.SecretManager) {
	opts.Prefix = fmt.Sprintf("t%d-", f.prefix.Add(1))
	return store.NewSecretManager(f.client, smProject, opts),
		store.NewSecretManager(f.client, smProject, store.SecretManagerOptions{Prefix: opts.Prefix, CacheTTL: -1})
}

func TestSecretManager(t *testing.T) {
	f := startSMFake(t)
	storetest.RunSecrets(t, func(t *testing.T) connector.SecretStore {
		return f.store(store.SecretManagerOptions{Topic: smTopic})
	})
	t.Run("NoCache", func(t *testing.T) {
		storetest.RunSecrets(t, func(t *testing.T) connector.SecretStore {
			return f.store(store.SecretManagerOptions{CacheTTL: -1})
		})
	})
}

func TestSecretManagerSecretShape(t *testing.T) {
	f := startSMFake(t)
	ctx := context.Background()
	s := f.store(store.SecretManagerOptions{Topic: smTopic})
	v1, err := s.AddVersion(ctx, "cid1", connector.Secrets{Token: "ya29.one"})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.AddVersion(ctx, "cid1", connector.Secrets{Token: "ya29.two"})
	if err != nil {
		t.Fatal(err)
	}
	if v1 != "1" || v2 != "2" {
		t.Errorf("AddVersion twice = %q, %q; want the version numbers 1, 2", v1, v2)
	}
	secretName := "projects/" + smProject + "/secrets/t1-cid1"
	if got := s.SecretName("cid1"); got != secretName {
		t.Errorf("SecretName(cid1) = %q; want %q, the secret AddVersion wrote", got, secretName)
	}
	sec, err := f.client.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: secretName})
	if err != nil {
		t.Fatalf("GetSecret(%s) = %v", secretName, err)
	}
	if got := sec.GetLabels()[store.ConnectorLabel]; got != "cid1" {
		t.Errorf("secret label %s = %q; want %q", store.ConnectorLabel, got, "cid1")
	}
	if len(sec.GetTopics()) != 1 || sec.GetTopics()[0].GetName() != smTopic {
		t.Errorf("secret topics = %v; want [%s]", sec.GetTopics(), smTopic)
	}
	resp, err := f.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secretName + "/versions/2"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(resp.GetPayload().GetData()), `{"token":"ya29.two"}`; got != want {
		t.Errorf("stored payload = %s; want %s (the JSON of Secrets.Fields)", got, want)
	}
	for _, v := range []string{"latest", "", "1/../2"} {
		_, err := s.Access(ctx, "cid1", v)
		if connector.KindOf(err) != connector.ErrInvalid {
			t.Errorf("Access(cid1, %q) = %v; want ErrInvalid (only pinned version numbers)", v, err)
		}
	}
	if _, err := s.AddVersion(ctx, "Bad/ID", connector.Secrets{Token: "x"}); connector.KindOf(err) != connector.ErrInvalid {
		t.Errorf("AddVersion(Bad/ID) = %v; want ErrInvalid", err)
	}
}

func TestSecretManagerCache(t *testing.T) {
	f := startSMFake(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	s2, cold := f.pair(store.SecretManagerOptions{CacheTTL: time.Minute, Now: func() time.Time { return now }})
	v, err := cold.AddVersion(ctx, "cid1", connector.Secrets{Token: "ya29.one"}) // not cached in s2
	if err != nil {
		t.Fatal(err)
	}
	accesses := func() int64 { return f.srv.Faults().Count("secretmanager.versions.access") }
	before := accesses()
	for range 5 {
		if sec, err := s2.Access(ctx, "cid1", v); err != nil || sec.Token != "ya29.one" {
			t.Fatalf("Access = %v; want the token", err)
		}
	}
	if got := accesses() - before; got != 1 {
		t.Errorf("5 reads of one version made %d Secret Manager calls; want 1 (cached per version)", got)
	}
	now = now.Add(2 * time.Minute)
	if _, err := s2.Access(ctx, "cid1", v); err != nil {
		t.Fatal(err)
	}
	if got := accesses() - before; got != 2 {
		t.Errorf("a read after the cache TTL made %d calls in all; want 2", got)
	}
	if err := s2.DestroyVersion(ctx, "cid1", v); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Access(ctx, "cid1", v); connector.KindOf(err) != connector.ErrFailedPrecondition {
		t.Errorf("Access after DestroyVersion through the same store = %v; want ErrFailedPrecondition (not a cached value)", err)
	}
}

func TestSecretManagerErrors(t *testing.T) {
	f := startSMFake(t)
	ctx := context.Background()
	s := f.store(store.SecretManagerOptions{CacheTTL: -1})
	v, err := s.AddVersion(ctx, "cid1", connector.Secrets{Token: "ya29.one"})
	if err != nil {
		t.Fatal(err)
	}
	access := func(ctx context.Context) error { _, err := s.Access(ctx, "cid1", v); return err }
	// Reads are idempotent, so the client retries a throttled or unavailable answer.
	for _, status := range []int{429, 503} {
		f.srv.Faults().Set("secretmanager.versions.access", faults.Fault{Status: status, Times: 1})
		if err := access(ctx); err != nil {
			t.Errorf("Access with one %d answer = %v; want nil (retried)", status, err)
		}
	}
	f.srv.Faults().Set("secretmanager.versions.access", faults.Fault{Status: 503})
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := access(short); connector.KindOf(err) != connector.ErrUpstreamUnavailable {
		t.Errorf("Access while Secret Manager answers 503 = %v; want kind %q", err, connector.ErrUpstreamUnavailable)
	}
	cancel()
	f.srv.Faults().Set("secretmanager.versions.access", faults.Fault{})

	// Writes are not retried by the client: the error reaches the caller with its kind, and
	// the store is left as it was.
	tests := []struct {
		endpoint string
		call     func() error
	}{
		{"secretmanager.versions.add", func() error { _, err := s.AddVersion(ctx, "cid1", connector.Secrets{Token: "x"}); return err }},
		{"secretmanager.secrets.delete", func() error { return s.Delete(ctx, "cid1") }},
		{"secretmanager.versions.disable", func() error { return s.DestroyVersion(ctx, "cid1", v) }},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			f.srv.Faults().Set(tt.endpoint, faults.Fault{Status: 503, Times: 1})
			defer f.srv.Faults().Set(tt.endpoint, faults.Fault{})
			if err := tt.call(); connector.KindOf(err) != connector.ErrUpstreamUnavailable {
				t.Errorf("with %s answering 503: error = %v; want kind %q", tt.endpoint, err, connector.ErrUpstreamUnavailable)
			}
			if sec, err := s.Access(ctx, "cid1", v); err != nil || sec.Token != "ya29.one" {
				t.Errorf("Access after the failed call = %v; want the token, untouched", err)
			}
		})
	}
	// A destroy that fails after the disable leaves the version disabled, never readable.
	f.srv.Faults().Set("secretmanager.versions.destroy", faults.Fault{Status: 503, Times: 1})
	if err := s.DestroyVersion(ctx, "cid1", v); connector.KindOf(err) != connector.ErrUpstreamUnavailable {
		t.Errorf("DestroyVersion with destroy answering 503 = %v; want kind %q", err, connector.ErrUpstreamUnavailable)
	}
	if _, err := s.Access(ctx, "cid1", v); connector.KindOf(err) != connector.ErrFailedPrecondition {
		t.Errorf("Access after a half-done destroy = %v; want ErrFailedPrecondition (disabled first)", err)
	}
	if err := s.DestroyVersion(ctx, "cid1", v); err != nil {
		t.Errorf("DestroyVersion again = %v; want nil", err)
	}
}

// TestRegistryOverSecretManager runs register, update and delete over the real Secret
// Manager client with the fake failing at each Secret Manager step: no connector ever pins
// an unreadable version, and after sweep no secret is left without a connector.
func TestRegistryOverSecretManager(t *testing.T) {
	f := startSMFake(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		faults []string // endpoints that fail (503) once, in the step under test
		step   string   // register, update or delete
		ok     bool
	}{
		{"register", nil, "register", true},
		{"register: secret create fails", []string{"secretmanager.secrets.create"}, "register", false},
		{"register: version add fails", []string{"secretmanager.versions.add"}, "register", false},
		{"update", nil, "update", true},
		{"update: version add fails", []string{"secretmanager.versions.add"}, "update", false},
		{"update: old version disable fails", []string{"secretmanager.versions.disable"}, "update", true},
		{"update: old version destroy fails", []string{"secretmanager.versions.destroy"}, "update", true},
		{"delete", nil, "delete", true},
		{"delete: secret delete fails", []string{"secretmanager.secrets.delete"}, "delete", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm, check := f.pair(store.SecretManagerOptions{Topic: smTopic})
			st := store.NewMemory()
			n := 0
			svc := &connector.Service{Store: st, Secrets: sm, NewID: func() string { n++; return fmt.Sprint("cid", n) }}
			alice := connector.Principal{Email: "alice@example.com"}
			reg := func(name string) (*connector.Connector, error) {
				c, _, err := svc.Register(ctx, alice, rgLikeRequest(name, "ya29.first"))
				return c, err
			}
			var c *connector.Connector
			if tt.step != "register" {
				var err error
				if c, err = reg("orders"); err != nil {
					t.Fatalf("Register = %v", err)
				}
			}
			for _, ep := range tt.faults {
				f.srv.Faults().Set(ep, faults.Fault{Status: 503, Times: 1})
			}
			var err error
			switch tt.step {
			case "register":
				_, err = reg("orders")
			case "update":
				exp := time.Now().Add(2 * time.Hour)
				verify := false
				_, err = svc.Update(ctx, alice, c.ID, connector.UpdateRequest{
					Configuration: map[string]any{"project_id": "proj-1", "token": "ya29.second"}, ExpiresAt: &exp, Verify: &verify})
			case "delete":
				err = svc.Delete(ctx, alice, c.ID)
			}
			for _, ep := range tt.faults {
				if left := f.srv.Faults().Snapshot(); slices.ContainsFunc(left, func(s faults.FaultSpec) bool { return s.Endpoint == ep }) {
					t.Errorf("the fault on %s never fired", ep)
				}
				f.srv.Faults().Set(ep, faults.Fault{})
			}
			if (err == nil) != tt.ok {
				t.Errorf("%s = %v; want success %v", tt.step, err, tt.ok)
			}
			smNoDangling(t, st, check)
			// Sweep's orphan removal, once the grace period is over.
			svc.Now = func() time.Time { return time.Now().Add(connector.OrphanGrace + time.Minute) }
			orphans, err := (&upkeep.Keeper{Service: svc}).Orphans(ctx)
			if err != nil {
				t.Fatalf("Orphans = %v", err)
			}
			for _, id := range orphans {
				if err := sm.Delete(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			smNoDangling(t, st, check)
			ids, err := check.ListConnectorIDs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if _, err := st.Get(ctx, id); err != nil {
					t.Errorf("after sweep, the secret of %s has no connector: %v", id, err)
				}
			}
		})
	}
}

func rgLikeRequest(name, token string) connector.RegisterRequest {
	exp := time.Now().Add(time.Hour)
	verify := false
	return connector.RegisterRequest{
		Name: name, AuthMethod: configschema.OAuth2Token, ResourceType: resourceid.GCSBucket,
		Configuration: map[string]any{"project_id": "proj-1", "token": token}, ExpiresAt: &exp, Verify: &verify,
	}
}

func smNoDangling(t *testing.T, st connector.Store, sm connector.SecretStore) {
	t.Helper()
	cs, _, err := st.List(context.Background(), connector.Filter{}, connector.Page{Size: connector.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if _, err := sm.Access(context.Background(), c.ID, c.SecretVersion); err != nil {
			t.Errorf("connector %s pins secret version %q, which cannot be read: %v", c.ID, c.SecretVersion, err)
		}
	}
}

// TestConnectorOfSecret: the secret stores map Secret Manager's secret names (as its
// notifications spell them) to connector ids in their own naming, the configured prefix
// included; other secrets belong to no connector.
func TestConnectorOfSecret(t *testing.T) {
	custom := store.NewSecretManager(nil, smProject, store.SecretManagerOptions{Prefix: "team-a-"})
	standard := store.NewSecretManager(nil, smProject, store.SecretManagerOptions{})
	memory := store.NewMemorySecrets()
	for _, tc := range []struct {
		name   string
		owners connector.SecretStore
		secret string
		labels map[string]string
		want   string // "" = no connector's
	}{
		{"default prefix", standard, "projects/zenml-core/secrets/gcpconn-abc", nil, "abc"},
		{"project number", standard, "projects/123456/secrets/gcpconn-abc", nil, "abc"},
		{"default prefix, matching label", standard, "projects/p/secrets/gcpconn-abc", map[string]string{store.ConnectorLabel: "abc"}, "abc"},
		{"default prefix, other label", standard, "projects/p/secrets/gcpconn-abc", map[string]string{store.ConnectorLabel: "xyz"}, ""},
		{"configured prefix", custom, "projects/zenml-core/secrets/team-a-abc", nil, "abc"},
		{"default name under a configured prefix", custom, "projects/zenml-core/secrets/gcpconn-abc", nil, ""},
		{"configured name under the default prefix", standard, "projects/zenml-core/secrets/team-a-abc", nil, ""},
		{"label alone is not enough", custom, "projects/p/secrets/db-password", map[string]string{store.ConnectorLabel: "abc"}, ""},
		{"prefix alone", standard, "projects/p/secrets/gcpconn-", nil, ""},
		{"not an id", standard, "projects/p/secrets/gcpconn-ABC", nil, ""},
		{"foreign secret", standard, "projects/p/secrets/db-password", nil, ""},
		{"memory: default naming", memory, "projects/p/secrets/gcpconn-abc", nil, "abc"},
		{"memory: foreign secret", memory, "projects/p/secrets/team-a-abc", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.owners.ConnectorOfSecret(tc.secret, tc.labels)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("ConnectorOfSecret(%q, %v) = %q, %v; want %q, %v", tc.secret, tc.labels, got, ok, tc.want, tc.want != "")
			}
		})
	}
}

// TestSecretManagerRotationSchedule: SetRotation writes Secret Manager's rotation schedule
// (period, next time) and the topic it needs; a zero period removes it; without a topic a
// schedule is refused naming rotation_period.
func TestSecretManagerRotationSchedule(t *testing.T) {
	f := startSMFake(t)
	ctx := context.Background()
	s := f.store(store.SecretManagerOptions{Topic: smTopic})
	if _, err := s.AddVersion(ctx, "rot", connector.Secrets{Token: "ya29.one"}); err != nil {
		t.Fatal(err)
	}
	next := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.SetRotation(ctx, "rot", 30*24*time.Hour, next); err != nil {
		t.Fatalf("SetRotation = %v", err)
	}
	name := func() string {
		var got string
		it := f.client.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/" + smProject})
		for sec, err := it.Next(); err == nil; sec, err = it.Next() {
			if strings.HasSuffix(sec.GetName(), "-rot") && sec.GetLabels()[store.ConnectorLabel] == "rot" {
				got = sec.GetName()
			}
		}
		return got
	}()
	sec, err := f.client.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if r := sec.GetRotation(); r.GetRotationPeriod().AsDuration() != 30*24*time.Hour || !r.GetNextRotationTime().AsTime().Equal(next) ||
		len(sec.GetTopics()) != 1 || sec.GetTopics()[0].GetName() != smTopic {
		t.Errorf("secret rotation = %v, topics %v; want 720h from %v and topic %s", r, sec.GetTopics(), next, smTopic)
	}
	if err := s.SetRotation(ctx, "rot", 0, time.Time{}); err != nil {
		t.Fatalf("SetRotation(0) = %v", err)
	}
	if sec, _ = f.client.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: name}); sec.GetRotation() != nil {
		t.Errorf("after SetRotation(0) the secret's rotation is %v; want none", sec.GetRotation())
	}
	bare := f.store(store.SecretManagerOptions{})
	if _, err := bare.AddVersion(ctx, "rot2", connector.Secrets{Token: "ya29.one"}); err != nil {
		t.Fatal(err)
	}
	if err := bare.SetRotation(ctx, "rot2", 30*24*time.Hour, next); connector.FieldOf(err) != "rotation_period" {
		t.Errorf("SetRotation without a topic = %v; want an error naming rotation_period", err)
	}
}
