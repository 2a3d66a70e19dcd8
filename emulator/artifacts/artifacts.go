// Package artifacts is the fake Artifact Registry: the v1 REST API that
// artifactregistry.NewRESTClient calls (locations and repositories) and a
// Docker registry (/v2/) that `docker login` and credential helpers talk to.
//
// Vocabulary:
//   - a repository comes from the world (project, location, name, format);
//     its IAM resource is "projects/P/locations/L/repositories/R" and its
//     parent is the project;
//   - locations are the ones Google lists for Artifact Registry, reduced here
//     to the multi-regions (asia, europe, us) plus every location holding a
//     world repository;
//   - the registry (Registry) stands in for every LOC-docker.pkg.dev and
//     *gcr.io host. It accepts what Google's registries accept from token
//     holders: Basic credentials with the user "oauth2accesstoken" (also the
//     helper spellings "_dcgcloud_token" and "_dcgcr_<version>_token") and an
//     access token as password, or "Authorization: Bearer <access token>".
//     /v2/ needs only a valid token (docker login succeeds for any valid
//     Google token, as with Google); image paths /v2/PROJECT/REPO/IMAGE/...
//     need artifactregistry.repositories.downloadArtifacts (reads) on the
//     repository. The fake holds no images: authorised reads of manifests and
//     blobs answer MANIFEST_UNKNOWN / BLOB_UNKNOWN, tag lists are empty, and
//     pushes are refused with UNSUPPORTED after the uploadArtifacts check.
package artifacts

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/internal/rest"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Authorizer authenticates tokens and checks IAM permissions
// (emulator/auth.Guard satisfies it).
type Authorizer interface {
	rest.Authorizer
	// Lookup authenticates a token value taken from elsewhere than a Bearer
	// header (docker's Basic credentials).
	Lookup(value string) (tokens.Token, *googleerr.Error)
	// Authorize checks an authenticated token.
	Authorize(r *http.Request, t tokens.Token, permission, resource string) *googleerr.Error
}

// Catalog is the live list of projects and repositories (*world.World
// satisfies it).
type Catalog interface {
	FindProject(idOrNumber string) (world.Project, bool)
	RepositoriesIn(project, location string) []world.Repository
}

// Options configure a Server.
type Options struct {
	World  Catalog      // required
	Auth   Authorizer   // required
	Faults rest.Wrapper // optional
	// Created is the creation time reported for every repository (zero: the
	// time New ran).
	Created time.Time
}

// Server is the fake Artifact Registry REST API (an http.Handler). Its
// Registry method returns the Docker registry handler.
type Server struct {
	opts   Options
	routes map[string]http.Handler
}

// multiRegions are always listed as locations.
var multiRegions = []string{"asia", "europe", "us"}

// New builds a Server.
func New(opts Options) (*Server, error) {
	if opts.World == nil || opts.Auth == nil {
		return nil, fmt.Errorf("artifacts: Options.World and Options.Auth are required")
	}
	if opts.Created.IsZero() {
		opts.Created = time.Now().UTC().Truncate(time.Second)
	}
	s := &Server{opts: opts}
	s.routes = rest.Routes(opts.Faults, map[string]http.HandlerFunc{
		"artifactregistry.locations.list":    s.listLocations,
		"artifactregistry.repositories.list": s.listRepositories,
		"artifactregistry.repositories.get":  s.getRepository,
		"docker.ping":                        s.ping,
		"docker.request":                     s.image,
	})
	return s, nil
}

// call is a parsed REST request.
type call struct{ project, location, repository string }

// ServeHTTP serves the REST API:
//
//	GET /v1/projects/P/locations
//	GET /v1/projects/P/locations/L/repositories   (pageSize, pageToken)
//	GET /v1/projects/P/locations/L/repositories/R
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) < 4 || parts[0] != "v1" || parts[1] != "projects" || parts[3] != "locations" {
		googleerr.Write(w, googleerr.NotFound("Requested entity was not found."))
		return
	}
	q := call{project: parts[2]}
	var endpoint string
	switch {
	case len(parts) == 4:
		endpoint = "artifactregistry.locations.list"
	case len(parts) == 6 && parts[5] == "repositories":
		q.location, endpoint = parts[4], "artifactregistry.repositories.list"
	case len(parts) == 7 && parts[5] == "repositories":
		q.location, q.repository, endpoint = parts[4], parts[6], "artifactregistry.repositories.get"
	default:
		googleerr.Write(w, googleerr.NotFound("Requested entity was not found."))
		return
	}
	s.routes[endpoint].ServeHTTP(w, rest.WithCall(r, q))
}

// project resolves the call's project after checking permission on it.
func (s *Server) project(w http.ResponseWriter, r *http.Request, q call, permission string) (world.Project, bool) {
	p, known, ok := rest.CheckInProject(w, r, s.opts.Auth, s.opts.World, q.project, "", permission)
	if !ok {
		return world.Project{}, false
	}
	if !known {
		googleerr.Write(w, googleerr.NotFound("Project "+q.project+" not found."))
		return world.Project{}, false
	}
	return p, true
}

func (s *Server) listLocations(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	p, ok := s.project(w, r, q, "artifactregistry.locations.list")
	if !ok {
		return
	}
	seen := map[string]bool{}
	for _, l := range multiRegions {
		seen[l] = true
	}
	for _, repo := range s.opts.World.RepositoriesIn(p.ID, "-") {
		seen[repo.Location] = true
	}
	names := make([]string, 0, len(seen))
	for l := range seen {
		names = append(names, l)
	}
	sort.Strings(names)
	resp := &location.ListLocationsResponse{}
	for _, l := range names {
		resp.Locations = append(resp.Locations, &location.Location{
			Name:        "projects/" + p.ID + "/locations/" + l,
			LocationId:  l,
			DisplayName: l,
		})
	}
	rest.WriteProto(w, resp)
}

func (s *Server) listRepositories(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	p, ok := s.project(w, r, q, "artifactregistry.repositories.list")
	if !ok {
		return
	}
	repos := s.opts.World.RepositoriesIn(p.ID, q.location)
	sort.Slice(repos, func(i, j int) bool {
		if repos[i].Location != repos[j].Location {
			return repos[i].Location < repos[j].Location
		}
		return repos[i].Name < repos[j].Name
	})
	rest.WritePage(w, r, repos, 1000, func(page []world.Repository, next string) proto.Message {
		resp := &artifactregistrypb.ListRepositoriesResponse{NextPageToken: next}
		for _, repo := range page {
			resp.Repositories = append(resp.Repositories, s.repository(repo))
		}
		return resp
	})
}

func (s *Server) getRepository(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	under := "/locations/" + q.location + "/repositories/" + q.repository
	p, known, ok := rest.CheckInProject(w, r, s.opts.Auth, s.opts.World, q.project, under, "artifactregistry.repositories.get")
	if !ok {
		return
	}
	if known {
		for _, repo := range s.opts.World.RepositoriesIn(p.ID, q.location) {
			if repo.Name == q.repository {
				rest.WriteProto(w, s.repository(repo))
				return
			}
		}
	}
	googleerr.Write(w, googleerr.NotFound("Requested entity was not found."))
}

// repository is the artifactregistrypb.Repository of a world repository.
func (s *Server) repository(repo world.Repository) *artifactregistrypb.Repository {
	format := artifactregistrypb.Repository_FORMAT_UNSPECIFIED
	if v, ok := artifactregistrypb.Repository_Format_value[strings.ToUpper(repo.Format)]; ok {
		format = artifactregistrypb.Repository_Format(v)
	}
	created := timestamppb.New(s.opts.Created)
	return &artifactregistrypb.Repository{
		Name:         "projects/" + repo.Project + "/locations/" + repo.Location + "/repositories/" + repo.Name,
		Format:       format,
		Mode:         artifactregistrypb.Repository_STANDARD_REPOSITORY,
		CreateTime:   created,
		UpdateTime:   created,
		SizeBytes:    0,
		SatisfiesPzi: false,
		RegistryUri:  RegistryURI(repo),
	}
}

// RegistryURI is the repository's address as Google prints it
// ("europe-west1-docker.pkg.dev/PROJECT/REPO"; "gcr.io/PROJECT" for the gcr.io
// repositories; domain-scoped projects "example.com:p" become "example.com/p").
func RegistryURI(repo world.Repository) string {
	project := strings.Replace(repo.Project, ":", "/", 1)
	if strings.HasSuffix(repo.Name, "gcr.io") {
		return repo.Name + "/" + project
	}
	kind := strings.ToLower(repo.Format)
	if kind == "" {
		kind = "docker"
	}
	return repo.Location + "-" + kind + ".pkg.dev/" + project + "/" + repo.Name
}
