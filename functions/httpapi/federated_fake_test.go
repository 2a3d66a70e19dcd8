package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/emulator/identity"
	"github.com/gcpconn/gcpconn/shared/callerauth"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/store"
)

// fedEnv is the API over the real Google adapter and the fake Google, whose own issuer signs
// Google callers' ID tokens and whose additional issuer "ci" (GitHub-Actions-shaped claims) is
// the deployment's one trusted issuer. The fake's issuer "other" exists but is not trusted.
type fedEnv struct {
	*env
	fake *fakegcp.Server
}

const fedAdminGlob = "ci:repo:acme/ops:*"

func newFedEnv(t *testing.T) *fedEnv {
	t.Helper()
	fake := fakegcptest.StartExported(t, fakegcp.Options{Issuers: []string{"ci", "other"}})
	issuers, err := callerauth.ParseIssuers(fmt.Sprintf(`[{"name":"ci","issuer":%q,"audiences":[%q],
		"bound_claims":{"repository_owner":"acme","ref":"refs/*"},"max_token_age":"15m"}]`, os.Getenv("FAKEGCP_ISSUER_CI"), audience), os.Getenv("GCPCONN_ISSUER"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := cloudlog.New(logs, nil)
	svc := &connector.Service{
		Store:   store.NewMemory(),
		Secrets: store.NewMemorySecrets(),
		Google:  gcp.New(gcp.EndpointsFromEnv()),
		Policy:  connector.Policy{Admins: []string{admin, fedAdminGlob}, Issuers: []string{"ci"}},
		Log:     log,
	}
	api := &API{Service: func(context.Context) (*connector.Service, error) { return svc, nil },
		Auth: callerauth.New(callerauth.Config{Issuer: os.Getenv("GCPCONN_ISSUER"), JWKSURL: os.Getenv("GCPCONN_JWKS_URL"),
			Audience: audience, Issuers: issuers}),
		Log: log}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return &fedEnv{env: &env{t: t, api: api, svc: svc, srv: srv, logs: logs}, fake: fake}
}

// google returns a Google ID token for email from the fake's Google issuer.
func (e *fedEnv) google(email string) string {
	e.t.Helper()
	tok, err := e.fake.IDToken(email, audience)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// ci returns a token of the fake's issuer name for repository and ref (variant "" = valid).
func (e *fedEnv) ci(name, repo, ref, variant string, claims map[string]any) string {
	e.t.Helper()
	tok, err := e.fake.IssuerToken(name, identity.IssuerTokenRequest{Audience: audience, Repository: repo, Ref: ref,
		Variant: variant, Claims: claims})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *fedEnv) keyJSON(email string) string {
	e.t.Helper()
	b, err := e.fake.KeyJSON(email)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// TestFederatedCIMintsBucketToken is the "done when", over HTTP against the fake: a
// ci token whose subject is one of a connector's users mints a down-scoped bucket token that
// reads that bucket and no other; another repository or ref is 404; every forged, stale or
// misdirected token is 401, and each spoof of one kind of caller as the other is refused.
func TestFederatedCIMintsBucketToken(t *testing.T) {
	e := newFedEnv(t)
	const mainSubject = "ci:repo:acme/pipelines:ref:refs/heads/main"
	r := e.do("POST", "/register", e.google(owner), map[string]any{
		"name": "buckets", "auth_method": "service-account", "resource_type": "gcs-bucket", "verify": false,
		"configuration": map[string]any{"project_id": "zenml-core", "service_account_json": e.keyJSON("connectors-admin@zenml-core.iam.gserviceaccount.com")},
		"users":         []string{mainSubject, user},
	})
	e.expect(r, http.StatusCreated, "")
	mint := func(tok string) response {
		return e.do("POST", "/mint-token", tok, map[string]any{"connector": "buckets", "resource_id": "gs://zenml-bucket-sl"})
	}

	t.Run("ci token of a user mints a down-scoped bucket token", func(t *testing.T) {
		e.t = t
		tok := e.ci("ci", "acme/pipelines", "refs/heads/main", "", nil)
		r := mint(tok)
		e.expect(r, http.StatusOK, "")
		access := r.body["access_token"].(string)
		storage := os.Getenv("GCPCONN_ENDPOINT_STORAGE")
		for bucket, want := range map[string]int{"zenml-bucket-sl": 200, "zenml-internal-artifact-store": 403} {
			req, _ := http.NewRequest("GET", storage+"/storage/v1/b/"+bucket+"/o", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("list %s with the minted token = %d; want %d", bucket, resp.StatusCode, want)
			}
		}
		logs := e.logs.String()
		if !strings.Contains(logs, `"principal":"`+mainSubject+`"`) || !strings.Contains(logs, `"issuer":"ci"`) {
			t.Errorf("mint audit lacks principal and issuer: %s", logs)
		}
		if strings.Contains(logs, tok) || strings.Contains(logs, access) {
			t.Errorf("a token is in the logs")
		}
	})
	// A key the issuer's key set lacks is refused: 401 after a fetch, or, within the refetch
	// limit of the last fetch, 503 with Retry-After (the key may be new).
	const unknownKey = 0
	for _, tc := range []struct {
		name  string
		token func() string
		want  int
	}{
		{"another ref", func() string { return e.ci("ci", "acme/pipelines", "refs/heads/dev", "", nil) }, 404},
		{"another repository", func() string { return e.ci("ci", "acme/other", "refs/heads/main", "", nil) }, 404},
		{"subject that is a user's email", func() string { return e.ci("ci", "", "", "", map[string]any{"sub": user}) }, 404},
		{"expired", func() string { return e.ci("ci", "acme/pipelines", "refs/heads/main", "expired", nil) }, 401},
		{"wrong audience", func() string { return e.ci("ci", "acme/pipelines", "refs/heads/main", "wrong-audience", nil) }, 401},
		{"wrong issuer", func() string { return e.ci("ci", "acme/pipelines", "refs/heads/main", "wrong-issuer", nil) }, 401},
		{"untrusted issuer", func() string { return e.ci("other", "acme/pipelines", "refs/heads/main", "", nil) }, 401},
		{"unknown kid", func() string { return e.ci("ci", "acme/pipelines", "refs/heads/main", "unknown-kid", nil) }, unknownKey},
		{"signed by another key", func() string { return e.ci("ci", "acme/pipelines", "refs/heads/main", "wrong-key", nil) }, 401},
		{"alg none", func() string { return e.ci("ci", "acme/pipelines", "refs/heads/main", "alg-none", nil) }, 401},
		{"HS256 signed with the public key", func() string { return e.ci("ci", "acme/pipelines", "refs/heads/main", "hs256-public-key", nil) }, 401},
		{"bound claim not met", func() string {
			return e.ci("ci", "evil/pipelines", "refs/heads/main", "", map[string]any{"sub": "repo:acme/pipelines:ref:refs/heads/main"})
		}, 401},
		// A Google email spoofed as a trusted issuer's token: ci's key, Google's iss and an email.
		{"Google email spoofed by the ci issuer", func() string {
			return e.ci("ci", "acme/pipelines", "refs/heads/main", "", map[string]any{"iss": os.Getenv("GCPCONN_ISSUER"), "email": user, "email_verified": true})
		}, unknownKey},
		// A federated subject spoofed as a Google email: Google's key, an "email" that is a principal.
		{"subject spoofed as a Google email", func() string {
			tok, err := e.fake.Identity().OIDCTokenWithClaims("123", audience, 0, map[string]any{"email": mainSubject, "email_verified": true})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := mint(tc.token())
			if tc.want == unknownKey && (r.status == 503 && r.header.Get("Retry-After") != "" || r.status == 401) {
				return
			}
			if r.status != tc.want {
				t.Fatalf("mint = %d %s; want %d", r.status, r.raw, tc.want)
			}
			if tc.want == 401 && r.errCode() != "unauthenticated" {
				t.Errorf("code = %q; want unauthenticated", r.errCode())
			}
		})
	}
	t.Run("a Google caller listed as a user still mints", func(t *testing.T) {
		e.t = t
		e.expect(mint(e.google(user)), http.StatusOK, "")
	})
}

// TestAuthorizationMatrixFederated repeats the authorization matrix with federated callers:
// a connector owned by a ci principal, used by a glob of ci subjects, administered by a glob
// admin; the same subject from an unmatched repository sees nothing.
func TestAuthorizationMatrixFederated(t *testing.T) {
	e := newFedEnv(t)
	const fedOwner = "ci:repo:acme/infra:ref:refs/heads/main"
	tokens := map[string]func() string{
		"none":         func() string { return "" },
		"fed-expired":  func() string { return e.ci("ci", "acme/infra", "refs/heads/main", "expired", nil) },
		"fed-other":    func() string { return e.ci("ci", "acme/elsewhere", "refs/heads/main", "", nil) },
		"fed-user":     func() string { return e.ci("ci", "acme/pipelines", "refs/heads/feature", "", nil) },
		"google-user":  func() string { return e.google(user) },
		"fed-owner":    func() string { return e.ci("ci", "acme/infra", "refs/heads/main", "", nil) },
		"fed-admin":    func() string { return e.ci("ci", "acme/ops", "refs/heads/main", "", nil) },
		"google-admin": func() string { return e.google(admin) },
	}
	callers := []string{"none", "fed-expired", "fed-other", "fed-user", "google-user", "fed-owner", "fed-admin", "google-admin"}
	body := func(name string) map[string]any {
		return map[string]any{"name": name, "auth_method": "service-account", "verify": false,
			"configuration": map[string]any{"project_id": "zenml-core", "service_account_json": e.keyJSON("connectors-admin@zenml-core.iam.gserviceaccount.com")},
			"users":         []string{"ci:repo:acme/pipelines:*", user}}
	}
	register := func(name string) {
		r := e.do("POST", "/register", tokens["fed-owner"](), body(name))
		e.expect(r, http.StatusCreated, "")
		if got := r.body["connector"].(map[string]any)["owner"]; got != fedOwner {
			e.t.Fatalf("owner = %v; want %s", got, fedOwner)
		}
	}
	register("alpha")

	for _, fn := range []struct {
		name  string
		setup func(caller string) (method, path string, body any)
		want  []int // per caller, in the order of callers
	}{
		{"register create", func(c string) (string, string, any) { return "POST", "/register", body("new-" + c) },
			[]int{401, 401, 201, 201, 201, 201, 201, 201}},
		{"register update", func(c string) (string, string, any) {
			return "PUT", "/register?connector=alpha", map[string]any{"description": "by " + c}
		}, []int{401, 401, 404, 403, 403, 200, 200, 200}},
		{"register delete", func(c string) (string, string, any) {
			register("del-" + c)
			return "DELETE", "/register?connector=del-" + c, nil
		}, []int{401, 401, 404, 403, 403, 204, 204, 204}},
		{"verify", func(c string) (string, string, any) {
			return "POST", "/verify", map[string]any{"connector": "alpha", "list_resources": false}
		}, []int{401, 401, 404, 200, 200, 200, 200, 200}},
		{"list one", func(c string) (string, string, any) { return "GET", "/list?connector=alpha", nil },
			[]int{401, 401, 404, 200, 200, 200, 200, 200}},
		{"mint-token", func(c string) (string, string, any) {
			return "POST", "/mint-token", map[string]any{"connector": "alpha", "resource_type": "gcp-generic"}
		}, []int{401, 401, 404, 200, 200, 200, 200, 200}},
		{"sweep", func(c string) (string, string, any) { return "POST", "/sweep", nil },
			[]int{401, 401, 403, 403, 403, 403, 200, 200}},
	} {
		for i, caller := range callers {
			t.Run(fn.name+"/"+caller, func(t *testing.T) {
				e.t = t
				method, path, b := fn.setup(caller)
				r := e.do(method, path, tokens[caller](), b)
				if r.status != fn.want[i] {
					t.Errorf("%s %s as %s = %d %s; want %d", method, path, caller, r.status, r.raw, fn.want[i])
				}
			})
		}
	}
	t.Run("list all as another ci subject shows only its own", func(t *testing.T) {
		e.t = t
		r := e.do("GET", "/list", tokens["fed-other"](), nil)
		e.expect(r, http.StatusOK, "")
		if cs, _ := r.body["connectors"].([]any); len(cs) != 1 || cs[0].(map[string]any)["name"] != "new-fed-other" {
			t.Errorf("fed-other lists %v; want only new-fed-other", cs)
		}
	})
	t.Run("users refused at registration", func(t *testing.T) {
		e.t = t
		for users, want := range map[string]string{
			"*":                   "a bare *",
			"github:repo:acme/*":  `names issuer "github", which is not a configured trusted issuer`,
			"nope:repo:x":         `names issuer "nope", which is not a configured trusted issuer`,
			"ci:repo:acme/lib*":   `"ci:repo:acme/lib*": a glob must end at a separator`,
			"ci:repo:acme*":       `"ci:repo:acme*": a glob must end at a separator`,
			"ci:repo:*:ref:main":  "not at the end",
			"ci:repo:acme/x y":    "whitespace",
			"not-an-email-or-sub": "not an email address",
		} {
			b := body("bad")
			b["users"] = []string{user, users}
			r := e.do("POST", "/register", tokens["fed-owner"](), b)
			e.expect(r, http.StatusBadRequest, "invalid_argument")
			msg := r.body["error"].(map[string]any)["message"].(string)
			if r.errField() != "users" || !strings.HasPrefix(msg, "users[1]") || !strings.Contains(msg, want) {
				t.Errorf("register with users %q = %s; want field users, users[1], %q", users, r.raw, want)
			}
		}
	})
}
