package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/rotation"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// iamCall is one request the adapter sent to the IAM keys API, with its bearer token.
type iamCall struct {
	method, path, token string
}

// iamRecorder is the adapter's HTTP transport: it passes every request on and records those
// sent to the IAM keys API (base), so a test can ask the fake whose tokens they carried.
type iamRecorder struct {
	base  string
	mu    sync.Mutex
	calls []iamCall
}

func (r *iamRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.String(), r.base) {
		r.mu.Lock()
		r.calls = append(r.calls, iamCall{req.Method, req.URL.Path, strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")})
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *iamRecorder) taken() []iamCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.calls
	r.calls = nil
	return calls
}

// TestRotationIdentity (GCPCONN_ROTATION_IDENTITY): the service's identity (the metadata
// server's account, the demo world's runtime account) holds roles/iam.serviceAccountKeyAdmin
// on the connector's account, and the account itself does not. Rotating as the service
// creates, lists and deletes keys with the metadata server's tokens: POST /rotate pins a new
// key that mints, and sweep deletes the replaced key after the grace. Rotating as the
// connector (the default) fails with a 412 that says permission was denied, to whom, and the
// role to grant; no key is made and describe's last_error says why.
func TestRotationIdentity(t *testing.T) {
	for _, id := range []gcp.RotationIdentity{gcp.RotateAsService, gcp.RotateAsConnector} {
		t.Run(string(id), func(t *testing.T) {
			fake, e, rec, clock := rotationIdentityEnv(t, id)
			runtimeSA := fake.World().RuntimeServiceAccount
			raw, err := fake.KeyJSON(e2eAccount)
			if err != nil {
				t.Fatal(err)
			}
			var key map[string]any
			_ = json.Unmarshal(raw, &key)
			registered := key["private_key_id"].(string)
			e.expect(e.do("POST", "/register", e.token(owner), map[string]any{"name": "rotating", "auth_method": "service-account",
				"resource_type": "gcs-bucket", "resource_id": "gs://zenml-bucket-sl", "users": []string{user}, "rotation_period": "30d",
				"configuration": map[string]any{"project_id": "zenml-core", "service_account_json": key}}), http.StatusCreated, "")
			rec.taken()

			r := e.do("POST", "/rotate", e.token(owner), map[string]any{"connector": "rotating"})
			calls := rec.taken()
			keys := accountKeys(t, fake)
			if id == gcp.RotateAsConnector {
				e.expect(r, http.StatusPreconditionFailed, "failed_precondition")
				msg := fmt.Sprint(r.body["error"].(map[string]any)["message"])
				t.Logf("POST /rotate as the connector: %d %s", r.status, msg)
				for _, want := range []string{"permission denied", "iam.serviceAccountKeys.list", "the connector's key (" + e2eAccount + ")",
					"roles/iam.serviceAccountKeyAdmin on " + e2eAccount} {
					if !strings.Contains(msg, want) {
						t.Errorf("POST /rotate's message %q does not say %q", msg, want)
					}
				}
				if len(keys) != 1 || keys[0] != registered {
					t.Errorf("keys after the refused rotation = %v; want only the registered %s", keys, registered)
				}
				d := e.do("GET", "/list?connector=rotating", e.token(owner), nil)
				if le, _ := rotationOf(t, d.body)["last_error"].(string); !strings.Contains(le, "permission denied") {
					t.Errorf("describe's rotation.last_error = %q; want the permission denial", le)
				}
				madeAs(t, fake, calls, []string{"GET"}, e2eAccount, registered)
				return
			}
			e.expect(r, http.StatusOK, "")
			first, _ := r.body["key_id"].(string)
			if r.body["rotated"] != true || first == registered || !slices.Contains(keys, first) || len(keys) != 2 {
				t.Fatalf("POST /rotate = %s, keys %v; want a new key pinned", r.raw, keys)
			}
			madeAs(t, fake, calls, []string{"GET", "POST"}, runtimeSA, "")
			m := e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "rotating", "resource_type": "gcs-bucket"})
			e.expect(m, http.StatusOK, "")
			if tok, err := fake.Tokens().Lookup(fmt.Sprint(m.body["access_token"])); err != nil || tok.KeyID != first {
				t.Errorf("mint after the rotation: token from key %q, %v; want the new key %s", tok.KeyID, err, first)
			}
			// A second rotation retires the first key gcpconn made; sweep deletes it after the
			// grace, as the service too.
			e.expect(e.do("POST", "/rotate", e.token(owner), map[string]any{"connector": "rotating"}), http.StatusOK, "")
			clock.Add(rotation.Grace + time.Minute)
			rec.taken()
			s := e.do("POST", "/sweep", e.token(admin), nil)
			e.expect(s, http.StatusOK, "")
			if ks := accountKeys(t, fake); s.body["keys_deleted"] != float64(1) || slices.Contains(ks, first) {
				t.Errorf("sweep after the grace = %s, keys %v; want %s deleted", s.raw, ks, first)
			}
			madeAs(t, fake, rec.taken(), []string{"DELETE"}, runtimeSA, "")
		})
	}
}

// rotationIdentityEnv starts the fake Google with the runtime account (not e2eAccount)
// allowed to manage e2eAccount's keys, and the HTTP API over a service whose Google adapter
// rotates as id, its IAM calls recorded.
func rotationIdentityEnv(t *testing.T, id gcp.RotationIdentity) (*fakegcp.Server, *env, *iamRecorder, *e2eClock) {
	t.Helper()
	fake := fakegcptest.StartExported(t, fakegcp.Options{})
	if h := os.Getenv("GCE_METADATA_HOST"); !strings.HasPrefix(h, "127.0.0.1:") {
		t.Fatalf("GCE_METADATA_HOST = %q; want the fake's loopback metadata server", h)
	}
	runtimeSA := fake.World().RuntimeServiceAccount
	resource := "projects/zenml-core/serviceAccounts/" + e2eAccount
	if err := fake.World().AddBinding(world.Binding{Resource: resource, Role: "roles/iam.serviceAccountKeyAdmin",
		Members: []string{"serviceAccount:" + runtimeSA}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"iam.serviceAccountKeys.create", "iam.serviceAccountKeys.list", "iam.serviceAccountKeys.delete"} {
		if !fake.World().Allowed("serviceAccount:"+runtimeSA, p, resource) || fake.World().Allowed("serviceAccount:"+e2eAccount, p, resource) {
			t.Fatalf("%s on %s: want it held by %s only, not by the account itself", p, e2eAccount, runtimeSA)
		}
	}
	rec := &iamRecorder{base: os.Getenv(gcp.EnvIAM)}
	clock := &e2eClock{t: time.Now().UTC().Truncate(time.Second)}
	logs := &syncBuffer{}
	log := cloudlog.New(logs, nil)
	g := gcp.New(gcp.EndpointsFromEnv(), gcp.WithRotationIdentity(id), gcp.WithHTTPClient(&http.Client{Transport: rec, Timeout: 30 * time.Second}))
	svc := &connector.Service{Store: store.NewMemory(), Secrets: store.NewMemorySecrets(), Google: g, Now: clock.Now, Log: log,
		Policy: connector.Policy{Admins: []string{admin}}}
	e := &env{t: t, svc: svc, keeper: upkeep.New(svc, g), logs: logs}
	e.iss = callerauthtest.New(t)
	e.api = &API{Service: func(context.Context) (*connector.Service, error) { return svc, nil },
		Keeper: func(context.Context) (*upkeep.Keeper, error) { return e.keeper, nil }, Auth: e.iss.Verifier(audience, nil), Log: log, Now: clock.Now}
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	return fake, e, rec, clock
}

// madeAs checks that calls include each method and that every call carried a token the fake
// issued to email (from key keyID, or from the metadata server when keyID is "").
func madeAs(t *testing.T, fake *fakegcp.Server, calls []iamCall, methods []string, email, keyID string) {
	t.Helper()
	for _, m := range methods {
		if !slices.ContainsFunc(calls, func(c iamCall) bool { return c.method == m }) {
			t.Errorf("no %s to the IAM keys API among %d calls", m, len(calls))
		}
	}
	for _, c := range calls {
		tok, err := fake.Tokens().Lookup(c.token)
		switch {
		case err != nil:
			t.Errorf("%s %s: the token is not one the fake issued: %v", c.method, c.path, err)
		case tok.Email != email || tok.KeyID != keyID || (keyID == "" && tok.IssuedBy != "metadata.token"):
			t.Errorf("%s %s made as %s (key %q, issued by %s); want %s (key %q)", c.method, c.path, tok.Email, tok.KeyID, tok.IssuedBy, email, keyID)
		}
	}
}

// accountKeys returns the ids of e2eAccount's live keys.
func accountKeys(t *testing.T, fake *fakegcp.Server) []string {
	t.Helper()
	ks, err := fake.World().Keys(e2eAccount)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}
