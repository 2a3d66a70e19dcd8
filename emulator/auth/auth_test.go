package auth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

const (
	cloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	bucketSA      = "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	emptySA       = "empty-connectors@zenml-core.iam.gserviceaccount.com"
)

func TestCheck(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	g := &auth.Guard{World: world.Demo(), Tokens: tokens.NewRegistry(clock)}
	issue := func(email string, exp time.Duration, b *tokens.Boundary, scopes ...string) string {
		if len(scopes) == 0 {
			scopes = []string{cloudPlatform}
		}
		return g.Tokens.Issue(tokens.Token{Member: "serviceAccount:" + email, Email: email, Scopes: scopes, Expiry: now.Add(exp), Boundary: b})
	}
	bucketTok := issue(bucketSA, time.Hour, nil)
	expired := issue(bucketSA, -time.Second, nil)
	readOnly := issue(bucketSA, time.Hour, nil, "https://www.googleapis.com/auth/devstorage.read_only")
	prefixed := issue(bucketSA, time.Hour, &tokens.Boundary{Rules: []tokens.Rule{{
		Resource:    "//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl",
		Permissions: []string{"inRole:roles/storage.objectViewer"},
		Condition:   "resource.name.startsWith('projects/_/buckets/zenml-bucket-sl/objects/data/') || api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('data/')",
	}}})
	tests := []struct {
		name       string
		header     string
		url        string
		permission string
		resource   string
		wantCode   int
		wantMsg    string
	}{
		{"allowed", "Bearer " + bucketTok, "/", "storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/data/train.csv", 0, ""},
		{"lowercase scheme", "bearer " + bucketTok, "/", "storage.objects.list", "projects/_/buckets/zenml-bucket-sl", 0, ""},
		{"missing header", "", "/", "storage.objects.get", "projects/_/buckets/zenml-bucket-sl", 401, auth.MsgMissingCredentials},
		{"basic scheme", "Basic Zm9vOmJhcg==", "/", "storage.objects.get", "projects/_/buckets/zenml-bucket-sl", 401, auth.MsgMissingCredentials},
		{"unknown token", "Bearer ya29.fake.nope", "/", "storage.objects.get", "projects/_/buckets/zenml-bucket-sl", 401, auth.MsgInvalidCredentials},
		{"expired token", "Bearer " + expired, "/", "storage.objects.get", "projects/_/buckets/zenml-bucket-sl", 401, auth.MsgInvalidCredentials},
		{"storage bucket denied", "Bearer " + bucketTok, "/", "storage.buckets.get", "projects/_/buckets/zenml-bucket-sl", 403,
			bucketSA + " does not have storage.buckets.get access to the Google Cloud Storage bucket. Permission 'storage.buckets.get' denied on resource (or it may not exist)."},
		{"storage object denied", "Bearer " + bucketTok, "/", "storage.objects.get", "projects/_/buckets/zenml-internal-artifact-store/objects/x", 403,
			bucketSA + " does not have storage.objects.get access to the Google Cloud Storage object. Permission 'storage.objects.get' denied on resource (or it may not exist)."},
		{"other service denied", "Bearer " + bucketTok, "/", "container.clusters.list", "projects/zenml-core", 403,
			"Permission 'container.clusters.list' denied on resource 'projects/zenml-core' (or it may not exist)."},
		{"read-only scope reads", "Bearer " + readOnly, "/", "storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/a", 0, ""},
		{"read-only scope cannot write", "Bearer " + readOnly, "/", "storage.objects.create", "projects/_/buckets/zenml-bucket-sl/objects/a", 403, auth.MsgInsufficientScopes},
		{"boundary prefix object", "Bearer " + prefixed, "/", "storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/data/train.csv", 0, ""},
		{"boundary outside prefix", "Bearer " + prefixed, "/", "storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/README.txt", 403, ""},
		{"boundary list with prefix", "Bearer " + prefixed, "/storage/v1/b/zenml-bucket-sl/o?prefix=data/", "storage.objects.list", "projects/_/buckets/zenml-bucket-sl", 0, ""},
		{"boundary list without prefix", "Bearer " + prefixed, "/storage/v1/b/zenml-bucket-sl/o", "storage.objects.list", "projects/_/buckets/zenml-bucket-sl", 403, ""},
		{"boundary write outside role", "Bearer " + prefixed, "/", "storage.objects.create", "projects/_/buckets/zenml-bucket-sl/objects/data/x", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.url, nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			_, gerr := g.Check(r, tt.permission, tt.resource)
			code, msg := 0, ""
			if gerr != nil {
				code, msg = gerr.Code, gerr.Message
			}
			if code != tt.wantCode || (tt.wantMsg != "" && msg != tt.wantMsg) {
				t.Errorf("Check(%s, %s) = %d %q; want %d %q", tt.permission, tt.resource, code, msg, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestDeniedWritesGoogleShape(t *testing.T) {
	rec := httptest.NewRecorder()
	googleerr.Write(rec, auth.Denied(tokens.Token{Email: emptySA}, "storage.buckets.list", "projects/zenml-core"))
	var body struct {
		Error struct {
			Code    int
			Message string
			Status  string
			Errors  []struct{ Message, Domain, Reason string }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	e := body.Error
	if rec.Code != 403 || e.Code != 403 || e.Status != "PERMISSION_DENIED" || len(e.Errors) != 1 || e.Errors[0].Reason != "forbidden" || e.Errors[0].Domain != "global" {
		t.Errorf("body = %s; want Google's 403 shape", rec.Body)
	}
	if want := emptySA + " does not have storage.buckets.list access to the Google Cloud Storage bucket. Permission 'storage.buckets.list' denied on resource (or it may not exist)."; e.Message != want {
		t.Errorf("message = %q; want %q", e.Message, want)
	}
}

// BenchmarkCheck measures one authenticated, authorised request check against the demo
// world (token lookup, scope, IAM walk up to the project).
func BenchmarkCheck(b *testing.B) {
	g := &auth.Guard{World: world.Demo(), Tokens: tokens.NewRegistry(nil)}
	tok := g.Tokens.Issue(tokens.Token{Member: "serviceAccount:" + bucketSA, Email: bucketSA, Scopes: []string{cloudPlatform}, Expiry: time.Now().Add(time.Hour)})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, gerr := g.Check(r, "storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/data/train.csv"); gerr != nil {
			b.Fatal(gerr)
		}
	}
}
