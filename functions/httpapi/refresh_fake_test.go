package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// TestRefreshFromSecretManagerEvents lets the fake Secret Manager publish its own
// notifications, in Pub/Sub push format, to POST /refresh (through a relay that adds the push
// subscription's OIDC token, as an authenticated Pub/Sub push does), while an operator adds
// and disables versions of a connector's secret directly in Secret Manager. The secret store
// is configured with a prefix other than the default, so the events (version events carry no
// labels) reach the connector only if the store maps names in its own naming.
func TestRefreshFromSecretManagerEvents(t *testing.T) {
	iss := callerauthtest.New(t)
	pushToken := iss.Token(t, admin, audience, time.Now().Add(time.Hour), nil)
	var target string // the API server, set below
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequest("POST", target+"/refresh", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+pushToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer relay.Close()

	fake := fakegcptest.StartExported(t, fakegcp.Options{PushURL: relay.URL})
	runtimeSA := "gcpconn-runtime@zenml-core.iam.gserviceaccount.com"
	smToken := fake.Tokens().Issue(tokens.Token{Member: "serviceAccount:" + runtimeSA, Email: runtimeSA,
		Scopes: []string{resourcetype.ScopeCloudPlatform}, Expiry: time.Now().Add(time.Hour)})
	ctx := context.Background()
	sm, err := secretmanager.NewRESTClient(ctx, option.WithEndpoint(fake.URL("secretmanager")),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: smToken})))
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()

	logs := &syncBuffer{}
	log := cloudlog.New(logs, nil)
	const prefix = "team-a-" // not store.SecretPrefix
	svc := &connector.Service{
		Store:   store.NewMemory(),
		Secrets: store.NewSecretManager(sm, "zenml-core", store.SecretManagerOptions{Prefix: prefix, Topic: "projects/zenml-core/topics/gcpconn-secrets", CacheTTL: -1}),
		Google:  gcp.New(gcp.EndpointsFromEnv()),
		Policy:  connector.Policy{Admins: []string{admin}},
		Log:     log,
	}
	api := &API{Service: func(context.Context) (*connector.Service, error) { return svc, nil },
		Auth: iss.Verifier(audience, nil), Log: log}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	target = srv.URL
	e := &env{t: t, api: api, svc: svc, iss: iss, srv: srv, logs: logs}

	keyOf := func(email string) map[string]any {
		raw, err := fake.KeyJSON(email)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return m
	}
	good := keyOf("connectors-admin@zenml-core.iam.gserviceaccount.com")
	r := e.do("POST", "/register", e.token(owner), map[string]any{"name": "rotating", "auth_method": "service-account",
		"resource_type": "gcp-generic", "configuration": map[string]any{"project_id": "zenml-core", "service_account_json": good}})
	e.expect(r, http.StatusCreated, "")
	id := r.body["connector"].(map[string]any)["id"].(string)
	secret := "projects/zenml-core/secrets/" + prefix + id
	pinned := func() *connector.Connector {
		c, err := svc.Store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	v1 := pinned().SecretVersion
	// The fake delivers each notification before its API call returns (emulator/secrets), and
	// POST /refresh answers once it has acted, so the connector is settled when the operator's
	// call returns: no waiting.
	settled := func(what string, ok func(c *connector.Connector) bool) *connector.Connector {
		t.Helper()
		c := pinned()
		if !ok(c) {
			t.Fatalf("%s: connector is %+v (pinned %s)\nlogs:\n%s", what, c.Status, c.SecretVersion, logs.String())
		}
		return c
	}
	addVersion := func(fields map[string]any) string {
		payload, _ := json.Marshal(fields)
		v, err := sm.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: secret,
			Payload: &secretmanagerpb.SecretPayload{Data: payload}})
		if err != nil {
			t.Fatalf("AddSecretVersion: %v", err)
		}
		return upkeep.VersionID(v.Name)
	}
	goodJSON, _ := json.Marshal(good)

	// An operator adds a new version that works: the pin moves to it.
	v2 := addVersion(map[string]any{"service_account_json": string(goodJSON)})
	c := settled("pin the new version", func(c *connector.Connector) bool { return c.SecretVersion == v2 })
	t.Logf("SECRET_VERSION_ADD moved the pin %s -> %s", v1, c.SecretVersion)

	// A version whose key is disabled does not authenticate: the pin stays, the status says why.
	badJSON, _ := json.Marshal(keyOf("disabled-sa@zenml-core.iam.gserviceaccount.com"))
	v3 := addVersion(map[string]any{"service_account_json": string(badJSON)})
	c = settled("record the failed version", func(c *connector.Connector) bool { return strings.Contains(c.Status.Error, "not pinned") })
	if c.SecretVersion != v2 {
		t.Errorf("after a failing version %s the pin is %s; want %s kept", v3, c.SecretVersion, v2)
	}

	// Disabling the pinned version disables the connector; minting stops.
	if _, err := sm.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: secret + "/versions/" + v2}); err != nil {
		t.Fatalf("DisableSecretVersion: %v", err)
	}
	settled("disable the connector", func(c *connector.Connector) bool { return c.Status.State == connector.StateDisabled })
	r = e.do("POST", "/mint-token", e.token(owner), map[string]any{"connector": "rotating"})
	if r.status < 400 || r.status >= 500 {
		t.Errorf("mint from the disabled connector = %d %s; want a 4xx", r.status, r.raw)
	}
	// Enabling it again re-enables the connector.
	if _, err := sm.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: secret + "/versions/" + v2}); err != nil {
		t.Fatalf("EnableSecretVersion: %v", err)
	}
	settled("re-enable the connector", func(c *connector.Connector) bool { return c.Status.State == connector.StateOK })
	e.expect(e.do("POST", "/mint-token", e.token(owner), map[string]any{"connector": "rotating"}), 200, "")
}
