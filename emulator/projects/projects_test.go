package projects_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/projects"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const worldYAML = `
projects: [{id: p1, number: 101}, {id: p2, number: 202}]
bindings:
  - {resource: projects/p1, role: roles/viewer, members: ["serviceAccount:viewer@p1.iam.gserviceaccount.com"]}
  - {resource: projects/p2, role: roles/storage.admin, members: ["serviceAccount:viewer@p1.iam.gserviceaccount.com"]}
  - {resource: projects/_/buckets/b1, role: roles/storage.objectAdmin, members: ["serviceAccount:bucket@p1.iam.gserviceaccount.com"]}
buckets:
  - {name: b1, project: p1}
`

func newService(t *testing.T, email string) *cloudresourcemanager.Service {
	t.Helper()
	w, err := world.Parse([]byte(worldYAML))
	if err != nil {
		t.Fatalf("world.Parse: %v", err)
	}
	reg := tokens.NewRegistry(time.Now)
	srv, err := projects.New(projects.Options{World: w, Auth: &auth.Guard{World: w, Tokens: reg}})
	if err != nil {
		t.Fatalf("projects.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	tok := reg.Issue(tokens.Token{Member: "serviceAccount:" + email, Email: email,
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}, Expiry: time.Now().Add(time.Hour)})
	svc, err := cloudresourcemanager.NewService(context.Background(), option.WithEndpoint(hs.URL+"/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})))
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return svc
}

func code(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func TestGetProject(t *testing.T) {
	tests := []struct {
		email, project string
		wantNumber     int64
		wantCode       int
	}{
		{"viewer@p1.iam.gserviceaccount.com", "p1", 101, 0},
		{"viewer@p1.iam.gserviceaccount.com", "101", 101, 0},
		{"viewer@p1.iam.gserviceaccount.com", "p2", 202, 0}, // storage.admin includes resourcemanager.projects.get
		{"bucket@p1.iam.gserviceaccount.com", "p1", 0, 403},
		{"viewer@p1.iam.gserviceaccount.com", "nope", 0, 403},
	}
	for _, tt := range tests {
		t.Run(tt.email+"/"+tt.project, func(t *testing.T) {
			p, err := newService(t, tt.email).Projects.Get(tt.project).Do()
			if tt.wantCode != 0 {
				if code(err) != tt.wantCode || !strings.Contains(err.Error(), "The caller does not have permission") {
					t.Fatalf("Get(%s) error = %v; want %d 'The caller does not have permission'", tt.project, err, tt.wantCode)
				}
				return
			}
			if err != nil || p.ProjectNumber != tt.wantNumber || p.LifecycleState != "ACTIVE" {
				t.Fatalf("Get(%s) = %+v, %v; want number %d ACTIVE", tt.project, p, err, tt.wantNumber)
			}
		})
	}
}

func TestTestIamPermissions(t *testing.T) {
	asked := []string{"resourcemanager.projects.get", "storage.buckets.list", "storage.objects.create", "secretmanager.secrets.create"}
	tests := []struct {
		email, project, want string
	}{
		{"viewer@p1.iam.gserviceaccount.com", "p1", "resourcemanager.projects.get,storage.buckets.list"},
		{"viewer@p1.iam.gserviceaccount.com", "p2", "resourcemanager.projects.get,storage.buckets.list,storage.objects.create"},
		{"bucket@p1.iam.gserviceaccount.com", "p1", ""}, // a bucket binding does not show on the project
	}
	for _, tt := range tests {
		t.Run(tt.email+"/"+tt.project, func(t *testing.T) {
			resp, err := newService(t, tt.email).Projects.TestIamPermissions(tt.project, &cloudresourcemanager.TestIamPermissionsRequest{Permissions: asked}).Do()
			if err != nil {
				t.Fatalf("TestIamPermissions: %v", err)
			}
			if got := strings.Join(resp.Permissions, ","); got != tt.want {
				t.Errorf("TestIamPermissions(%s, %v) = %s; want %s", tt.project, asked, got, tt.want)
			}
		})
	}
	_, err := newService(t, "viewer@p1.iam.gserviceaccount.com").Projects.TestIamPermissions("p1", &cloudresourcemanager.TestIamPermissionsRequest{Permissions: []string{"storage.*"}}).Do()
	if code(err) != 400 {
		t.Errorf("TestIamPermissions with a wildcard error = %v; want 400", err)
	}
}

func TestListProjects(t *testing.T) {
	resp, err := newService(t, "viewer@p1.iam.gserviceaccount.com").Projects.List().Do()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var ids []string
	for _, p := range resp.Projects {
		ids = append(ids, p.ProjectId)
	}
	if strings.Join(ids, ",") != "p1,p2" {
		t.Errorf("List = %v; want [p1 p2]", ids)
	}
	resp, err = newService(t, "bucket@p1.iam.gserviceaccount.com").Projects.List().Do()
	if err != nil || len(resp.Projects) != 0 {
		t.Errorf("List as bucket SA = %v, %v; want none", resp, err)
	}
}
