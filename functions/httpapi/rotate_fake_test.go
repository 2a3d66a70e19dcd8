package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
	"github.com/gcpconn/gcpconn/shared/rotation"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// e2eAccount is the demo world's account whose key the rotating connector holds.
const e2eAccount = "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"

// e2eClock is the injected clock of the service and the fake's world; tests move it by hand.
type e2eClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *e2eClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *e2eClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestKeyRotationEndToEnd drives #17 through the HTTP functions against the fake Google: a
// connector registered with rotation_period; the fake Secret Manager's schedule publishes
// SECRET_ROTATE (Pub/Sub push to POST /refresh) when the clock reaches it; a new key is
// pinned and new tokens come from it (the fake records the key each token was minted from);
// the replaced key mints until sweep deletes it after the grace, then no more; duplicate
// and concurrent deliveries of the event make no second key; POST /rotate (owner) rotates on
// demand and sweep deletes the replaced key gcpconn created once the grace has passed, while
// the registered key (not gcpconn's) is never deleted. Time is the injected clock, never a sleep.
func TestKeyRotationEndToEnd(t *testing.T) {
	iss := callerauthtest.New(t)
	pushToken := iss.Token(t, admin, audience, time.Now().Add(time.Hour), nil)
	var target string
	var mu sync.Mutex
	var events [][]byte // the push bodies that reached /refresh
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		events = append(events, body)
		mu.Unlock()
		status, err := pushTo(target, pushToken, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(status)
	}))
	defer relay.Close()
	fake := fakegcptest.StartExported(t, fakegcp.Options{PushURL: relay.URL})
	if err := fake.World().AddBinding(world.Binding{Resource: "projects/zenml-core/serviceAccounts/" + e2eAccount,
		Role: "roles/iam.serviceAccountKeyAdmin", Members: []string{"serviceAccount:" + e2eAccount}}); err != nil {
		t.Fatal(err)
	}
	// The clock starts one period in the past, so that when the period is over it is about the
	// real time the fake dates its tokens by: the service's token cache then serves them, and a
	// mint after a rotation comes from the new key only because the rotation dropped the cache.
	// It runs a minute ahead of the real time at which the fake publishes events, as a rotation
	// pins its key after the event that started it was published.
	clock := &e2eClock{t: time.Now().UTC().Truncate(time.Second).Add(-30*24*time.Hour + time.Minute)}
	fake.World().SetClock(clock.Now)
	ctx := context.Background()
	runtimeSA := "gcpconn-runtime@zenml-core.iam.gserviceaccount.com"
	smToken := fake.Tokens().Issue(tokens.Token{Member: "serviceAccount:" + runtimeSA, Email: runtimeSA,
		Scopes: []string{resourcetype.ScopeCloudPlatform}, Expiry: time.Now().Add(24 * time.Hour)})
	sm, err := secretmanager.NewRESTClient(ctx, option.WithEndpoint(fake.URL("secretmanager")),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: smToken})))
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	logs := &syncBuffer{}
	log := cloudlog.New(logs, nil)
	g := gcp.New(gcp.EndpointsFromEnv())
	svc := &connector.Service{Store: store.NewMemory(), Google: g, Now: clock.Now, Log: log,
		Secrets: store.NewSecretManager(sm, "zenml-core", store.SecretManagerOptions{Topic: "projects/zenml-core/topics/gcpconn-secrets", CacheTTL: -1}),
		Policy:  connector.Policy{Admins: []string{admin}}}
	keeper := upkeep.New(svc, g)
	api := &API{Service: func(context.Context) (*connector.Service, error) { return svc, nil },
		Keeper: func(context.Context) (*upkeep.Keeper, error) { return keeper, nil }, Auth: iss.Verifier(audience, nil), Log: log, Now: clock.Now}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	target = srv.URL
	e := &env{t: t, api: api, svc: svc, keeper: keeper, iss: iss, srv: srv, logs: logs}

	raw, err := fake.KeyJSON(e2eAccount)
	if err != nil {
		t.Fatal(err)
	}
	var key map[string]any
	_ = json.Unmarshal(raw, &key)
	registered := key["private_key_id"].(string)
	r := e.do("POST", "/register", e.token(owner), map[string]any{"name": "rotating", "auth_method": "service-account",
		"resource_type": "gcs-bucket", "resource_id": "gs://zenml-bucket-sl", "users": []string{user}, "rotation_period": "30d",
		"configuration": map[string]any{"project_id": "zenml-core", "service_account_json": key}})
	e.expect(r, http.StatusCreated, "")
	rot := rotationOf(t, r.body)
	if rot["period"] != "30d" || rot["key_id"] != registered || rot["next_rotation_at"] != clock.Now().Add(30*24*time.Hour).Format(time.RFC3339) {
		t.Errorf("registered connector's rotation = %v; want period 30d, key %s, next in 30 days", rot, registered)
	}
	keys := func() []string { return accountKeys(t, fake) }
	describe := func() map[string]any {
		d := e.do("GET", "/list?connector=rotating", e.token(owner), nil)
		e.expect(d, http.StatusOK, "")
		return rotationOf(t, d.body)
	}
	// mint returns the key the fake minted the connector's token from (tokens.Token.KeyID,
	// which the down-scoped token keeps from its source token).
	mint := func(when string) string {
		m := e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "rotating", "resource_type": "gcs-bucket"})
		if m.status != http.StatusOK {
			t.Errorf("%s: mint = %d %s; want a token", when, m.status, m.raw)
			return ""
		}
		tok, err := fake.Tokens().Lookup(fmt.Sprint(m.body["access_token"]))
		if err != nil {
			t.Errorf("%s: the minted token is not one the fake issued: %v", when, err)
		}
		return tok.KeyID
	}
	if k := mint("before rotation"); k != registered {
		t.Errorf("before rotation: token minted from key %q; want the registered %s", k, registered)
	}

	// Not yet due: the schedule publishes nothing.
	fake.TickSecrets(ctx, clock.Now().Add(29*24*time.Hour))
	if n := len(keys()); n != 1 {
		t.Fatalf("before the period: %d keys; want the registered one", n)
	}
	// Due: Secret Manager publishes SECRET_ROTATE, refresh rotates before the tick returns.
	clock.Add(30 * 24 * time.Hour)
	fake.TickSecrets(ctx, clock.Now())
	rot = describe()
	first, _ := rot["key_id"].(string)
	if first == registered || first == "" || rot["generation"] != float64(1) || !slices.Contains(keys(), first) || len(keys()) != 2 {
		t.Fatalf("after SECRET_ROTATE: rotation %v, keys %v; want a new key pinned (generation 1)\n%s", rot, keys(), logs.String())
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("logs hold key material")
	}
	// New tokens come from the new key: a fresh mint (the pin changed the secret version the
	// token cache is keyed by) is minted from the key describe shows.
	if k := mint("after SECRET_ROTATE"); k != first {
		t.Errorf("after SECRET_ROTATE: token minted from key %q; want the new key %s", k, first)
	}
	// The token cache is live here: a second mint is served without asking Google.
	if n := fake.Tokens().Issued(); mint("cached") != first || fake.Tokens().Issued() != n {
		t.Errorf("a second mint: %d new tokens at the fake; want the cached token of %s served", fake.Tokens().Issued()-n, first)
	}

	// Duplicate and concurrent deliveries of the same event: one key per period.
	var rotateEvent []byte // the SECRET_ROTATE the schedule published (a version add followed it)
	mu.Lock()
	for _, ev := range events {
		if strings.Contains(string(ev), `"eventType":"SECRET_ROTATE"`) {
			rotateEvent = slices.Clone(ev)
		}
	}
	mu.Unlock()
	if rotateEvent == nil {
		t.Fatalf("no SECRET_ROTATE among the %d events pushed", len(events))
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, err := pushTo(target, pushToken, rotateEvent); err != nil || status >= 300 {
				t.Errorf("duplicate SECRET_ROTATE = %d, %v; want it accepted", status, err)
			}
		}()
	}
	wg.Wait()
	if ks := keys(); len(ks) != 2 || describe()["key_id"] != first {
		t.Errorf("after 5 duplicate events: keys %v, pinned %v; want still 2 keys, %s pinned", ks, describe()["key_id"], first)
	}

	// On demand: only the owner (or an admin) rotates; the answer names the key, never material.
	for _, who := range []struct {
		email  string
		status int
	}{{other, http.StatusNotFound}, {user, http.StatusForbidden}} {
		if rr := e.do("POST", "/rotate", e.token(who.email), map[string]any{"connector": "rotating"}); rr.status != who.status {
			t.Errorf("POST /rotate as %s = %d %s; want %d", who.email, rr.status, rr.raw, who.status)
		}
	}
	rr := e.do("POST", "/rotate", e.token(owner), map[string]any{"connector": "rotating"})
	e.expect(rr, http.StatusOK, "")
	second, _ := rr.body["key_id"].(string)
	if rr.body["rotated"] != true || second == first || second == "" || strings.Contains(rr.raw, "private_key") {
		t.Fatalf("POST /rotate = %s; want rotated with a new key id and no material", rr.raw)
	}
	if k := mint("after POST /rotate"); k != second {
		t.Errorf("after POST /rotate: token minted from key %q; want %s (the clock did not move: a cached token of %s would be reused if the cache were not dropped)", k, second, first)
	}

	// Sweep inside the grace deletes nothing; after it, the replaced key gcpconn created.
	sweep := func() map[string]any {
		s := e.do("POST", "/sweep", e.token(admin), nil)
		e.expect(s, http.StatusOK, "")
		return s.body
	}
	if s := sweep(); s["keys_deleted"] != nil || !slices.Contains(keys(), first) {
		t.Errorf("sweep inside the grace = %v, keys %v; want nothing deleted", s, keys())
	}
	// The replaced key still mints at the fake's token endpoint until sweep deletes it.
	replaced, ok := fake.World().FindKey(e2eAccount, first)
	if !ok {
		t.Fatalf("key %s is gone before the grace ended", first)
	}
	if k, err := mintWithKey(fake, &replaced); err != nil || k != first {
		t.Errorf("replaced key inside the grace: token from %q, %v; want one from %s", k, err, first)
	}
	clock.Add(rotation.Grace + time.Minute)
	if s := sweep(); s["keys_deleted"] != float64(1) {
		t.Errorf("sweep after the grace = %v; want keys_deleted 1", s)
	}
	if k, err := mintWithKey(fake, &replaced); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("deleted key %s: token from %q, %v; want invalid_grant (a deleted key stops minting)", first, k, err)
	}
	if ks := keys(); slices.Contains(ks, first) || !slices.Contains(ks, registered) || !slices.Contains(ks, second) || len(ks) != 2 {
		t.Errorf("keys after the grace = %v; want %s deleted, the registered %s kept, %s pinned", ks, first, registered, second)
	}
	if k := mint("after sweep"); k != second {
		t.Errorf("after sweep: token minted from key %q; want the pinned %s", k, second)
	}
}

// mintWithKey makes a JWT-bearer grant signed with k at the fake's token endpoint, as any
// holder of the key file could, and returns the key the issued token was minted from.
func mintWithKey(fake *fakegcp.Server, k *world.Key) (string, error) {
	file, err := fake.World().KeyFileJSON(e2eAccount, k)
	if err != nil {
		return "", err
	}
	cfg, err := google.JWTConfigFromJSON(file, resourcetype.ScopeCloudPlatform)
	if err != nil {
		return "", err
	}
	cfg.TokenURL = fake.BaseURL() + "/token"
	tok, err := cfg.TokenSource(context.Background()).Token()
	if err != nil {
		return "", err
	}
	got, err := fake.Tokens().Lookup(tok.AccessToken)
	return got.KeyID, err
}

// pushTo posts a Pub/Sub push body to base's /refresh as the push subscription's identity.
func pushTo(base, token string, body []byte) (int, error) {
	req, _ := http.NewRequest("POST", base+"/refresh", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// rotationOf returns connector.rotation of a register or describe answer.
func rotationOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	c, _ := body["connector"].(map[string]any)
	rot, _ := c["rotation"].(map[string]any)
	if rot == nil {
		t.Fatalf("connector has no rotation object: %v", body)
	}
	return rot
}
