// Package gcs is the fake Cloud Storage: fake-gcs-server keeps the buckets and
// objects, and this package stands in front of it the way Google's front end
// does.
//
// Vocabulary:
//   - the front (Server) authenticates the bearer token of every request and
//     checks the IAM permission Google checks for the call (storage.buckets.list
//     on the project, storage.buckets.get on the bucket, storage.objects.* on
//     the object), through an Authorizer;
//   - a route is one recognised request shape (JSON API, upload, download or
//     XML read); every route has an endpoint name ("storage.objects.get") under
//     which it is counted and can be made slow or failing (Wrapper);
//   - the backend is fake-gcs-server, served in-process (NoListener); it never
//     sees a request the front did not recognise and authorise, so its own
//     admin routes (/_internal/...) are unreachable.
//
// IAM resource names: a bucket is "projects/_/buckets/B" and an object
// "projects/_/buckets/B/objects/O", so that down-scoped tokens (Credential
// Access Boundaries) with resource.name.startsWith conditions can be evaluated
// by the Authorizer. Listing objects is checked on the bucket, as Google does:
// a token whose boundary only allows an object prefix cannot list the bucket.
package gcs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/internal/rest"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Catalog is the live list of projects and buckets (*world.World satisfies
// it). Buckets the world gains at run time appear in the fake on first use.
type Catalog interface {
	FindProject(idOrNumber string) (world.Project, bool)
	FindBucket(name string) (world.Bucket, bool)
	BucketsIn(project string) []world.Bucket
}

// Options configure a Server.
type Options struct {
	World  Catalog         // required
	Auth   rest.Authorizer // required
	Faults rest.Wrapper    // optional
	// MaxUploadBytes caps a single upload request body (default 64 MiB).
	MaxUploadBytes int64
}

// virtualHost is the PublicHost the backend is told about. The front sends
// XML reads to the backend with this Host so that fake-gcs-server routes them
// (its XML routes match on the host); everything else keeps the caller's Host,
// so resumable-upload Location headers point back at the front.
const virtualHost = "storage.gcs.fake"

// Server is the authorising front of the fake Cloud Storage. It is an
// http.Handler; serve it on its own listener.
type Server struct {
	opts    Options
	backend *fakestorage.Server
	inner   http.Handler
	routes  map[string]http.Handler // endpoint → wrapped handler

	mu      sync.Mutex
	created map[string]bool   // buckets present in the backend
	uploads map[string]string // resumable upload id → object resource
}

// New builds a Server serving the world's buckets and objects.
func New(opts Options) (*Server, error) {
	if opts.Auth == nil || opts.World == nil {
		return nil, fmt.Errorf("gcs: Options.World and Options.Auth are required")
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = 64 << 20
	}
	backend, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		NoListener: true,
		PublicHost: virtualHost,
		Writer:     io.Discard,
	})
	if err != nil {
		return nil, fmt.Errorf("gcs: start fake-gcs-server: %w", err)
	}
	s := &Server{
		opts:    opts,
		backend: backend,
		inner:   backend.HTTPHandler(),
		created: map[string]bool{},
		uploads: map[string]string{},
	}
	for _, b := range opts.World.BucketsIn("") {
		s.ensure(b)
	}
	s.routes = rest.Routes(opts.Faults, map[string]http.HandlerFunc{
		"storage.buckets.list":               s.listBuckets,
		"storage.buckets.get":                s.getBucket,
		"storage.buckets.testIamPermissions": s.testPermissions,
		"storage.objects.list":               s.forwardChecked,
		"storage.objects.get":                s.forwardChecked,
		"storage.objects.create":             s.forwardChecked,
		"storage.objects.update":             s.forwardChecked,
		"storage.objects.delete":             s.forwardChecked,
	})
	return s, nil
}

// ensure creates a world bucket (with its initial objects) in the backend the
// first time it is needed.
func (s *Server) ensure(b world.Bucket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created[b.Name] {
		return
	}
	s.created[b.Name] = true
	s.backend.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b.Name})
	for name, content := range b.Objects {
		s.backend.CreateObject(fakestorage.Object{
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: b.Name, Name: name},
			Content:     []byte(content),
		})
	}
}

// bucket returns a bucket of the world, present in the backend.
func (s *Server) bucket(name string) (world.Bucket, bool) {
	b, ok := s.opts.World.FindBucket(name)
	if ok {
		s.ensure(b)
	}
	return b, ok
}

// Close stops the backend.
func (s *Server) Close() { s.backend.Stop() }

// request is one recognised call: which endpoint, which permission on which
// resource, and how to hand it to the backend.
type request struct {
	endpoint string
	bucket   string
	object   string // "" for bucket-level calls
	project  string // storage.buckets.list
	xmlRead  bool
	uploadID string // resumable upload continuation
}

func (q request) permission() string { return q.endpoint }

func (q request) resource() string {
	if q.object != "" {
		return "projects/_/buckets/" + q.bucket + "/objects/" + q.object
	}
	return "projects/_/buckets/" + q.bucket
}

// ServeHTTP routes a request, or answers 404 for shapes real GCS does not have.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, gerr := s.classify(r)
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	s.routes[q.endpoint].ServeHTTP(w, rest.WithCall(r, q))
}

// classify maps a request to its endpoint, bucket and object.
func (s *Server) classify(r *http.Request) (request, *googleerr.Error) {
	segs, err := segments(r.URL.EscapedPath())
	if err != nil {
		return request{}, googleerr.InvalidArgument("Invalid request path.")
	}
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case len(segs) >= 3 && segs[0] == "storage" && segs[1] == "v1" && segs[2] == "b":
		rest := segs[3:]
		switch {
		case len(rest) == 0 && get:
			return request{endpoint: "storage.buckets.list", project: r.URL.Query().Get("project")}, nil
		case len(rest) == 1 && get:
			return request{endpoint: "storage.buckets.get", bucket: rest[0]}, nil
		case len(rest) == 3 && rest[1] == "iam" && rest[2] == "testPermissions" && get:
			return request{endpoint: "storage.buckets.testIamPermissions", bucket: rest[0]}, nil
		case len(rest) == 2 && rest[1] == "o" && get:
			return request{endpoint: "storage.objects.list", bucket: rest[0]}, nil
		case len(rest) >= 3 && rest[1] == "o":
			obj := strings.Join(rest[2:], "/")
			switch r.Method {
			case http.MethodGet, http.MethodHead:
				return request{endpoint: "storage.objects.get", bucket: rest[0], object: obj}, nil
			case http.MethodDelete:
				return request{endpoint: "storage.objects.delete", bucket: rest[0], object: obj}, nil
			case http.MethodPatch, http.MethodPut:
				return request{endpoint: "storage.objects.update", bucket: rest[0], object: obj}, nil
			}
		}
	case len(segs) >= 6 && segs[0] == "download" && segs[1] == "storage" && segs[2] == "v1" && segs[3] == "b" && segs[5] == "o" && get:
		return request{endpoint: "storage.objects.get", bucket: segs[4], object: strings.Join(segs[6:], "/")}, nil
	case len(segs) == 6 && segs[0] == "upload" && segs[1] == "storage" && segs[2] == "v1" && segs[3] == "b" && segs[5] == "o":
		return s.classifyUpload(r, segs[4])
	case len(segs) >= 2 && get && !reserved(segs[0]):
		// XML API read: /BUCKET/OBJECT (the Go client reads this way).
		return request{endpoint: "storage.objects.get", bucket: segs[0], object: strings.Join(segs[1:], "/"), xmlRead: true}, nil
	}
	return request{}, googleerr.NotFound("Not Found")
}

func reserved(first string) bool {
	switch first {
	case "storage", "upload", "download", "batch", "_internal":
		return true
	}
	return false
}

// classifyUpload finds the object an upload writes: from ?name=, from the
// metadata part of a multipart body, from the JSON body that starts a
// resumable upload, or from the upload id of a resumable continuation.
func (s *Server) classifyUpload(r *http.Request, bucket string) (request, *googleerr.Error) {
	q := request{endpoint: "storage.objects.create", bucket: bucket}
	query := r.URL.Query()
	if id := query.Get("upload_id"); id != "" {
		s.mu.Lock()
		res, ok := s.uploads[id]
		s.mu.Unlock()
		if !ok {
			return request{}, googleerr.NotFound("No such upload.")
		}
		q.uploadID = id
		q.object = strings.TrimPrefix(res, "projects/_/buckets/"+bucket+"/objects/")
		return q, nil
	}
	if r.Method != http.MethodPost {
		return request{}, googleerr.NotFound("Not Found")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxUploadBytes+1))
	if err != nil {
		return request{}, googleerr.InvalidArgument("Could not read the upload body.")
	}
	if int64(len(body)) > s.opts.MaxUploadBytes {
		return request{}, &googleerr.Error{Code: http.StatusRequestEntityTooLarge, Status: "OUT_OF_RANGE", Message: "Upload too large for the fake.", Reason: "uploadTooLarge"}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	q.object = query.Get("name")
	if q.object == "" {
		q.object = uploadName(r.Header.Get("Content-Type"), query.Get("uploadType"), body)
	}
	if q.object == "" {
		return request{}, googleerr.InvalidArgument("Required parameter: name")
	}
	return q, nil
}

// uploadName reads the object name from an upload body's metadata.
func uploadName(contentType, uploadType string, body []byte) string {
	var meta struct {
		Name string `json:"name"`
	}
	switch uploadType {
	case "resumable":
		if json.Unmarshal(body, &meta) == nil {
			return meta.Name
		}
	case "multipart":
		_, params, err := mime.ParseMediaType(contentType)
		if err != nil || params["boundary"] == "" {
			return ""
		}
		part, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).NextPart()
		if err != nil {
			return ""
		}
		if json.NewDecoder(io.LimitReader(part, 1<<20)).Decode(&meta) == nil {
			return meta.Name
		}
	}
	return ""
}

// segments splits an escaped path into unescaped segments.
func segments(escaped string) ([]string, error) {
	parts := strings.Split(strings.Trim(escaped, "/"), "/")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if len(out) == 1 && out[0] == "" {
		return nil, nil
	}
	return out, nil
}

// forwardChecked checks the route's permission and hands the request to the
// backend.
func (s *Server) forwardChecked(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[request](r)
	if _, gerr := s.opts.Auth.Check(r, q.permission(), q.resource()); gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	if _, ok := s.bucket(q.bucket); !ok {
		googleerr.Write(w, googleerr.NotFound("The specified bucket does not exist."))
		return
	}
	if q.xmlRead {
		r.Host = virtualHost
	}
	if q.endpoint == "storage.objects.create" && q.uploadID == "" && r.URL.Query().Get("uploadType") == "resumable" {
		s.startResumable(w, r, q)
		return
	}
	s.inner.ServeHTTP(w, r)
}

// startResumable forwards the start of a resumable upload and remembers which
// object its upload id writes, so that continuations are checked against it.
func (s *Server) startResumable(w http.ResponseWriter, r *http.Request, q request) {
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, r)
	if loc := rec.Header().Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil {
			if id := u.Query().Get("upload_id"); id != "" {
				s.mu.Lock()
				s.uploads[id] = q.resource()
				s.mu.Unlock()
			}
		}
	}
	copyResponse(w, rec)
}

// listBuckets answers storage.buckets.list: the project's buckets only.
func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[request](r)
	if q.project == "" {
		googleerr.Write(w, googleerr.InvalidArgument("Required parameter: project"))
		return
	}
	p, projectID, known := rest.ResolveProject(s.opts.World, q.project)
	if _, gerr := s.opts.Auth.Check(r, "storage.buckets.list", "projects/"+projectID); gerr != nil {
		if gerr.Code == http.StatusForbidden {
			gerr = &googleerr.Error{Code: gerr.Code, Status: gerr.Status, Reason: gerr.Reason, Message: projectDenied(gerr, "storage.buckets.list")}
		}
		googleerr.Write(w, gerr)
		return
	}
	if !known {
		googleerr.Write(w, googleerr.NotFound("The requested project was not found."))
		return
	}
	mine := map[string]bool{}
	for _, b := range s.opts.World.BucketsIn(p.ID) {
		s.ensure(b)
		mine[b.Name] = true
	}
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		copyResponse(w, rec)
		return
	}
	var list struct {
		Kind          string            `json:"kind"`
		Items         []json.RawMessage `json:"items"`
		NextPageToken string            `json:"nextPageToken,omitempty"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		googleerr.Write(w, googleerr.Unavailable("backend answered an unreadable bucket list"))
		return
	}
	prefix := r.URL.Query().Get("prefix")
	kept := []json.RawMessage{}
	for _, item := range list.Items {
		fixed, name, ok := s.fixBucket(item)
		if ok && mine[name] && strings.HasPrefix(name, prefix) {
			kept = append(kept, fixed)
		}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"kind": "storage#buckets", "items": kept})
}

// projectDenied is GCS's wording for a project-level denial.
func projectDenied(gerr *googleerr.Error, permission string) string {
	who := "The caller"
	if i := strings.Index(gerr.Message, " does not have "); i > 0 {
		who = gerr.Message[:i]
	}
	return fmt.Sprintf("%s does not have %s access to the Google Cloud project. Permission '%s' denied on resource (or it may not exist).", who, permission, permission)
}

// getBucket answers storage.buckets.get with the bucket's project and location.
func (s *Server) getBucket(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[request](r)
	if _, gerr := s.opts.Auth.Check(r, "storage.buckets.get", q.resource()); gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	if _, ok := s.bucket(q.bucket); !ok {
		googleerr.Write(w, googleerr.NotFound("The specified bucket does not exist."))
		return
	}
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		copyResponse(w, rec)
		return
	}
	fixed, _, ok := s.fixBucket(rec.Body.Bytes())
	if !ok {
		googleerr.Write(w, googleerr.Unavailable("backend answered an unreadable bucket"))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(fixed)
}

// fixBucket sets projectNumber and location from the world.
func (s *Server) fixBucket(raw []byte) (json.RawMessage, string, bool) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", false
	}
	name, _ := m["name"].(string)
	b, ok := s.opts.World.FindBucket(name)
	if !ok {
		return nil, name, false
	}
	if p, ok := s.opts.World.FindProject(b.Project); ok {
		m["projectNumber"] = strconv.FormatInt(p.Number, 10)
	}
	if b.Location != "" {
		m["location"] = strings.ToUpper(b.Location)
		if strings.Contains(b.Location, "-") {
			m["locationType"] = "region"
		} else {
			m["locationType"] = "multi-region"
		}
	}
	out, err := json.Marshal(m)
	return out, name, err == nil
}

// testPermissions answers storage.buckets.testIamPermissions: the subset of
// the asked permissions the caller holds on the bucket.
func (s *Server) testPermissions(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[request](r)
	asked := r.URL.Query()["permissions"]
	if len(asked) == 0 {
		googleerr.Write(w, googleerr.InvalidArgument("Required parameter: permissions"))
		return
	}
	held := []string{}
	for _, p := range asked {
		_, gerr := s.opts.Auth.Check(r, p, q.resource())
		switch {
		case gerr == nil:
			held = append(held, p)
		case gerr.Code == http.StatusUnauthorized:
			googleerr.Write(w, gerr)
			return
		}
	}
	if _, ok := s.bucket(q.bucket); !ok {
		googleerr.Write(w, googleerr.NotFound("The specified bucket does not exist."))
		return
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"kind": "storage#testIamPermissionsResponse", "permissions": held})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
