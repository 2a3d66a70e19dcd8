package artifacts

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strings"

	"github.com/gcpconn/gcpconn/emulator/internal/rest"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Registry returns the Docker registry handler; serve it on its own listener.
// Its 401 challenge names the host the client used.
func (s *Server) Registry() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		path := r.URL.Path
		switch {
		case path == "/v2" || path == "/v2/":
			s.routes["docker.ping"].ServeHTTP(w, r)
		case strings.HasPrefix(path, "/v2/"):
			s.routes["docker.request"].ServeHTTP(w, r)
		default:
			writeRegistryError(w, http.StatusNotFound, "NAME_UNKNOWN", "not a registry path")
		}
	})
}

// registryToken authenticates docker's credentials: Basic with a token user
// and the access token as password, or Bearer.
func (s *Server) registryToken(r *http.Request) (tokens.Token, bool) {
	h := r.Header.Get("Authorization")
	scheme, value, _ := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	var token string
	switch strings.ToLower(scheme) {
	case "bearer":
		token = value
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return tokens.Token{}, false
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok || !tokenUser(user) {
			return tokens.Token{}, false
		}
		token = pass
	}
	if token == "" {
		return tokens.Token{}, false
	}
	t, gerr := s.opts.Auth.Lookup(token)
	return t, gerr == nil
}

// tokenUser reports whether a Basic user name means "the password is an
// OAuth2 access token".
func tokenUser(user string) bool {
	switch {
	case user == "oauth2accesstoken", user == "_dcgcloud_token":
		return true
	case strings.HasPrefix(user, "_dcgcr_") && strings.HasSuffix(user, "_token"):
		return true
	}
	return false
}

func challenge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Basic realm="https://`+r.Host+`/v2/"`)
	writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
}

// ping answers GET /v2/: 200 for a valid token, 401 with a challenge otherwise.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.registryToken(r); !ok {
		challenge(w, r)
		return
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{})
}

// image answers /v2/PROJECT/REPO/IMAGE.../{manifests,blobs,tags}/...
func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	t, ok := s.registryToken(r)
	if !ok {
		challenge(w, r)
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v2/"), "/"), "/")
	kind := -1
	for i := len(parts) - 1; i >= 2; i-- {
		if parts[i] == "manifests" || parts[i] == "blobs" || parts[i] == "tags" {
			kind = i
			break
		}
	}
	if kind < 2 {
		writeRegistryError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	repo, found := s.registryRepo(r.Host, parts[0], parts[1])
	if !found {
		// Google answers as for a denial: the caller cannot tell.
		writeRegistryError(w, http.StatusForbidden, "DENIED", "Permission \"artifactregistry.repositories.downloadArtifacts\" denied on resource \"projects/"+
			parts[0]+"/locations/-/repositories/"+parts[1]+"\" (or it may not exist)")
		return
	}
	res := "projects/" + repo.Project + "/locations/" + repo.Location + "/repositories/" + repo.Name
	permission := "artifactregistry.repositories.downloadArtifacts"
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if write {
		permission = "artifactregistry.repositories.uploadArtifacts"
	}
	if gerr := s.opts.Auth.Authorize(r, t, permission, res); gerr != nil {
		writeRegistryError(w, http.StatusForbidden, "DENIED", "Permission \""+permission+"\" denied on resource \""+res+"\" (or it may not exist)")
		return
	}
	image := strings.Join(parts[:kind], "/")
	switch {
	case write:
		writeRegistryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "the fake registry holds no images; pushes are not supported")
	case parts[kind] == "tags":
		rest.WriteJSON(w, http.StatusOK, map[string]any{"name": image, "tags": []string{}})
	case parts[kind] == "manifests":
		writeRegistryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "Failed to fetch \""+strings.Join(parts[kind+1:], "/")+"\"")
	default:
		writeRegistryError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
	}
}

// registryRepo finds the repository a registry path names. The host says the
// location when it is LOC-docker.pkg.dev (or a gcr.io host); otherwise (the
// fake's own 127.0.0.1:PORT) the repository is looked up by project and name
// in every location, nearest in sort order first.
func (s *Server) registryRepo(host, project, name string) (world.Repository, bool) {
	if p, ok := s.opts.World.FindProject(project); ok {
		project = p.ID
	}
	host = strings.ToLower(host)
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	if strings.HasSuffix(host, "gcr.io") {
		// gcr.io/PROJECT/IMAGE: the repository is named after the host.
		name = host
	}
	location := "-"
	if loc, ok := strings.CutSuffix(host, "-docker.pkg.dev"); ok {
		location = loc
	}
	repos := s.opts.World.RepositoriesIn(project, location)
	sort.Slice(repos, func(i, j int) bool { return repos[i].Location < repos[j].Location })
	for _, repo := range repos {
		if repo.Name == name && strings.EqualFold(repo.Format, "DOCKER") {
			return repo, true
		}
	}
	return world.Repository{}, false
}

func writeRegistryError(w http.ResponseWriter, code int, errCode, message string) {
	rest.WriteJSON(w, code, map[string]any{"errors": []map[string]string{{"code": errCode, "message": message}}})
}
