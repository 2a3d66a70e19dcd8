package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
	"github.com/gcpconn/gcpconn/functions/client/clienttest"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

const (
	admin = "connectors-admin@zenml-core.iam.gserviceaccount.com"
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// strict sends a raw request and decodes the answer with unknown fields refused, so a field
// the server sends that the client types lack fails the test.
func strict(t *testing.T, s *clienttest.Stack, method, path, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.IDToken(t, alice))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s = %s %s", method, path, resp.Status, b)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(out); err != nil {
		t.Fatalf("%s %s: strict decode into %T: %v\n%s", method, path, out, err, b)
	}
}

func TestRoundTrip(t *testing.T) {
	s := clienttest.Start(t)
	ctx := context.Background()
	c := s.Client(t, alice)
	key, err := s.Fake.KeyJSON(admin)
	if err != nil {
		t.Fatal(err)
	}

	conn, res, err := c.Register(ctx, client.RegisterRequest{
		Name: "gcs", Type: "gcp", AuthMethod: "service-account", ResourceType: "gcs-bucket",
		Configuration: map[string]any{"project_id": "zenml-core", "service_account_json": string(key)},
		Labels:        map[string]string{"team": "ml"}, Users: []string{bob},
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if conn.Name != "gcs" || conn.AuthMethod != "service-account" || conn.Owner != alice ||
		!reflect.DeepEqual(conn.ResourceTypes, []string{"gcs-bucket"}) || !reflect.DeepEqual(conn.Secrets, []string{"service_account_json"}) ||
		conn.Configuration["project_id"] != "zenml-core" || conn.Labels["team"] != "ml" || conn.ID == "" {
		t.Errorf("Register connector = %+v", conn)
	}
	if _, hidden := conn.Configuration["service_account_json"]; hidden {
		t.Errorf("Register returned the secret field in configuration")
	}
	if res == nil || len(res.Resources) != 1 || res.Resources[0].ResourceType != "gcs-bucket" || len(res.Resources[0].ResourceIDs) == 0 || res.HasErrors() {
		t.Errorf("Register resources = %+v; want the project's buckets", res)
	}

	// Every answer decodes strictly into the client's types.
	var types struct {
		ConnectorTypes []client.TypeSpec `json:"connector_types"`
	}
	strict(t, s, "GET", "/list?types=true", "", &types)
	var list struct {
		Connectors    []client.Connector `json:"connectors"`
		NextPageToken string             `json:"next_page_token"`
	}
	strict(t, s, "GET", "/list", "", &list)
	var desc struct {
		Connector client.Connector `json:"connector"`
	}
	strict(t, s, "GET", "/list?connector=gcs", "", &desc)
	var ver client.Resources
	strict(t, s, "POST", "/verify", `{"connector":"gcs"}`, &ver)
	var cred client.Credential
	strict(t, s, "POST", "/mint-token", `{"connector":"gcs","resource_id":"gs://zenml-bucket-sl"}`, &cred)
	if cred.AccessToken == "" || cred.ResourceID != "gs://zenml-bucket-sl" || !cred.Downscoped {
		t.Errorf("mint = %+v", cred)
	}
	if !reflect.DeepEqual(desc.Connector, *conn) {
		t.Errorf("describe = %+v; want %+v", desc.Connector, *conn)
	}

	ts, err := c.Types(ctx)
	if err != nil || len(ts) != 1 || ts[0].ConnectorType != "gcp" || len(ts[0].AuthMethods) != 6 || len(ts[0].ResourceTypes) != 4 {
		t.Errorf("Types = %+v, %v", ts, err)
	}
	got, err := c.ListAll(ctx, client.Filter{Labels: []string{"team=ml"}, PageSize: 1})
	if err != nil || len(got) != 1 || got[0].Name != "gcs" {
		t.Errorf("ListAll = %+v, %v", got, err)
	}
	if got, _, err := c.List(ctx, client.Filter{ResourceType: "kubernetes-cluster"}); err != nil || len(got) != 0 {
		t.Errorf("List(kubernetes-cluster) = %+v, %v; want none", got, err)
	}
	r, err := s.Client(t, bob).Verify(ctx, client.VerifyRequest{Connector: "gcs", ResourceID: "gs://zenml-bucket-sl"})
	if err != nil || r.HasErrors() || len(r.Resources) != 1 || !reflect.DeepEqual(r.Resources[0].ResourceIDs, []string{"gs://zenml-bucket-sl"}) {
		t.Errorf("Verify as user = %+v, %v", r, err)
	}
	// A spec that is not stored yet: every field of RegisterRequest passes the server's strict decoding.
	exp := 900
	spec := &client.RegisterRequest{Name: "draft", Type: "gcp", AuthMethod: "service-account", ResourceTypes: []string{"gcs-bucket"},
		ResourceID: "gs://zenml-bucket-sl", Configuration: map[string]any{"service_account_json": string(key), "generate_temporary_tokens": true},
		Labels: map[string]string{"a": "b"}, Description: "d", ExpirationSeconds: &exp, Users: []string{bob}}
	if r, err := c.Verify(ctx, client.VerifyRequest{Spec: spec}); err != nil || r.HasErrors() || len(r.Resources) != 1 {
		t.Errorf("Verify(spec) = %+v, %v", r, err)
	}
	f := false
	if r, err := c.Verify(ctx, client.VerifyRequest{Connector: "gcs", ListResources: &f}); err != nil || r.HasErrors() {
		t.Errorf("Verify(list_resources=false) = %+v, %v", r, err)
	}
	cr, err := c.Mint(ctx, client.MintRequest{Connector: "gcs", ResourceID: "zenml-bucket-sl", Downscope: &client.Downscope{ReadOnly: true}})
	if err != nil || cr.AccessToken == "" || cr.Lifetime.Applied <= 0 {
		t.Errorf("Mint = %+v, %v", cr, err)
	}
	desc2 := "bucket access"
	up, err := c.Update(ctx, "gcs", client.UpdateRequest{Description: &desc2, Labels: map[string]string{}})
	if err != nil || up.Description != desc2 || len(up.Labels) != 0 {
		t.Errorf("Update = %+v, %v", up, err)
	}
	if err := c.Delete(ctx, "gcs"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Describe(ctx, "gcs"); client.CodeOf(err) != "not_found" || !strings.Contains(err.Error(), "not_found: ") {
		t.Errorf("Describe after delete = %v; want not_found", err)
	}
}

func TestErrors(t *testing.T) {
	s := clienttest.Start(t)
	ctx := context.Background()
	tests := []struct {
		name string
		c    *client.Client
		call func(*client.Client) error
		code string
		http int
	}{
		{"bad token", &client.Client{BaseURL: s.URL, Token: client.StaticToken("not-a-jwt")},
			func(c *client.Client) error { _, err := c.Describe(ctx, "x"); return err }, "unauthenticated", 401},
		{"missing", s.Client(t, alice),
			func(c *client.Client) error { _, err := c.Describe(ctx, "nope"); return err }, "not_found", 404},
		{"invalid", s.Client(t, alice),
			func(c *client.Client) error {
				_, _, err := c.Register(ctx, client.RegisterRequest{Name: "x", AuthMethod: "no-such-method"})
				return err
			}, "invalid_argument", 400},
		{"not json", &client.Client{BaseURL: s.URL + "/nowhere", Token: client.StaticToken(s.IDToken(t, alice))},
			func(c *client.Client) error { _, err := c.Types(ctx); return err }, "not_found", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(tt.c)
			var e *client.Error
			if !asError(err, &e) || e.Code != tt.code || e.Status != tt.http || e.Message == "" {
				t.Errorf("error = %#v; want code %s status %d", err, tt.code, tt.http)
			}
		})
	}
	if _, err := (&client.Client{Token: client.StaticToken("x")}).Types(ctx); err == nil || !strings.Contains(err.Error(), "GCPCONN_URL") {
		t.Errorf("Types without URL = %v; want a hint at GCPCONN_URL", err)
	}
}

func asError(err error, e **client.Error) bool {
	if x, ok := err.(*client.Error); ok {
		*e = x
		return true
	}
	return false
}

func TestCallerToken(t *testing.T) {
	s := clienttest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	// A caller's own service-account key whose token_uri is the fake's token endpoint.
	key, err := s.Fake.KeyJSON(admin)
	if err != nil {
		t.Fatal(err)
	}
	var k map[string]any
	_ = json.Unmarshal(key, &k)
	k["token_uri"] = s.Fake.BaseURL() + "/token"
	b, _ := json.Marshal(k)
	keyFile := filepath.Join(dir, "key.json")
	os.WriteFile(keyFile, b, 0o600)
	userDir := filepath.Join(dir, "gcloud")
	os.MkdirAll(userDir, 0o700)
	user, _ := s.Fake.KeyJSON("user@zenml.io")
	os.WriteFile(filepath.Join(userDir, "application_default_credentials.json"), user, 0o600)
	host := strings.TrimPrefix(s.Fake.BaseURL(), "http://")
	// An identity source that answers 200 without a token: {} to the dev issuer's POST, an
	// empty body to the metadata server's GET.
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Write([]byte("{}"))
		}
	}))
	t.Cleanup(empty.Close)

	tests := []struct {
		name    string
		id      client.Identity
		email   string // want a working token for this caller
		wantErr string
	}{
		{"dev issuer", client.Identity{DevIssuer: s.Fake.BaseURL(), DevEmail: alice, Audience: clienttest.Audience, Getenv: env(nil)}, alice, ""},
		{"service account key", client.Identity{Audience: clienttest.Audience, Getenv: env(map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": keyFile})}, admin, ""},
		{"metadata server", client.Identity{Audience: clienttest.Audience, Getenv: env(map[string]string{"GCE_METADATA_HOST": host})}, "gcpconn-runtime@zenml-core.iam.gserviceaccount.com", ""},
		{"user account", client.Identity{Audience: clienttest.Audience, Getenv: env(map[string]string{"CLOUDSDK_CONFIG": userDir})}, "", "gcloud auth print-identity-token"},
		{"dev without email", client.Identity{DevIssuer: s.Fake.BaseURL(), Audience: clienttest.Audience, Getenv: env(nil)}, "", "GCPCONN_DEV_EMAIL"},
		{"no audience", client.Identity{Getenv: env(nil)}, "", "audience"},
		{"dev issuer without a token", client.Identity{DevIssuer: empty.URL, DevEmail: alice, Audience: clienttest.Audience, Getenv: env(nil)}, "", "without an ID token"},
		{"metadata server without a token", client.Identity{Audience: clienttest.Audience, Getenv: env(map[string]string{"GCE_METADATA_HOST": strings.TrimPrefix(empty.URL, "http://")})}, "", "without an ID token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := client.CallerToken(tt.id)
			tok, err := ts(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CallerToken() error = %v; want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CallerToken(): %v", err)
			}
			c := &client.Client{BaseURL: s.URL, Token: ts}
			if _, err := c.Types(ctx); err != nil {
				t.Fatalf("Types with the token: %v", err)
			}
			if email := claim(t, tok, "email"); email != tt.email {
				t.Errorf("token email = %q; want %q", email, tt.email)
			}
			if again, _ := ts(ctx); again != tok {
				t.Errorf("second call minted a new token; want the cached one")
			}
		})
	}
}

func claim(t *testing.T, tok, name string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token is not a JWT")
	}
	var m map[string]any
	b, _ := decodeSeg(parts[1])
	_ = json.Unmarshal(b, &m)
	s, _ := m[name].(string)
	return s
}

// unsignedJWT is a token-shaped string with the given exp (the client never verifies tokens;
// it reads exp to know when to fetch another).
func unsignedJWT(sub string, exp time.Time) string {
	b64 := base64.RawURLEncoding.EncodeToString
	return b64([]byte(`{"alg":"RS256"}`)) + "." + b64([]byte(fmt.Sprintf(`{"sub":%q,"exp":%d}`, sub, exp.Unix()))) + ".c2ln"
}

// TestGitHubActionsToken runs CallerToken against a local fake of GitHub Actions' OIDC token
// endpoint: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with "Authorization: bearer
// $ACTIONS_ID_TOKEN_REQUEST_TOKEN", answered with {"value": TOKEN}.
func TestGitHubActionsToken(t *testing.T) {
	const reqToken = "request-token-123"
	var calls atomic.Int64
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		q := r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != "/_apis/token" || q.Get("api-version") != "2.0" {
			http.Error(w, "bad request "+r.URL.String(), http.StatusBadRequest)
			return
		}
		if r.Header.Get("Authorization") != "bearer "+reqToken {
			http.Error(w, `{"message":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": unsignedJWT("repo:acme/pipelines:aud:"+q.Get("audience"), time.Now().Add(5*time.Minute))})
	}))
	t.Cleanup(gh.Close)
	env := func(tok string) func(string) string {
		// No Google credentials: no key file, no ADC, no metadata server.
		m := map[string]string{client.EnvActionsRequestURL: gh.URL + "/_apis/token?api-version=2.0", client.EnvActionsRequestToken: tok,
			"GCE_METADATA_HOST": "127.0.0.1:1", "CLOUDSDK_CONFIG": t.TempDir()}
		return func(k string) string { return m[k] }
	}
	ts := client.CallerToken(client.Identity{Audience: "https://gcpconn.example/x?y", Getenv: env(reqToken)})
	tok, err := ts(context.Background())
	if err != nil {
		t.Fatalf("CallerToken in GitHub Actions: %v", err)
	}
	if sub := claim(t, tok, "sub"); sub != "repo:acme/pipelines:aud:https://gcpconn.example/x?y" {
		t.Errorf("token sub = %q; want the audience passed through intact", sub)
	}
	if again, _ := ts(context.Background()); again != tok || calls.Load() != 1 {
		t.Errorf("second call fetched again (%d calls); want the cached token", calls.Load())
	}
	_, err = client.CallerToken(client.Identity{Audience: "a", Getenv: env("wrong")})(context.Background())
	if err == nil || !strings.Contains(err.Error(), "id-token: write") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("CallerToken with a bad request token = %v; want a hint about id-token: write, without the token", err)
	}
}

// TestIDTokenFile: a projected token file is read when needed and read again once the token
// it held is near expiry (the kubelet has rotated it by then).
func TestIDTokenFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	now := time.Now()
	os.WriteFile(file, []byte(unsignedJWT("first", now.Add(10*time.Minute))+"\n"), 0o600)
	ts := client.CallerToken(client.Identity{IDTokenFile: file, Audience: "a", Now: func() time.Time { return now },
		Getenv: func(string) string { return "" }})
	if tok, err := ts(context.Background()); err != nil || claim(t, tok, "sub") != "first" {
		t.Fatalf("first token = %v", err)
	}
	os.WriteFile(file, []byte(unsignedJWT("second", now.Add(20*time.Minute))), 0o600)
	if tok, _ := ts(context.Background()); claim(t, tok, "sub") != "first" {
		t.Errorf("token re-read while the cached one is fresh")
	}
	now = now.Add(9*time.Minute + 30*time.Second)
	if tok, _ := ts(context.Background()); claim(t, tok, "sub") != "second" {
		t.Errorf("token not re-read near expiry")
	}
	_, err := client.CallerToken(client.Identity{IDTokenFile: file + "-missing", Audience: "a"})(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GCPCONN_ID_TOKEN_FILE") {
		t.Errorf("missing token file = %v", err)
	}
}

// TestGoogleCredentialsBeforeGitHubActions: in a GitHub Actions job with "id-token: write"
// that also has Google credentials (here the metadata server, a loopback fake), the caller is
// its Google identity; GitHub's token is used when asked for (GCPCONN_IDENTITY=github-actions)
// or when there are no Google credentials, and never with GCPCONN_IDENTITY=google.
func TestGoogleCredentialsBeforeGitHubActions(t *testing.T) {
	var ghCalls, mdCalls atomic.Int64
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ghCalls.Add(1)
		json.NewEncoder(w).Encode(map[string]string{"value": unsignedJWT("github", time.Now().Add(5*time.Minute))})
	}))
	t.Cleanup(gh.Close)
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mdCalls.Add(1)
		if r.Header.Get("Metadata-Flavor") != "Google" || r.URL.Path != "/computeMetadata/v1/instance/service-accounts/default/identity" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		io.WriteString(w, unsignedJWT("google", time.Now().Add(time.Hour)))
	}))
	t.Cleanup(md.Close)
	env := func(metadata string) func(string) string {
		m := map[string]string{client.EnvActionsRequestURL: gh.URL + "/token", client.EnvActionsRequestToken: "rt",
			"GCE_METADATA_HOST": metadata, "CLOUDSDK_CONFIG": t.TempDir()}
		return func(k string) string { return m[k] }
	}
	mdHost := strings.TrimPrefix(md.URL, "http://")
	for _, tc := range []struct {
		name, source, metadata string
		want                   string // the token's sub, or "" for an error
		errHas                 string
	}{
		{"Google credentials first", client.SourceAuto, mdHost, "google", ""},
		{"GitHub when asked", client.SourceGitHubActions, mdHost, "github", ""},
		{"GitHub when there are no Google credentials", client.SourceAuto, "127.0.0.1:1", "github", ""},
		{"Google only", client.SourceGoogle, "127.0.0.1:1", "", "metadata server did not answer"},
		{"unknown source", "gitlab", mdHost, "", `GCPCONN_IDENTITY="gitlab" is not google or github-actions`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ghBefore := ghCalls.Load()
			tok, err := client.CallerToken(client.Identity{Audience: "https://gcpconn.example", Source: tc.source, Getenv: env(tc.metadata)})(context.Background())
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) || ghCalls.Load() != ghBefore {
					t.Fatalf("CallerToken = %v (GitHub asked %d times); want an error containing %q, GitHub not asked", err, ghCalls.Load()-ghBefore, tc.errHas)
				}
				return
			}
			if err != nil || claim(t, tok, "sub") != tc.want {
				t.Fatalf("CallerToken = %v; want the %s token", err, tc.want)
			}
		})
	}
	_, err := client.CallerToken(client.Identity{Audience: "a", Source: client.SourceGitHubActions,
		Getenv: func(string) string { return "" }})(context.Background())
	if err == nil || !strings.Contains(err.Error(), "id-token: write") {
		t.Errorf("GCPCONN_IDENTITY=github-actions outside Actions = %v; want a hint about id-token: write", err)
	}
}
