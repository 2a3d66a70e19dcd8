package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2/google"

	"github.com/gcpconn/gcpconn/emulator/identity"
)

func TestMetadataServer(t *testing.T) {
	f := newFake(t)
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(f.URL, "http://"))
	ctx := context.Background()
	c := metadata.NewClient(nil)

	if got, err := c.GetWithContext(ctx, "project/project-id"); err != nil || got != "zenml-core" {
		t.Errorf("project-id = %q, %v; want zenml-core", got, err)
	}
	if got, err := c.NumericProjectIDWithContext(ctx); err != nil || got != "728294510346" {
		t.Errorf("NumericProjectID = %q, %v; want 728294510346", got, err)
	}
	if got, err := c.EmailWithContext(ctx, "default"); err != nil || got != runtimeSA {
		t.Errorf("Email(default) = %q, %v; want %s", got, err, runtimeSA)
	}
	idt, err := c.GetWithContext(ctx, "instance/service-accounts/default/identity?audience=https://gcpconn.example&format=full")
	if err != nil {
		t.Fatalf("identity = %v", err)
	}
	if claims := verifyWithJWKS(t, f.Svc.JWKSURL(), idt); claims["email"] != runtimeSA || claims["aud"] != "https://gcpconn.example" {
		t.Errorf("identity claims = %v; want email %s", claims, runtimeSA)
	}
	if _, err := c.GetWithContext(ctx, "instance/service-accounts/default/identity"); err == nil {
		t.Errorf("identity without audience = nil error; want 400")
	}
	if _, err := c.GetWithContext(ctx, "instance/service-accounts/someone-else@x.iam.gserviceaccount.com/email"); err == nil {
		t.Errorf("email of another account = nil error; want 404")
	}

	// google.ComputeTokenSource is what ADC uses on Cloud Run.
	ts := google.ComputeTokenSource("", identity.CloudPlatform)
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("ComputeTokenSource.Token() = %v", err)
	}
	got, err := f.Tokens.Lookup(tok.AccessToken)
	if err != nil || got.Member != "serviceAccount:"+runtimeSA || !got.HasScope(identity.CloudPlatform) {
		t.Errorf("metadata token = %+v, %v; want the runtime account with cloud-platform", got, err)
	}
	// The metadata server caches: a second fetch returns the same token.
	again, err := google.ComputeTokenSource("", identity.CloudPlatform).Token()
	if err != nil || again.AccessToken != tok.AccessToken {
		t.Errorf("second metadata token differs (%v); want the cached one", err)
	}
	if n := f.Faults.Count("metadata.token"); n != 2 {
		t.Errorf("Count(metadata.token) = %d; want 2", n)
	}
}

func TestMetadataRequiresFlavor(t *testing.T) {
	f := newFake(t)
	resp, err := http.Get(f.URL + "/computeMetadata/v1/instance/service-accounts/default/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET token without Metadata-Flavor = %d; want 403", resp.StatusCode)
	}
	if f.Tokens.Issued() != 0 {
		t.Errorf("Issued() = %d; want 0", f.Tokens.Issued())
	}
}

func TestAdminEndpoints(t *testing.T) {
	f := newFake(t)
	post := func(path, body string) (int, map[string]any) {
		resp, err := http.Post(f.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	get := func(path string) (int, []byte) {
		resp, err := http.Get(f.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	code, m := post("/admin/id-token", `{"email":"alice@example.com","audience":"https://gcpconn.example"}`)
	idt, _ := m["id_token"].(string)
	if code != 200 || idt == "" {
		t.Fatalf("POST /admin/id-token = %d %v", code, m)
	}
	if claims := verifyWithJWKS(t, f.Svc.JWKSURL(), idt); claims["email"] != "alice@example.com" || claims["email_verified"] != true {
		t.Errorf("id token claims = %v; want alice@example.com, verified", claims)
	}
	if code, _ := post("/admin/id-token", `{"email":"alice@example.com"}`); code != 400 {
		t.Errorf("POST /admin/id-token without audience = %d; want 400", code)
	}
	code, m = post("/admin/oidc-token", `{"subject":"ci-pipeline","audience":"`+poolAud+`"}`)
	if code != 200 || m["token"] == nil {
		t.Errorf("POST /admin/oidc-token = %d %v; want a token", code, m)
	}
	code, m = post("/admin/access-token", `{"email":"`+bucketSA+`","lifetime_seconds":600}`)
	at, _ := m["access_token"].(string)
	if tok, err := f.Tokens.Lookup(at); code != 200 || err != nil || tok.Email != bucketSA || m["expires_in"] != float64(600) {
		t.Errorf("POST /admin/access-token = %d %v (%v); want a 600 s token for %s", code, m, err, bucketSA)
	}

	code, world := get("/admin/world")
	if code != 200 || !bytes.Contains(world, []byte("zenml-bucket-sl")) || bytes.Contains(world, []byte("PRIVATE KEY")) || bytes.Contains(world, []byte("fake-refresh-token")) || bytes.Contains(world, []byte("fake-client-secret")) {
		t.Errorf("GET /admin/world = %d; want the world without keys, refresh tokens or client secrets:\n%s", code, world)
	}
	code, key := get("/admin/keys/" + bucketSA)
	if code != 200 || !bytes.Contains(key, []byte("PRIVATE KEY")) || !bytes.Contains(key, []byte(`"https://oauth2.googleapis.com/token"`)) {
		t.Errorf("GET /admin/keys = %d %s; want a service_account key with Google's token_uri", code, key)
	}
	if code, _ := get("/admin/keys/nobody@example.com"); code != 404 {
		t.Errorf("GET /admin/keys/unknown = %d; want 404", code)
	}

	// Fault control over HTTP.
	if code, _ := post("/admin/faults", `{"endpoint":"oauth2.token","status":503,"times":1}`); code != 200 {
		t.Fatalf("POST /admin/faults = %d", code)
	}
	creds, err := google.CredentialsFromJSONWithType(context.Background(), f.keyJSON(t, bucketSA), google.ServiceAccount, identity.CloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := creds.TokenSource.Token(); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Token() under a 503 fault = %v; want a 503 error", err)
	}
	if _, err := creds.TokenSource.Token(); err != nil {
		t.Errorf("Token() after the one-shot fault = %v; want success", err)
	}
	_, counts := get("/admin/counts")
	var cm map[string]int64
	_ = json.Unmarshal(counts, &cm)
	if cm["oauth2.token"] != 2 {
		t.Errorf("GET /admin/counts = %s; want oauth2.token 2", counts)
	}
	if code, _ := post("/admin/faults", `{"endpoint":"oauth2.token","status":200}`); code != 400 {
		t.Errorf("POST /admin/faults status 200 = %d; want 400", code)
	}
	if code, _ := post("/admin/reset", ``); code != 200 {
		t.Errorf("POST /admin/reset = %d", code)
	}
	_, counts = get("/admin/counts")
	if strings.TrimSpace(string(counts)) != "{}" {
		t.Errorf("counts after reset = %s; want {}", counts)
	}
}
