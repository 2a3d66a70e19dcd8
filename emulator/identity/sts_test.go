package identity_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/google/downscope"
	"golang.org/x/oauth2/google/externalaccount"

	"github.com/gcpconn/gcpconn/emulator/identity"
	"github.com/gcpconn/gcpconn/emulator/tokens"
)

const ciMember = "principal://iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/subject/ci-pipeline"

func TestExternalAccountFile(t *testing.T) {
	f := newFake(t)
	subject, err := f.Svc.OIDCToken("ci-pipeline", poolAud, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "subject.jwt")
	if err := os.WriteFile(path, []byte(subject), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]any{
		"type":               "external_account",
		"audience":           poolAud,
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          f.URL + "/v1/token",
		"credential_source":  map[string]any{"file": path},
	}
	tests := []struct {
		name        string
		impersonate bool
		wantMember  string
	}{
		{"federated", false, ciMember},
		{"impersonated", true, "serviceAccount:" + wifSA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]any{}
			for k, v := range base {
				cfg[k] = v
			}
			if tt.impersonate {
				cfg["service_account_impersonation_url"] = f.URL + "/v1/projects/-/serviceAccounts/" + wifSA + ":generateAccessToken"
			}
			b, _ := json.Marshal(cfg)
			creds, err := google.CredentialsFromJSONWithType(context.Background(), b, google.ExternalAccount, identity.CloudPlatform)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := creds.TokenSource.Token()
			if err != nil {
				t.Fatalf("Token() = %v", err)
			}
			got, err := f.Tokens.Lookup(tok.AccessToken)
			if err != nil || got.Member != tt.wantMember {
				t.Errorf("token = %+v, %v; want member %s", got, err, tt.wantMember)
			}
		})
	}
}

// supplier hands the STS exchange a fixed subject token, the way gcpconn feeds a
// caller-supplied token through externalaccount.SubjectTokenSupplier.
type supplier string

func (s supplier) SubjectToken(context.Context, externalaccount.SupplierOptions) (string, error) {
	return string(s), nil
}

func TestExternalAccountRejects(t *testing.T) {
	f := newFake(t)
	other := newFake(t) // a different issuer: same claims, untrusted key and iss
	good, _ := f.Svc.OIDCToken("ci-pipeline", poolAud, 0)
	wrongAud, _ := f.Svc.OIDCToken("ci-pipeline", "//iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/providers/other", 0)
	foreign, _ := other.Svc.OIDCToken("ci-pipeline", poolAud, 0)
	short, _ := f.Svc.OIDCToken("ci-pipeline", poolAud, time.Minute)
	tests := []struct {
		name, subject, audience, want string
	}{
		{"valid", good, poolAud, ""},
		{"https audience form", mustOIDC(t, f, "https:"+poolAud), poolAud, ""},
		{"wrong audience in token", wrongAud, poolAud, "does not match the expected audience"},
		{"untrusted issuer", foreign, poolAud, "could not be verified"},
		{"tampered", good[:len(good)-4] + "AAAA", poolAud, "could not be verified"},
		{"unknown pool", good, "//iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/nope/providers/ci-oidc", "invalid_target"},
		{"malformed audience", good, "ci-pool", "invalid_request"},
		{"expired", short, poolAud, "expired"},
	}
	f.Clock.Advance(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "expired" {
				f.Clock.Advance(2 * time.Minute)
				defer f.Clock.Advance(-2 * time.Minute)
			}
			ts, err := externalaccount.NewTokenSource(context.Background(), externalaccount.Config{
				Audience:             tt.audience,
				SubjectTokenType:     "urn:ietf:params:oauth:token-type:jwt",
				TokenURL:             f.URL + "/v1/token",
				Scopes:               []string{identity.CloudPlatform},
				SubjectTokenSupplier: supplier(tt.subject),
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ts.Token()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Token() = %v; want success", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Token() = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func mustOIDC(t *testing.T, f *fake, aud string) string {
	t.Helper()
	tok, err := f.Svc.OIDCToken("ci-pipeline", aud, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestDownscope(t *testing.T) {
	f := newFake(t)
	ctx := f.rewritingContext(t) // downscope's STS URL is a constant: rewrite the host
	root := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: f.token(bucketSA), Expiry: time.Now().Add(time.Hour)})
	ts, err := downscope.NewTokenSource(ctx, downscope.DownscopingConfig{
		RootSource: root,
		Rules: []downscope.AccessBoundaryRule{{
			AvailableResource:    "//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl",
			AvailablePermissions: []string{"inRole:roles/storage.objectViewer"},
			Condition: &downscope.AvailabilityCondition{
				Expression: "resource.name.startsWith('projects/_/buckets/zenml-bucket-sl/objects/data/') || api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('data/')",
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("downscoped Token() = %v", err)
	}
	got, err := f.Tokens.Lookup(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if got.Member != "serviceAccount:"+bucketSA || got.Boundary == nil || len(got.Boundary.Rules) != 1 {
		t.Fatalf("downscoped token = %+v; want the source's member with a one-rule boundary", got)
	}
	if d := time.Until(tok.Expiry); d > time.Hour || d < 50*time.Minute {
		t.Errorf("downscoped token expires in %v; want the source's remaining ~1h", d)
	}
	checks := []struct {
		permission, resource string
		want                 bool
	}{
		{"storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/data/train.csv", true},
		{"storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/README.txt", false},
		{"storage.objects.create", "projects/_/buckets/zenml-bucket-sl/objects/data/new.csv", false},
		{"storage.objects.get", "projects/_/buckets/zenml-internal-artifact-store/objects/runs/1/model.pkl", false},
		{"iam.serviceAccounts.getAccessToken", "projects/zenml-core/serviceAccounts/" + bucketSA, false},
	}
	for _, c := range checks {
		gerr := f.Guard.Authorize(nil, got, c.permission, c.resource)
		if (gerr == nil) != c.want {
			t.Errorf("Authorize(downscoped, %s, %s) = %v; want allowed=%v", c.permission, c.resource, gerr, c.want)
		}
	}
}

func TestDownscopeUserTokenKeepsSourceExpiry(t *testing.T) {
	f := newFake(t)
	ctx := f.rewritingContext(t)
	src := f.Tokens.Issue(tokens.Token{Member: "user:user@zenml.io", Email: "user@zenml.io", Scopes: []string{identity.CloudPlatform}, Expiry: f.Clock.Now().Add(20 * time.Minute)})
	rootExpiry := time.Now().Add(20 * time.Minute)
	ts, err := downscope.NewTokenSource(ctx, downscope.DownscopingConfig{
		RootSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: src, Expiry: rootExpiry}),
		Rules:      []downscope.AccessBoundaryRule{{AvailableResource: "//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl", AvailablePermissions: []string{"inRole:roles/storage.objectViewer"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Expiry.Equal(rootExpiry) {
		t.Errorf("user-derived downscoped expiry = %v; want the root token's %v (no expires_in for 3LO sources)", tok.Expiry, rootExpiry)
	}
	if got, _ := f.Tokens.Lookup(tok.AccessToken); !got.Expiry.Equal(f.Clock.Now().Add(20 * time.Minute)) {
		t.Errorf("registry expiry = %v; want the source's", got.Expiry)
	}
}

func TestDownscopeRejects(t *testing.T) {
	f := newFake(t)
	src := f.token(bucketSA)
	rule := func(resource, perm, cond string) map[string]any {
		r := map[string]any{"availableResource": resource, "availablePermissions": []string{perm}}
		if cond != "" {
			r["availabilityCondition"] = map[string]string{"expression": cond}
		}
		return r
	}
	opts := func(rules ...map[string]any) string {
		b, _ := json.Marshal(map[string]any{"accessBoundary": map[string]any{"accessBoundaryRules": rules}})
		return string(b)
	}
	okRule := rule("//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl", "inRole:roles/storage.objectViewer", "")
	eleven := make([]map[string]any, 11)
	for i := range eleven {
		eleven[i] = okRule
	}
	downscoped := f.Tokens.Issue(tokens.Token{Member: "serviceAccount:" + bucketSA, Email: bucketSA, Expiry: f.Clock.Now().Add(time.Hour), Boundary: &tokens.Boundary{}})
	tests := []struct {
		name, subject, options, want string
	}{
		{"valid", src, opts(okRule), ""},
		{"no options", src, "", "invalid_request"},
		{"too many rules", src, opts(eleven...), "between 1 and 10"},
		{"not a bucket", src, opts(rule("//container.googleapis.com/projects/zenml-core", "inRole:roles/storage.objectViewer", "")), "only Cloud Storage buckets"},
		{"unknown role", src, opts(rule("//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl", "inRole:roles/storage.nope", "")), "known role"},
		{"raw permission", src, opts(rule("//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl", "storage.objects.get", "")), "inRole"},
		{"bad condition", src, opts(rule("//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl", "inRole:roles/storage.objectViewer", "request.time < timestamp('2030-01-01T00:00:00Z')")), "condition"},
		{"unknown subject token", "ya29.fake.nope", opts(okRule), "invalid_grant"},
		{"already downscoped", downscoped, opts(okRule), "already down-scoped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{
				"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
				"subject_token_type":   {"urn:ietf:params:oauth:token-type:access_token"},
				"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
				"subject_token":        {tt.subject},
				"options":              {tt.options},
			}
			code, body := f.postForm(t, "/v1/token", form)
			e, _ := body["error"].(string)
			d, _ := body["error_description"].(string)
			text := e + " " + d
			if tt.want == "" {
				if code != 200 {
					t.Errorf("STS = %d %v; want 200", code, body)
				}
				return
			}
			if code != 400 || !strings.Contains(text, tt.want) {
				t.Errorf("STS = %d %q; want 400 containing %q", code, text, tt.want)
			}
		})
	}
}

func TestImpersonatedServiceAccountFile(t *testing.T) {
	f := newFake(t)
	var source map[string]any
	if err := json.Unmarshal(f.keyJSON(t, "user@zenml.io"), &source); err != nil {
		t.Fatal(err)
	}
	// gcloud auth application-default login --impersonate-service-account writes this shape.
	b, _ := json.Marshal(map[string]any{
		"type":                              "impersonated_service_account",
		"service_account_impersonation_url": f.URL + "/v1/projects/-/serviceAccounts/" + bucketSA + ":generateAccessToken",
		"delegates":                         []string{},
		"source_credentials":                source,
	})
	creds, err := google.CredentialsFromJSONWithType(context.Background(), b, google.ImpersonatedServiceAccount, identity.CloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	_, err = creds.TokenSource.Token()
	// user@zenml.io owns the project, so it holds getAccessToken on every account there.
	if err != nil {
		t.Fatalf("Token() = %v; want an impersonated token", err)
	}
	if f.Faults.Count("oauth2.token") != 1 || f.Faults.Count("iamcredentials.generateAccessToken") != 1 {
		t.Errorf("counts = %v; want one refresh grant and one generateAccessToken", f.Faults.Counts())
	}
	// viewer@zenml.io does not.
	if err := json.Unmarshal(f.keyJSON(t, "viewer@zenml.io"), &source); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(map[string]any{
		"type":                              "impersonated_service_account",
		"service_account_impersonation_url": f.URL + "/v1/projects/-/serviceAccounts/" + bucketSA + ":generateAccessToken",
		"source_credentials":                source,
	})
	creds, err = google.CredentialsFromJSONWithType(context.Background(), b, google.ImpersonatedServiceAccount, identity.CloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := creds.TokenSource.Token(); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("Token() as a viewer = %v; want a 403", err)
	}
}

func TestWorkloadIdentityAttributes(t *testing.T) {
	f := newFake(t)
	aud := "//iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/providers/github-actions"
	exchange := func(claims map[string]any) (tokens.Token, error) {
		subject, err := f.Svc.OIDCTokenWithClaims("repo:zenml-io/zenml:ref:refs/heads/main", aud, 0, claims)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := externalaccount.NewTokenSource(context.Background(), externalaccount.Config{
			Audience: aud, SubjectTokenType: "urn:ietf:params:oauth:token-type:jwt", TokenURL: f.URL + "/v1/token",
			Scopes: []string{identity.CloudPlatform}, SubjectTokenSupplier: supplier(subject),
		})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ts.Token()
		if err != nil {
			return tokens.Token{}, err
		}
		return f.Tokens.Lookup(tok.AccessToken)
	}
	got, err := exchange(map[string]any{"repository": "zenml-io/zenml", "repository_owner": "zenml-io"})
	if err != nil {
		t.Fatalf("exchange for zenml-io/zenml = %v", err)
	}
	wantGroup := "principalSet://iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/attribute.repository/zenml-io/zenml"
	if got.Member != "principal://iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/subject/repo:zenml-io/zenml:ref:refs/heads/main" ||
		len(got.Groups) != 2 || got.Groups[0] != wantGroup {
		t.Fatalf("federated token = %+v; want the subject member and attribute groups starting with %s", got, wantGroup)
	}
	// The attribute set's binding applies; nothing else does.
	if gerr := f.Guard.Authorize(nil, got, "storage.objects.get", "projects/_/buckets/zenml-kubeflow-artifact-store/objects/pipelines/train.yaml"); gerr != nil {
		t.Errorf("Authorize(repository attribute set) = %v; want allowed", gerr)
	}
	if gerr := f.Guard.Authorize(nil, got, "storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/README.txt"); gerr == nil {
		t.Errorf("Authorize(zenml-bucket-sl) = allowed; want denied")
	}
	other, err := exchange(map[string]any{"repository": "zenml-io/other", "repository_owner": "zenml-io"})
	if err != nil {
		t.Fatal(err)
	}
	if gerr := f.Guard.Authorize(nil, other, "storage.objects.get", "projects/_/buckets/zenml-kubeflow-artifact-store/objects/pipelines/train.yaml"); gerr == nil {
		t.Errorf("Authorize(another repository) = allowed; want denied")
	}
	if _, err := exchange(map[string]any{"repository": "evil/zenml", "repository_owner": "evil"}); err == nil || !strings.Contains(err.Error(), "attribute condition") {
		t.Errorf("exchange for another owner = %v; want rejected by the attribute condition", err)
	}
}
