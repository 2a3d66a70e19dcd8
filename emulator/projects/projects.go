// Package projects is the fake Cloud Resource Manager v1 (the API behind
// google.golang.org/api/cloudresourcemanager/v1): project lookup and
// testIamPermissions, answered from the world.
//
// Vocabulary:
//   - a project is world.Project (id, number); its IAM resource is
//     "projects/P" and requests may name it by id or number;
//   - GET /v1/projects/P needs resourcemanager.projects.get; as Google does,
//     a project that does not exist and one the caller may not see answer the
//     same 403 "The caller does not have permission";
//   - POST /v1/projects/P:testIamPermissions needs only a valid token and
//     returns the subset of the asked permissions the caller holds on the
//     project (bindings on the project itself, no descendants);
//   - GET /v1/projects lists the projects the caller may get (filter by
//     "id:P" or "projectId:P" only).
package projects

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/internal/rest"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Authorizer authenticates tokens and checks IAM permissions
// (emulator/auth.Guard satisfies it).
type Authorizer interface {
	Token(r *http.Request) (tokens.Token, *googleerr.Error)
	Authorize(r *http.Request, t tokens.Token, permission, resource string) *googleerr.Error
}

// Catalog lists projects (*world.World satisfies it).
type Catalog interface {
	FindProject(idOrNumber string) (world.Project, bool)
	View(fn func(w *world.World))
}

// Options configure a Server.
type Options struct {
	World  Catalog      // required
	Auth   Authorizer   // required
	Faults rest.Wrapper // optional
	// Created is the createTime reported for every project (zero: 2020-01-01).
	Created time.Time
}

// Server is the fake Resource Manager (an http.Handler).
type Server struct {
	opts   Options
	routes map[string]http.Handler
}

// New builds a Server.
func New(opts Options) (*Server, error) {
	if opts.World == nil || opts.Auth == nil {
		return nil, fmt.Errorf("projects: Options.World and Options.Auth are required")
	}
	if opts.Created.IsZero() {
		opts.Created = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	s := &Server{opts: opts}
	s.routes = rest.Routes(opts.Faults, map[string]http.HandlerFunc{
		"resourcemanager.projects.get":                s.get,
		"resourcemanager.projects.list":               s.list,
		"resourcemanager.projects.testIamPermissions": s.testPermissions,
	})
	return s, nil
}

// Project is the v1 Project resource.
type Project struct {
	ProjectNumber  string `json:"projectNumber"`
	ProjectID      string `json:"projectId"`
	LifecycleState string `json:"lifecycleState"`
	Name           string `json:"name"`
	CreateTime     string `json:"createTime"`
}

// call is a parsed request: the project named in the path ("" for list).
type call struct{ project string }

// ServeHTTP routes GET /v1/projects, GET /v1/projects/P and
// POST /v1/projects/P:testIamPermissions.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	path, verb, _ := strings.Cut(path, ":")
	parts := strings.Split(path, "/")
	if len(parts) < 2 || parts[0] != "v1" || parts[1] != "projects" || len(parts) > 3 {
		googleerr.Write(w, googleerr.NotFound("Requested entity was not found."))
		return
	}
	var endpoint string
	switch {
	case len(parts) == 2 && verb == "" && r.Method == http.MethodGet:
		endpoint = "resourcemanager.projects.list"
	case len(parts) == 3 && verb == "" && r.Method == http.MethodGet:
		endpoint = "resourcemanager.projects.get"
	case len(parts) == 3 && verb == "testIamPermissions" && r.Method == http.MethodPost:
		endpoint = "resourcemanager.projects.testIamPermissions"
	default:
		googleerr.Write(w, googleerr.NotFound("Requested entity was not found."))
		return
	}
	var q call
	if len(parts) == 3 {
		q.project = parts[2]
	}
	s.routes[endpoint].ServeHTTP(w, rest.WithCall(r, q))
}

func denied() *googleerr.Error {
	return googleerr.PermissionDenied("The caller does not have permission")
}

func (s *Server) project(p world.Project) Project {
	return Project{
		ProjectNumber:  strconv.FormatInt(p.Number, 10),
		ProjectID:      p.ID,
		LifecycleState: "ACTIVE",
		Name:           p.ID,
		CreateTime:     s.opts.Created.UTC().Format(time.RFC3339),
	}
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	t, gerr := s.opts.Auth.Token(r)
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	p, ok := s.opts.World.FindProject(rest.CallFrom[call](r).project)
	if !ok || s.opts.Auth.Authorize(r, t, "resourcemanager.projects.get", "projects/"+p.ID) != nil {
		googleerr.Write(w, denied())
		return
	}
	rest.WriteJSON(w, http.StatusOK, s.project(p))
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	t, gerr := s.opts.Auth.Token(r)
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	want := ""
	if f := strings.TrimSpace(r.URL.Query().Get("filter")); f != "" {
		field, value, ok := strings.Cut(f, ":")
		if !ok || (field != "id" && field != "projectId") {
			googleerr.Write(w, googleerr.InvalidArgument("Unsupported filter: "+f))
			return
		}
		want = strings.TrimSpace(value)
	}
	var all []world.Project
	s.opts.World.View(func(w *world.World) { all = append(all, w.Projects...) })
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	out := []Project{}
	for _, p := range all {
		if (want == "" || p.ID == want) && s.opts.Auth.Authorize(r, t, "resourcemanager.projects.get", "projects/"+p.ID) == nil {
			out = append(out, s.project(p))
		}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"projects": out})
}

func (s *Server) testPermissions(w http.ResponseWriter, r *http.Request) {
	t, gerr := s.opts.Auth.Token(r)
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	var req struct {
		Permissions []string `json:"permissions"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &req) != nil {
		googleerr.Write(w, googleerr.InvalidArgument("Invalid JSON payload received."))
		return
	}
	p, ok := s.opts.World.FindProject(rest.CallFrom[call](r).project)
	if !ok {
		googleerr.Write(w, denied())
		return
	}
	held := []string{}
	for _, perm := range req.Permissions {
		if strings.ContainsAny(perm, "*") || strings.Count(perm, ".") != 2 {
			googleerr.Write(w, googleerr.InvalidArgument("Permission "+perm+" is not valid."))
			return
		}
		if s.opts.Auth.Authorize(r, t, perm, "projects/"+p.ID) == nil {
			held = append(held, perm)
		}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"permissions": held})
}
