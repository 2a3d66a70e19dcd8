package world

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

const (
	admin   = "serviceAccount:connectors-admin@zenml-core.iam.gserviceaccount.com"
	empty   = "serviceAccount:empty-connectors@zenml-core.iam.gserviceaccount.com"
	bucket  = "serviceAccount:zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	ci      = "principal://iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/subject/ci-pipeline"
	ciOther = "principal://iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/subject/other"
)

func TestAllowed(t *testing.T) {
	w := Demo()
	tests := []struct {
		member, permission, resource string
		want                         bool
	}{
		{admin, "storage.buckets.list", "projects/zenml-core", true},
		{admin, "storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/data/train.csv", true},
		{admin, "storage.buckets.get", "projects/_/buckets/zenml-sandbox-data", false},
		{admin, "container.clusters.get", "projects/728294510346/locations/us-east1/clusters/zenml-test-cluster", true},
		{empty, "storage.buckets.list", "projects/zenml-core", false},
		{empty, "iam.serviceAccounts.getAccessToken", "projects/-/serviceAccounts/zenml-bucket-sl@zenml-core.iam.gserviceaccount.com", true},
		{empty, "iam.serviceAccounts.getAccessToken", "projects/zenml-core/serviceAccounts/connectors-admin@zenml-core.iam.gserviceaccount.com", false},
		{bucket, "storage.objects.create", "projects/_/buckets/zenml-bucket-sl/objects/x", true},
		{bucket, "storage.objects.list", "//storage.googleapis.com/projects/_/buckets/zenml-bucket-sl", true},
		{bucket, "storage.buckets.get", "projects/_/buckets/zenml-bucket-sl", false},
		{bucket, "storage.objects.get", "projects/_/buckets/zenml-internal-artifact-store/objects/x", false},
		{"user:user@zenml.io", "secretmanager.versions.access", "projects/zenml-core/secrets/s/versions/1", true},
		{"user:viewer@zenml.io", "storage.buckets.list", "projects/zenml-core", true},
		{"user:viewer@zenml.io", "secretmanager.versions.access", "projects/zenml-core/secrets/s/versions/1", false},
		{"serviceAccount:disabled-sa@zenml-core.iam.gserviceaccount.com", "storage.buckets.list", "projects/zenml-core", false},
		{ci, "storage.objects.get", "projects/_/buckets/zenml-internal-artifact-store/objects/runs/1/model.pkl", true},
		{ci, "storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/README.txt", false},
		{ciOther, "iam.serviceAccounts.getAccessToken", "projects/zenml-core/serviceAccounts/wif-target@zenml-core.iam.gserviceaccount.com", true},
		{"user:stranger@example.com", "storage.buckets.list", "projects/zenml-core", false},
	}
	for _, tt := range tests {
		t.Run(tt.member+" "+tt.permission, func(t *testing.T) {
			if got := w.Allowed(tt.member, tt.permission, tt.resource); got != tt.want {
				t.Errorf("Allowed(%q, %q, %q) = %v; want %v", tt.member, tt.permission, tt.resource, got, tt.want)
			}
		})
	}
}

func TestPermissionMatches(t *testing.T) {
	tests := []struct {
		pattern, perm string
		want          bool
	}{
		{"*", "storage.buckets.get", true},
		{"storage.*", "storage.buckets.get", true},
		{"storage.*", "storage", false},
		{"*.*.get", "storage.buckets.get", true},
		{"*.*.get", "iam.serviceAccounts.getAccessToken", false},
		{"storage.objects.get", "storage.objects.get", true},
		{"storage.objects.get", "storage.objects.getIamPolicy", false},
	}
	for _, tt := range tests {
		if got := PermissionMatches(tt.pattern, tt.perm); got != tt.want {
			t.Errorf("PermissionMatches(%q, %q) = %v; want %v", tt.pattern, tt.perm, got, tt.want)
		}
	}
}

func TestParseRejectsBadWorlds(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", "projectz: []", "field projectz not found"},
		{"unknown role", "projects: [{id: p}]\nbindings: [{resource: projects/p, role: roles/nope, members: [user:a@b]}]", "unknown role"},
		{"bad member", "projects: [{id: p}]\nbindings: [{resource: projects/p, role: roles/owner, members: [a@b]}]", "invalid member"},
		{"sa without project", "service_accounts: [{email: a@p.iam.gserviceaccount.com}]", "unknown project"},
		{"runtime not an sa", "projects: [{id: p}]\nruntime_service_account: x@p.iam.gserviceaccount.com", "runtime_service_account"},
		{"user without refresh token", "users: [{email: a@b.c}]", "refresh_token"},
		{"bad attribute mapping", "projects: [{id: p}]\nworkload_pools: [{project: p, pool: a, provider: b, attribute_mapping: {attribute.x: sub}}]", "attribute_mapping"},
		{"bad attribute condition", "projects: [{id: p}]\nworkload_pools: [{project: p, pool: a, provider: b, attribute_condition: \"x ==\"}]", "attribute_condition"},
		{"bad binding condition", "projects: [{id: p}]\nbindings: [{resource: projects/p, role: roles/owner, members: [user:a@b], condition: \"request.time > 1\"}]", "condition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v; want error containing %q", tt.doc, err, tt.want)
			}
		})
	}
}

func TestParseJSONAndDefaults(t *testing.T) {
	w, err := Parse([]byte(`{"projects":[{"id":"p"}],"service_accounts":[{"email":"A@p.iam.gserviceaccount.com"}]}`))
	if err != nil {
		t.Fatalf("Parse(json) = %v", err)
	}
	sa, ok := w.FindServiceAccount("a@p.iam.gserviceaccount.com")
	if !ok || sa.Project != "p" {
		t.Errorf("FindServiceAccount = %+v, %v; want project p", sa, ok)
	}
	if p, _ := w.FindProject("p"); p.Number == 0 {
		t.Errorf("project number = 0; want a derived number")
	}
}

func TestKeyJSON(t *testing.T) {
	w := Demo()
	b, err := w.KeyJSON("zenml-bucket-sl@zenml-core.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	var k map[string]string
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if k["type"] != "service_account" || k["token_uri"] != GoogleTokenURI || !strings.HasPrefix(k["private_key"], "-----BEGIN PRIVATE KEY-----") || k["project_id"] != "zenml-core" {
		t.Errorf("KeyJSON = type %q token_uri %q project %q; want service_account, Google's token_uri, a PKCS8 key, zenml-core", k["type"], k["token_uri"], k["project_id"])
	}
	again, _ := w.KeyJSON("zenml-bucket-sl@zenml-core.iam.gserviceaccount.com")
	if string(again) != string(b) {
		t.Errorf("KeyJSON twice gave different keys; want one stable key per account")
	}
	if _, err := w.KeyJSON("nobody@zenml-core.iam.gserviceaccount.com"); err == nil {
		t.Errorf("KeyJSON(unknown) = nil error; want an error")
	}
	u, err := w.UserJSON("user@zenml.io")
	if err != nil || !strings.Contains(string(u), `"authorized_user"`) {
		t.Errorf("UserJSON = %s, %v; want authorized_user JSON", u, err)
	}
}

func TestConcurrentMutation(t *testing.T) {
	w := Demo()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			name := "runtime-bucket-" + string(rune('a'+i))
			if err := w.AddBucket(Bucket{Name: name, Project: "zenml-core"}); err != nil {
				t.Error(err)
			}
			if err := w.AddBinding(Binding{Resource: "projects/_/buckets/" + name, Role: "roles/storage.objectViewer", Members: []string{empty}}); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			w.Allowed(admin, "storage.objects.get", "projects/_/buckets/zenml-bucket-sl/objects/x")
		}()
	}
	wg.Wait()
	if !w.Allowed(empty, "storage.objects.get", "projects/_/buckets/runtime-bucket-c/objects/o") {
		t.Errorf("Allowed after AddBinding = false; want true")
	}
	if !w.RemoveMember("projects/_/buckets/runtime-bucket-c", "roles/storage.objectViewer", empty) {
		t.Errorf("RemoveMember = false; want true")
	}
	if w.Allowed(empty, "storage.objects.get", "projects/_/buckets/runtime-bucket-c/objects/o") {
		t.Errorf("Allowed after RemoveMember = true; want false")
	}
}

func TestConditionalBinding(t *testing.T) {
	w := Demo()
	err := w.AddBinding(Binding{
		Resource:  "projects/zenml-core",
		Role:      "roles/storage.objectViewer",
		Members:   []string{empty},
		Condition: "resource.name.startsWith('projects/_/buckets/zenml-kubeflow-artifact-store/objects/pipelines/')",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		resource string
		want     bool
	}{
		{"projects/_/buckets/zenml-kubeflow-artifact-store/objects/pipelines/train.yaml", true},
		{"projects/_/buckets/zenml-kubeflow-artifact-store/objects/other.yaml", false},
		{"projects/_/buckets/zenml-bucket-sl/objects/pipelines/x", false},
	}
	for _, tt := range tests {
		if got := w.Allowed(empty, "storage.objects.get", tt.resource); got != tt.want {
			t.Errorf("Allowed(conditional, %s) = %v; want %v", tt.resource, got, tt.want)
		}
	}
	if err := w.AddBinding(Binding{Resource: "projects/zenml-core", Role: "roles/viewer", Members: []string{empty}, Condition: "request.time < 5"}); err == nil {
		t.Errorf("AddBinding(unsupported condition) = nil; want an error")
	}
}

func TestKeyConcurrentFirstUse(t *testing.T) {
	w := Demo()
	const n = 4
	keys := make([]*Key, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := w.Key("EMPTY-connectors@zenml-core.iam.gserviceaccount.com")
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if keys[i] != keys[0] {
			t.Fatalf("Key() from %d goroutines returned different keys; want one per account", n)
		}
	}
	byID, err := w.Key(UniqueID("empty-connectors@zenml-core.iam.gserviceaccount.com"))
	if err != nil || byID != keys[0] {
		t.Errorf("Key(unique id) = %v, %v; want the same key", byID, err)
	}
}
