package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/gcpconn/gcpconn/emulator/identity"
	"github.com/gcpconn/gcpconn/emulator/world"
)

func TestServiceAccountKey(t *testing.T) {
	f := newFake(t)
	creds, err := google.CredentialsFromJSONWithType(context.Background(), f.keyJSON(t, bucketSA), google.ServiceAccount, identity.CloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatalf("Token() = %v; want a token from the fake", err)
	}
	got, err := f.Tokens.Lookup(tok.AccessToken)
	if err != nil {
		t.Fatalf("Lookup(issued token) = %v", err)
	}
	if got.Member != "serviceAccount:"+bucketSA || !got.HasScope(identity.CloudPlatform) {
		t.Errorf("token = %+v; want member serviceAccount:%s with cloud-platform", got, bucketSA)
	}
	if d := time.Until(tok.Expiry); d < 50*time.Minute || d > time.Hour+time.Minute {
		t.Errorf("token expires in %v; want about 1h", d)
	}
	if n := f.Faults.Count("oauth2.token"); n != 1 {
		t.Errorf("Count(oauth2.token) = %d; want 1", n)
	}
}

func TestJWTConfigWithTokenURL(t *testing.T) {
	f := newFake(t)
	conf, err := google.JWTConfigFromJSON(f.keyJSON(t, adminSA), identity.CloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	// The production shape: keep Google's token_uri in the file, override the endpoint.
	conf.TokenURL = f.URL + "/token"
	conf.Audience = "" // aud defaults to TokenURL
	tok, err := conf.TokenSource(context.Background()).Token()
	if err != nil {
		t.Fatalf("Token() = %v", err)
	}
	if got, _ := f.Tokens.Lookup(tok.AccessToken); got.Email != adminSA {
		t.Errorf("token email = %q; want %q", got.Email, adminSA)
	}
	// Google's own token URL as aud is accepted too (what a file-driven client sends).
	conf2 := *conf
	conf2.Audience = identity.GoogleTokenURL
	if _, err := conf2.TokenSource(context.Background()).Token(); err != nil {
		t.Errorf("Token() with aud=%s = %v; want success", identity.GoogleTokenURL, err)
	}
}

func TestJWTBearerRejects(t *testing.T) {
	f := newFake(t)
	key, err := f.World.Key(bucketSA)
	if err != nil {
		t.Fatal(err)
	}
	disabledKey, _ := f.World.Key("disabled-sa@zenml-core.iam.gserviceaccount.com")
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": bucketSA, "aud": f.URL + "/token", "iat": now, "exp": now + 3600, "scope": identity.CloudPlatform}
		if mod != nil {
			mod(c)
		}
		return c
	}
	tests := []struct {
		name      string
		assertion string
		wantCode  int
		wantErr   string
		wantDesc  string
	}{
		{"bad signature", signAssertion(t, otherKey, key.ID, claims(nil)), 400, "invalid_grant", "Invalid JWT Signature."},
		{"wrong kid", signAssertion(t, key.Private, "not-the-key", claims(nil)), 400, "invalid_grant", "Invalid JWT Signature."},
		{"wrong aud", signAssertion(t, key.Private, key.ID, claims(func(c map[string]any) { c["aud"] = "https://evil.example/token" })), 400, "invalid_grant", "Failed audience check"},
		{"expired", signAssertion(t, key.Private, key.ID, claims(func(c map[string]any) { c["iat"], c["exp"] = now-7200, now-3600 })), 400, "invalid_grant", "short-lived token"},
		{"too long", signAssertion(t, key.Private, key.ID, claims(func(c map[string]any) { c["exp"] = now + 7200 })), 400, "invalid_grant", "short-lived token"},
		{"issued in the future", signAssertion(t, key.Private, key.ID, claims(func(c map[string]any) { c["iat"], c["exp"] = now+3600, now+4000 })), 400, "invalid_grant", "short-lived token"},
		{"unknown account", signAssertion(t, key.Private, key.ID, claims(func(c map[string]any) { c["iss"] = "ghost@zenml-core.iam.gserviceaccount.com" })), 400, "invalid_grant", "account not found"},
		{"disabled account", signAssertion(t, disabledKey.Private, disabledKey.ID, claims(func(c map[string]any) { c["iss"] = "disabled-sa@zenml-core.iam.gserviceaccount.com" })), 400, "invalid_grant", "disabled"},
		{"no scope", signAssertion(t, key.Private, key.ID, claims(func(c map[string]any) { delete(c, "scope") })), 400, "invalid_scope", "Invalid OAuth scope"},
		{"domain-wide delegation", signAssertion(t, key.Private, key.ID, claims(func(c map[string]any) { c["sub"] = "user@zenml.io" })), 401, "unauthorized_client", "unauthorized"},
		{"not a JWT", "garbage", 400, "invalid_grant", "well-formed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.postForm(t, "/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {tt.assertion}})
			desc, _ := body["error_description"].(string)
			if code != tt.wantCode || body["error"] != tt.wantErr || !strings.Contains(desc, tt.wantDesc) {
				t.Errorf("POST /token = %d %v; want %d %s (%q)", code, body, tt.wantCode, tt.wantErr, tt.wantDesc)
			}
		})
	}
	if n := f.Tokens.Issued(); n != 0 {
		t.Errorf("Issued() = %d after only bad assertions; want 0", n)
	}
}

func TestJWTBearerIDToken(t *testing.T) {
	f := newFake(t)
	key, _ := f.World.Key(bucketSA)
	now := time.Now().Unix()
	a := signAssertion(t, key.Private, key.ID, map[string]any{"iss": bucketSA, "aud": identity.GoogleTokenURL, "iat": now, "exp": now + 600, "target_audience": "https://gcpconn.example"})
	code, body := f.postForm(t, "/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}})
	idt, _ := body["id_token"].(string)
	if code != 200 || idt == "" {
		t.Fatalf("POST /token with target_audience = %d %v; want an id_token", code, body)
	}
	claims := verifyWithJWKS(t, f.Svc.JWKSURL(), idt)
	if claims["aud"] != "https://gcpconn.example" || claims["email"] != bucketSA || claims["iss"] != f.Svc.Issuer() {
		t.Errorf("id token claims = %v; want aud https://gcpconn.example, email %s, iss %s", claims, bucketSA, f.Svc.Issuer())
	}
}

func TestAuthorizedUser(t *testing.T) {
	f := newFake(t)
	good := f.keyJSON(t, "user@zenml.io")
	creds, err := google.CredentialsFromJSONWithType(context.Background(), good, google.AuthorizedUser, identity.CloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatalf("Token() = %v", err)
	}
	if got, _ := f.Tokens.Lookup(tok.AccessToken); got.Member != "user:user@zenml.io" {
		t.Errorf("token member = %q; want user:user@zenml.io", got.Member)
	}

	tests := []struct {
		name, field, value, want string
	}{
		{"wrong secret", "client_secret", "nope", "invalid_client"},
		{"unknown client", "client_id", "nope.apps.googleusercontent.com", "invalid_client"},
		{"revoked refresh token", "refresh_token", "1//revoked", "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(string(good), `"`+tt.field+`":"`, `"`+tt.field+`":"`+tt.value+`","x_old_`+tt.field+`":"`, 1)
			creds, err := google.CredentialsFromJSONWithType(context.Background(), []byte(bad), google.AuthorizedUser, identity.CloudPlatform)
			if err != nil {
				t.Fatal(err)
			}
			_, err = creds.TokenSource.Token()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Token() = %v; want an error mentioning %s", err, tt.want)
			}
		})
	}
}

func TestRefreshScopes(t *testing.T) {
	f := newFake(t)
	u, _ := f.World.FindUser("viewer@zenml.io")
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {u.ClientID}, "client_secret": {u.ClientSecret}, "refresh_token": {u.RefreshToken}}
	form.Set("scope", "openid "+identity.CloudPlatform)
	code, body := f.postForm(t, "/token", form)
	if code != 200 || body["id_token"] == nil || body["scope"] != "openid "+identity.CloudPlatform {
		t.Errorf("refresh with openid = %d %v; want 200 with an id_token and the requested scope", code, body)
	}
	form.Set("scope", "https://www.googleapis.com/auth/gmail.readonly")
	if code, body := f.postForm(t, "/token", form); code != 400 || body["error"] != "invalid_scope" {
		t.Errorf("refresh with an ungranted scope = %d %v; want 400 invalid_scope", code, body)
	}
	if code, body := f.postForm(t, "/token", url.Values{"grant_type": {"password"}}); code != 400 || body["error"] != "unsupported_grant_type" {
		t.Errorf("grant_type=password = %d %v; want 400 unsupported_grant_type", code, body)
	}
}

func TestRefreshWithBasicClientAuth(t *testing.T) {
	f := newFake(t)
	u, _ := f.World.FindUser("user@zenml.io")
	conf := &oauth2.Config{ClientID: u.ClientID, ClientSecret: u.ClientSecret, Endpoint: oauth2.Endpoint{TokenURL: f.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: u.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh with Basic client auth = %v", err)
	}
	if got, _ := f.Tokens.Lookup(tok.AccessToken); got.Email != "user@zenml.io" {
		t.Errorf("token email = %q; want user@zenml.io", got.Email)
	}
}

// TestTokensRecordTheirKey: an access token minted by a JWT-bearer grant records the key that
// signed the assertion (with the assertion's kid or without one), a down-scoped token keeps it,
// and a deleted key mints nothing.
func TestTokensRecordTheirKey(t *testing.T) {
	f := newFake(t)
	first, err := f.World.Key(bucketSA)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.World.CreateKey(bucketSA)
	if err != nil {
		t.Fatal(err)
	}
	now := f.Clock.Now().Unix()
	claims := map[string]any{"iss": bucketSA, "aud": f.URL + "/token", "iat": now, "exp": now + 3600, "scope": identity.CloudPlatform}
	mint := func(key *rsa.PrivateKey, kid string) (int, string) {
		t.Helper()
		code, body := f.postForm(t, "/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {signAssertion(t, key, kid, claims)}})
		if code != 200 {
			return code, ""
		}
		got, err := f.Tokens.Lookup(body["access_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return code, got.KeyID
	}
	for _, tt := range []struct {
		name string
		key  *world.Key
		kid  string
	}{{"first key", first, first.ID}, {"created key", second, second.ID}, {"created key, no kid", second, ""}} {
		if code, got := mint(tt.key.Private, tt.kid); code != 200 || got != tt.key.ID {
			t.Errorf("%s: POST /token = %d, KeyID %q; want 200 from key %s", tt.name, code, got, tt.key.ID)
		}
	}
	// A down-scoped token derived from a key's token keeps the key.
	_, body := f.postForm(t, "/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {signAssertion(t, second.Private, second.ID, claims)}})
	code, ds := f.postForm(t, "/v1/token", url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:access_token"},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"subject_token":        {body["access_token"].(string)},
		"options":              {`{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`},
	})
	if got, _ := f.Tokens.Lookup(fmt.Sprint(ds["access_token"])); code != 200 || got.Boundary == nil || got.KeyID != second.ID {
		t.Errorf("down-scoped token = %d %+v; want a boundary and KeyID %s", code, got, second.ID)
	}
	// A deleted key stops minting, with or without its kid; the other key still mints.
	f.World.DeleteKey(bucketSA, second.ID)
	for _, kid := range []string{second.ID, ""} {
		if code, _ := mint(second.Private, kid); code != 400 {
			t.Errorf("deleted key (kid %q): POST /token = %d; want 400 invalid_grant", kid, code)
		}
	}
	if code, got := mint(first.Private, first.ID); code != 200 || got != first.ID {
		t.Errorf("first key after the delete: %d, KeyID %q; want 200 from %s", code, got, first.ID)
	}
}
