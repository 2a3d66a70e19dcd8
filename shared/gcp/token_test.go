package gcp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

func TestTokenPerAuthMethod(t *testing.T) {
	google := newGoogle()
	ci := "principal://iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/subject/ci-pipeline"
	tests := []struct {
		name       string
		g          connector.Grant
		req        connector.TokenRequest
		wantMember string
		wantIssuer string
	}{
		{"service-account", grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{}),
			connector.TokenRequest{Lifetime: time.Hour}, "serviceAccount:" + adminSA, "oauth2.token"},
		{"service-account under an hour impersonates itself",
			grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{}),
			connector.TokenRequest{Lifetime: 15 * time.Minute}, "serviceAccount:" + adminSA, "iamcredentials.generateAccessToken"},
		{"user-account", grant(configschema.UserAccount, connector.Secrets{UserAccountJSON: keyJSON(t, userAccount)}, connector.Config{}),
			connector.TokenRequest{}, "user:" + userAccount, "oauth2.token"},
		{"external-account", grant(configschema.ExternalAccount, connector.Secrets{ExternalAccountJSON: externalJSON("")}, connector.Config{}),
			connector.TokenRequest{SubjectToken: subjectToken(t, "ci-pipeline")}, ci, "sts.token"},
		{"external-account impersonating", grant(configschema.ExternalAccount, connector.Secrets{ExternalAccountJSON: externalJSON(wifSA)}, connector.Config{}),
			connector.TokenRequest{SubjectToken: subjectToken(t, "ci-pipeline"), Lifetime: time.Hour}, "serviceAccount:" + wifSA, "iamcredentials.generateAccessToken"},
		{"impersonation from a key", grant(configschema.Impersonation, connector.Secrets{ServiceAccountJSON: keyJSON(t, emptySA)},
			connector.Config{TargetPrincipal: bucketSA}), connector.TokenRequest{Lifetime: 20 * time.Minute}, "serviceAccount:" + bucketSA, "iamcredentials.generateAccessToken"},
		{"keyless impersonation", grant(configschema.Impersonation, connector.Secrets{}, connector.Config{TargetPrincipal: bucketSA}),
			connector.TokenRequest{Lifetime: time.Hour}, "serviceAccount:" + bucketSA, "iamcredentials.generateAccessToken"},
		{"implicit", grant(configschema.Implicit, connector.Secrets{}, connector.Config{}),
			connector.TokenRequest{}, "serviceAccount:" + runtimeSA, "metadata.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.Scopes == nil {
				tt.req.Scopes = []string{resourcetype.ScopeCloudPlatform, resourcetype.ScopeUserinfoEmail}
			}
			tok, err := google.Token(context.Background(), tt.g, tt.req)
			if err != nil {
				t.Fatalf("Token = %v", err)
			}
			got, err := fake.Tokens().Lookup(tok.Value)
			if err != nil {
				t.Fatalf("the fake does not know the minted token: %v", err)
			}
			if got.Member != tt.wantMember || got.IssuedBy != tt.wantIssuer {
				t.Errorf("token of %s, issued by %s; want %s by %s", got.Member, got.IssuedBy, tt.wantMember, tt.wantIssuer)
			}
			if !got.HasScope(resourcetype.ScopeCloudPlatform) {
				t.Errorf("scopes = %v; want cloud-platform", got.Scopes)
			}
			if tt.req.Lifetime > 0 && tt.req.Lifetime < time.Hour {
				if left := time.Until(tok.Expiry); left > tt.req.Lifetime+time.Minute || left < tt.req.Lifetime-time.Minute {
					t.Errorf("token lives %s; want about %s", left, tt.req.Lifetime)
				}
			}
			if !tok.Expiry.Equal(got.Expiry.Truncate(time.Second)) && tok.Expiry.Sub(got.Expiry).Abs() > 2*time.Second {
				t.Errorf("expiry = %v; the fake says %v", tok.Expiry, got.Expiry)
			}
		})
	}
}

func TestTokenOAuth2TokenIsHandedOutAsStored(t *testing.T) {
	google := newGoogle()
	exp := time.Now().Add(30 * time.Minute)
	g := grant(configschema.OAuth2Token, connector.Secrets{Token: "ya29.stored"}, connector.Config{})
	g.Connector.ExpiresAt = exp
	tok, err := google.Token(context.Background(), g, connector.TokenRequest{})
	if err != nil || tok.Value != "ya29.stored" || !tok.Expiry.Equal(exp) {
		t.Errorf("Token = %q, %v, %v; want the stored token until %v", tok.Value, tok.Expiry, err, exp)
	}
}

func TestTokenDownscoped(t *testing.T) {
	google := newGoogle()
	g := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})
	tok, err := google.Token(context.Background(), g, connector.TokenRequest{Lifetime: time.Hour,
		Boundary: &connector.Boundary{Bucket: "zenml-internal-artifact-store", Prefix: "customer-a/", ReadOnly: true}})
	if err != nil {
		t.Fatalf("Token = %v", err)
	}
	got, err := fake.Tokens().Lookup(tok.Value)
	if err != nil {
		t.Fatal(err)
	}
	if got.Boundary == nil || len(got.Boundary.Rules) != 1 {
		t.Fatalf("boundary = %+v; want one rule", got.Boundary)
	}
	r := got.Boundary.Rules[0]
	if r.Resource != "//storage.googleapis.com/projects/_/buckets/zenml-internal-artifact-store" ||
		!slices.Equal(r.Permissions, []string{"inRole:roles/storage.objectViewer"}) ||
		!strings.Contains(r.Condition, "objects/customer-a/") {
		t.Errorf("rule = %+v; want the bucket, objectViewer and the prefix condition", r)
	}
	if got.IssuedBy != "sts.token" {
		t.Errorf("issued by %s; want sts.token", got.IssuedBy)
	}
}

func TestTokenErrors(t *testing.T) {
	google := newGoogle()
	tests := []struct {
		name    string
		g       connector.Grant
		req     connector.TokenRequest
		want    connector.Kind
		wantMsg string
	}{
		{"impersonation without token creator", grant(configschema.Impersonation, connector.Secrets{ServiceAccountJSON: keyJSON(t, emptySA)},
			connector.Config{TargetPrincipal: adminSA}), connector.TokenRequest{}, connector.ErrUpstreamDenied, "iam.serviceAccounts.getAccessToken"},
		{"disabled service account", grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, disabledSA)}, connector.Config{}),
			connector.TokenRequest{}, connector.ErrUpstreamDenied, ""},
		{"external-account without subject token", grant(configschema.ExternalAccount, connector.Secrets{ExternalAccountJSON: externalJSON("")}, connector.Config{}),
			connector.TokenRequest{}, connector.ErrInvalid, "subject token"},
		{"external-account with a forged subject token", grant(configschema.ExternalAccount, connector.Secrets{ExternalAccountJSON: externalJSON("")}, connector.Config{}),
			connector.TokenRequest{SubjectToken: "eyJhbGciOiJub25lIn0.e30."}, connector.ErrUpstreamDenied, "subject token"},
		{"key JSON of the wrong type", grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, userAccount)}, connector.Config{}),
			connector.TokenRequest{}, connector.ErrInvalid, "authorized_user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := google.Token(context.Background(), tt.g, tt.req)
			if got := connector.KindOf(err); got != tt.want {
				t.Fatalf("Token kind = %q (%v); want %q", got, err, tt.want)
			}
			if msg := connector.MessageOf(err); !strings.Contains(msg, tt.wantMsg) || strings.Contains(msg, "PRIVATE KEY") {
				t.Errorf("message = %q; want it to contain %q and no secret", msg, tt.wantMsg)
			}
		})
	}
}

func TestTokenRetriesAndThrottling(t *testing.T) {
	google := newGoogle()
	f := fake.Faults()
	t.Cleanup(f.Reset)
	g := grant(configschema.ServiceAccount, connector.Secrets{ServiceAccountJSON: keyJSON(t, adminSA)}, connector.Config{})

	f.Reset()
	f.Set("oauth2.token", faults.Fault{Status: 503, Times: 1})
	if _, err := google.Token(context.Background(), g, connector.TokenRequest{}); err != nil {
		t.Fatalf("Token after one 503 = %v; want a retried success", err)
	}
	if got := f.Count("oauth2.token"); got != 2 {
		t.Errorf("token endpoint calls = %d; want 2 (one 503, one retry)", got)
	}

	f.Reset()
	f.Set("oauth2.token", faults.Fault{Status: 429})
	_, err := google.Token(context.Background(), g, connector.TokenRequest{})
	if got := connector.KindOf(err); got != connector.ErrUpstreamUnavailable {
		t.Fatalf("Token under 429 kind = %q (%v); want upstream_unavailable", got, err)
	}
	if got := f.Count("oauth2.token"); got != 1 {
		t.Errorf("token endpoint calls under 429 = %d; want 1 (no retry)", got)
	}
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.RetryAfter <= 0 {
		t.Errorf("429 error = %#v; want a Retry-After hint", err)
	}

	f.Reset()
	f.Set("oauth2.token", faults.Fault{Status: 503})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = google.Token(ctx, g, connector.TokenRequest{})
	if got := connector.KindOf(err); got != connector.ErrUpstreamUnavailable {
		t.Fatalf("Token under constant 503 kind = %q (%v); want upstream_unavailable", got, err)
	}
	if got := f.Count("oauth2.token"); got != 3 {
		t.Errorf("token endpoint calls under constant 503 = %d; want 3 (bounded retries)", got)
	}
}

func TestTokenRejectsBadImpersonationURL(t *testing.T) {
	google := newGoogle()
	for _, u := range []string{"%zz://bad", "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/", "https://example.com/"} {
		js := `{"type":"external_account","audience":"` + poolAud + `","subject_token_type":"urn:ietf:params:oauth:token-type:jwt",` +
			`"service_account_impersonation_url":"` + u + `"}`
		g := grant(configschema.ExternalAccount, connector.Secrets{ExternalAccountJSON: js}, connector.Config{})
		_, err := google.Token(context.Background(), g, connector.TokenRequest{SubjectToken: "x"})
		if connector.KindOf(err) != connector.ErrInvalid {
			t.Errorf("Token with impersonation URL %q = %v; want invalid_argument", u, err)
		}
	}
}
