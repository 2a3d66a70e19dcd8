package artifacts_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	artifactregistry "cloud.google.com/go/artifactregistry/apiv1"
	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/cloud/location"

	"github.com/gcpconn/gcpconn/emulator/artifacts"
	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const worldYAML = `
projects: [{id: p1, number: 101}, {id: p2, number: 202}]
bindings:
  - {resource: projects/p1, role: roles/artifactregistry.reader, members: ["serviceAccount:reader@p1.iam.gserviceaccount.com"]}
  - {resource: projects/p1/locations/europe-west1/repositories/images, role: roles/artifactregistry.writer, members: ["serviceAccount:repo@p1.iam.gserviceaccount.com"]}
repositories:
  - {name: images, project: p1, location: europe-west1, format: DOCKER}
  - {name: images, project: p1, location: us-central1, format: DOCKER}
  - {name: jars, project: p1, location: us-central1, format: MAVEN}
  - {name: gcr.io, project: p1, location: us, format: DOCKER}
  - {name: other, project: p2, location: europe-west1, format: DOCKER}
`

const (
	reader = "reader@p1.iam.gserviceaccount.com" // reader on p1
	repoSA = "repo@p1.iam.gserviceaccount.com"   // writer on europe-west1/images only
	empty  = "empty@p1.iam.gserviceaccount.com"
)

type fixture struct {
	api, registry string // base URLs
	tokens        *tokens.Registry
}

func newFixture(t *testing.T, tlsRegistry bool) *fixture {
	t.Helper()
	w, err := world.Parse([]byte(worldYAML))
	if err != nil {
		t.Fatalf("world.Parse: %v", err)
	}
	reg := tokens.NewRegistry(time.Now)
	srv, err := artifacts.New(artifacts.Options{World: w, Auth: &auth.Guard{World: w, Tokens: reg}})
	if err != nil {
		t.Fatalf("artifacts.New: %v", err)
	}
	api := httptest.NewServer(srv)
	var registry *httptest.Server
	if tlsRegistry {
		registry = httptest.NewTLSServer(srv.Registry())
	} else {
		registry = httptest.NewServer(srv.Registry())
	}
	t.Cleanup(func() { api.Close(); registry.Close() })
	return &fixture{api: api.URL, registry: registry.URL, tokens: reg}
}

func (f *fixture) token(email string) string {
	return f.tokens.Issue(tokens.Token{Member: "serviceAccount:" + email, Email: email,
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}, Expiry: time.Now().Add(time.Hour)})
}

func (f *fixture) client(t *testing.T, email string) *artifactregistry.Client {
	t.Helper()
	c, err := artifactregistry.NewRESTClient(context.Background(), option.WithEndpoint(f.api),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: f.token(email)})))
	if err != nil {
		t.Fatalf("NewRESTClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func httpCode(err error) int {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae.HTTPCode()
	}
	return 0
}

func TestListLocations(t *testing.T) {
	f := newFixture(t, false)
	it := f.client(t, reader).ListLocations(context.Background(), &location.ListLocationsRequest{Name: "projects/p1"})
	var got []string
	for {
		l, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("ListLocations: %v", err)
		}
		got = append(got, l.GetLocationId())
	}
	if want := "asia,europe,europe-west1,us,us-central1"; strings.Join(got, ",") != want {
		t.Errorf("ListLocations(p1) = %v; want %s", got, want)
	}
	it = f.client(t, empty).ListLocations(context.Background(), &location.ListLocationsRequest{Name: "projects/p1"})
	if _, err := it.Next(); httpCode(err) != 403 {
		t.Errorf("ListLocations as empty SA error = %v; want 403", err)
	}
}

func listRepos(ctx context.Context, c *artifactregistry.Client, parent string, pageSize int32) ([]string, error) {
	it := c.ListRepositories(ctx, &artifactregistrypb.ListRepositoriesRequest{Parent: parent, PageSize: pageSize})
	var got []string
	for {
		r, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return got, nil
		}
		if err != nil {
			return nil, err
		}
		got = append(got, r.GetName()+"="+r.GetFormat().String())
	}
}

func TestListRepositories(t *testing.T) {
	f := newFixture(t, false)
	tests := []struct {
		name, email, parent string
		pageSize            int32
		want                string
		wantCode            int
	}{
		{name: "one location", email: reader, parent: "projects/p1/locations/us-central1",
			want: "projects/p1/locations/us-central1/repositories/images=DOCKER,projects/p1/locations/us-central1/repositories/jars=MAVEN"},
		{name: "paged", email: reader, parent: "projects/p1/locations/us-central1", pageSize: 1,
			want: "projects/p1/locations/us-central1/repositories/images=DOCKER,projects/p1/locations/us-central1/repositories/jars=MAVEN"},
		{name: "empty location", email: reader, parent: "projects/p1/locations/asia", want: ""},
		{name: "repo-scoped SA cannot list", email: repoSA, parent: "projects/p1/locations/europe-west1", wantCode: 403},
		{name: "other project", email: reader, parent: "projects/p2/locations/europe-west1", wantCode: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := listRepos(context.Background(), f.client(t, tt.email), tt.parent, tt.pageSize)
			if tt.wantCode != 0 {
				if httpCode(err) != tt.wantCode {
					t.Fatalf("ListRepositories(%s) error = %v; want %d", tt.parent, err, tt.wantCode)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != tt.want {
				t.Errorf("ListRepositories(%s) = %v, %v; want %s", tt.parent, got, err, tt.want)
			}
		})
	}
}

func TestGetRepository(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	r, err := f.client(t, repoSA).GetRepository(ctx, &artifactregistrypb.GetRepositoryRequest{Name: "projects/p1/locations/europe-west1/repositories/images"})
	if err != nil {
		t.Fatalf("GetRepository: %v", err)
	}
	if r.GetFormat() != artifactregistrypb.Repository_DOCKER || r.GetMode() != artifactregistrypb.Repository_STANDARD_REPOSITORY ||
		r.GetRegistryUri() != "europe-west1-docker.pkg.dev/p1/images" {
		t.Errorf("GetRepository = format %v mode %v uri %q; want DOCKER STANDARD_REPOSITORY europe-west1-docker.pkg.dev/p1/images", r.GetFormat(), r.GetMode(), r.GetRegistryUri())
	}
	for _, tc := range []struct {
		email, name string
		want        int
	}{
		{repoSA, "projects/p1/locations/us-central1/repositories/images", 403},
		{empty, "projects/p1/locations/europe-west1/repositories/images", 403},
		{reader, "projects/p1/locations/europe-west1/repositories/nope", 404},
	} {
		_, err := f.client(t, tc.email).GetRepository(ctx, &artifactregistrypb.GetRepositoryRequest{Name: tc.name})
		if httpCode(err) != tc.want {
			t.Errorf("GetRepository(%s) as %s error = %v; want %d", tc.name, tc.email, err, tc.want)
		}
	}
}

func TestRegistryHTTP(t *testing.T) {
	f := newFixture(t, false)
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	tests := []struct {
		name, method, path, host, authz string
		want                            int
		wantChallenge                   bool
	}{
		{name: "ping without credentials", path: "/v2/", want: 401, wantChallenge: true},
		{name: "ping oauth2accesstoken", path: "/v2/", authz: basic("oauth2accesstoken", f.token(empty)), want: 200},
		{name: "ping _dcgcloud_token", path: "/v2/", authz: basic("_dcgcloud_token", f.token(empty)), want: 200},
		{name: "ping _dcgcr token", path: "/v2/", authz: basic("_dcgcr_2_1_8_token", f.token(empty)), want: 200},
		{name: "ping bearer", path: "/v2/", authz: "Bearer " + f.token(empty), want: 200},
		{name: "ping wrong user", path: "/v2/", authz: basic("someone", f.token(empty)), want: 401, wantChallenge: true},
		{name: "ping unknown token", path: "/v2/", authz: basic("oauth2accesstoken", "ya29.nope"), want: 401, wantChallenge: true},
		{name: "tags allowed", path: "/v2/p1/images/app/tags/list", host: "europe-west1-docker.pkg.dev", authz: "Bearer " + f.token(repoSA), want: 200},
		{name: "manifest unknown", path: "/v2/p1/images/app/manifests/latest", host: "europe-west1-docker.pkg.dev", authz: "Bearer " + f.token(repoSA), want: 404},
		{name: "other location denied", path: "/v2/p1/images/app/manifests/latest", host: "us-central1-docker.pkg.dev", authz: "Bearer " + f.token(repoSA), want: 403},
		{name: "no host: first location", path: "/v2/p1/images/app/tags/list", authz: "Bearer " + f.token(repoSA), want: 200},
		{name: "gcr host", path: "/v2/p1/app/tags/list", host: "gcr.io", authz: "Bearer " + f.token(reader), want: 200},
		{name: "empty SA denied pull", path: "/v2/p1/images/app/manifests/latest", authz: "Bearer " + f.token(empty), want: 403},
		{name: "reader cannot push", method: "PUT", path: "/v2/p1/images/app/manifests/latest", authz: "Bearer " + f.token(reader), want: 403},
		{name: "writer push unsupported", method: "PUT", path: "/v2/p1/images/app/manifests/latest", host: "europe-west1-docker.pkg.dev", authz: "Bearer " + f.token(repoSA), want: 405},
		{name: "maven repo is not a docker registry", path: "/v2/p1/jars/x/tags/list", authz: "Bearer " + f.token(reader), want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req, _ := http.NewRequest(method, f.registry+tt.path, nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s status = %d; want %d", method, tt.path, resp.StatusCode, tt.want)
			}
			if got := resp.Header.Get("WWW-Authenticate"); tt.wantChallenge != strings.HasPrefix(got, "Basic realm=") {
				t.Errorf("WWW-Authenticate = %q; want Basic challenge: %v", got, tt.wantChallenge)
			}
		})
	}
}

func dockerLogin(t *testing.T, host, password string) (string, string, error) {
	t.Helper()
	cfg := t.TempDir()
	cmd := exec.Command("docker", "login", host, "-u", "oauth2accesstoken", "--password-stdin")
	cmd.Stdin = strings.NewReader(password)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfg, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	written, _ := os.ReadFile(filepath.Join(cfg, "config.json"))
	return string(out), string(written), err
}

func TestDockerLogin(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not found on PATH; install the docker CLI to run the docker login checks")
	}
	for _, useTLS := range []bool{true, false} {
		name := map[bool]string{true: "tls", false: "plain http"}[useTLS]
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, useTLS)
			host := strings.TrimPrefix(strings.TrimPrefix(f.registry, "https://"), "http://")
			tok := f.token(reader)
			out, cfg, err := dockerLogin(t, host, tok)
			if err != nil || !strings.Contains(out, "Login Succeeded") {
				t.Fatalf("docker login %s = %q, %v; want Login Succeeded", host, out, err)
			}
			want := base64.StdEncoding.EncodeToString([]byte("oauth2accesstoken:" + tok))
			if !strings.Contains(cfg, want) {
				t.Errorf("config.json = %s; want auths entry with %s", cfg, want)
			}
			if out, _, err := dockerLogin(t, host, "ya29.wrong"); err == nil {
				t.Errorf("docker login with a wrong token = %q, nil; want failure", out)
			}
		})
	}
}
