package identity_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"golang.org/x/oauth2/google/externalaccount"

	"github.com/gcpconn/gcpconn/emulator/identity"
	"github.com/gcpconn/gcpconn/emulator/world"
)

func (f *fake) do(t *testing.T, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, f.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAdminChangesTheWorld(t *testing.T) {
	f := newFake(t)
	c := f.iamClient(t, f.token(emptySA))
	req := &credentialspb.GenerateAccessTokenRequest{Name: saName(adminSA), Scope: []string{identity.CloudPlatform}}
	ctx := context.Background()
	if _, err := c.GenerateAccessToken(ctx, req); httpCode(err) != 403 {
		t.Fatalf("before the grant: %v; want 403", err)
	}
	grant := `{"resource":"projects/-/serviceAccounts/` + adminSA + `","role":"roles/iam.serviceAccountTokenCreator","members":["serviceAccount:` + emptySA + `"]}`
	if code := f.do(t, http.MethodPost, "/admin/bindings", grant); code != 200 {
		t.Fatalf("POST /admin/bindings = %d", code)
	}
	if _, err := c.GenerateAccessToken(ctx, req); err != nil {
		t.Errorf("after the grant: %v; want success", err)
	}
	revoke := `{"resource":"projects/zenml-core/serviceAccounts/` + adminSA + `","role":"roles/iam.serviceAccountTokenCreator","member":"serviceAccount:` + emptySA + `"}`
	if code := f.do(t, http.MethodDelete, "/admin/bindings", revoke); code != 200 {
		t.Fatalf("DELETE /admin/bindings = %d", code)
	}
	if code := f.do(t, http.MethodDelete, "/admin/bindings", revoke); code != 404 {
		t.Errorf("DELETE /admin/bindings twice = %d; want 404", code)
	}
	if _, err := c.GenerateAccessToken(ctx, req); httpCode(err) != 403 {
		t.Errorf("after the revoke: %v; want 403", err)
	}
	if code := f.do(t, http.MethodPost, "/admin/bindings", `{"resource":"projects/zenml-core","role":"roles/nope","members":["user:a@b.c"]}`); code != 400 {
		t.Errorf("POST /admin/bindings with an unknown role = %d; want 400", code)
	}

	// Disabling the target account stops impersonation of it.
	bucketReq := &credentialspb.GenerateAccessTokenRequest{Name: saName(bucketSA), Scope: []string{identity.CloudPlatform}}
	if code := f.do(t, http.MethodPost, "/admin/service-accounts/"+bucketSA+"/disable", ""); code != 200 {
		t.Fatalf("disable = %d", code)
	}
	if _, err := c.GenerateAccessToken(ctx, bucketReq); httpCode(err) != 400 || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("impersonating a disabled account = %v; want 400 disabled", err)
	}
	f.do(t, http.MethodPost, "/admin/service-accounts/"+bucketSA+"/enable", "")
	// The numeric unique id names the account too.
	bucketReq.Name = saName(world.UniqueID(bucketSA))
	if _, err := c.GenerateAccessToken(ctx, bucketReq); err != nil {
		t.Errorf("impersonating by unique id after enable = %v; want success", err)
	}
}

func TestIssuerKeyRotation(t *testing.T) {
	f := newFake(t)
	before, err := f.Svc.OIDCToken("ci-pipeline", poolAud, 0)
	if err != nil {
		t.Fatal(err)
	}
	if code := f.do(t, http.MethodPost, "/admin/issuer/rotate", ""); code != 200 {
		t.Fatalf("rotate = %d", code)
	}
	after, _ := f.Svc.OIDCToken("ci-pipeline", poolAud, 0)
	// Both verify against the JWKS (which now has two keys) and at STS.
	verifyWithJWKS(t, f.Svc.JWKSURL(), before)
	verifyWithJWKS(t, f.Svc.JWKSURL(), after)
	for name, subject := range map[string]string{"old key": before, "new key": after} {
		ts, _ := externalaccount.NewTokenSource(context.Background(), externalaccount.Config{
			Audience: poolAud, SubjectTokenType: "urn:ietf:params:oauth:token-type:jwt", TokenURL: f.URL + "/v1/token",
			Scopes: []string{identity.CloudPlatform}, SubjectTokenSupplier: supplier(subject),
		})
		if _, err := ts.Token(); err != nil {
			t.Errorf("STS with a token signed by the %s = %v; want success", name, err)
		}
	}
	// After a second rotation the first key is gone.
	f.do(t, http.MethodPost, "/admin/issuer/rotate", "")
	ts, _ := externalaccount.NewTokenSource(context.Background(), externalaccount.Config{
		Audience: poolAud, SubjectTokenType: "urn:ietf:params:oauth:token-type:jwt", TokenURL: f.URL + "/v1/token",
		Scopes: []string{identity.CloudPlatform}, SubjectTokenSupplier: supplier(before),
	})
	if _, err := ts.Token(); err == nil {
		t.Errorf("STS with a token from a retired key = nil error; want invalid_grant")
	}
}

func TestAdminRevokeTokens(t *testing.T) {
	f := newFake(t)
	tok := f.token(bucketSA)
	if code := f.do(t, http.MethodPost, "/admin/tokens/revoke", `{"tokens":["`+tok+`"]}`); code != 200 {
		t.Fatalf("revoke = %d", code)
	}
	if _, err := f.Tokens.Lookup(tok); err == nil {
		t.Errorf("Lookup(revoked) = nil error; want ErrUnknown")
	}
}
