// Package rest is the request plumbing the fake Google resource services share
// (storage, container, Artifact Registry, Secret Manager, Resource Manager).
//
// Vocabulary:
//   - an endpoint is the stable name under which a call is counted and can be
//     made slow or failing ("container.clusters.get"); Routes wraps each
//     endpoint's handler with the service's Wrapper (emulator/faults) once, when
//     the service is built;
//   - a call is what a service's router parsed from the request path (project,
//     location, resource name, ...). The router attaches it with WithCall and
//     hands the request to the endpoint's wrapped handler, which reads it back
//     with CallFrom: parsing happens before the fault point, handling after it;
//   - a project in a path may be named by id or number; ResolveProject gives
//     the id IAM checks use, whether or not the world knows the project (the
//     permission check comes first, so a stranger cannot probe for projects);
//   - a page is a window of a sorted list, chosen by the pageSize and pageToken
//     query parameters of Google's list methods (Page).
//
// Answers: WriteProto (protojson, the REST flavour of the generated clients)
// and WriteJSON; errors are written with emulator/googleerr.
package rest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Authorizer authenticates a request's bearer token and checks one IAM permission on one
// resource (emulator/auth.Guard satisfies it).
type Authorizer interface {
	Check(r *http.Request, permission, resource string) (tokens.Token, *googleerr.Error)
}

// Wrapper counts calls per endpoint and injects faults (emulator/faults.Faults
// satisfies it).
type Wrapper interface {
	Wrap(endpoint string, h http.Handler) http.Handler
}

// Wrap returns h wrapped under endpoint by f, or h itself when f is nil.
func Wrap(f Wrapper, endpoint string, h http.Handler) http.Handler {
	if f == nil {
		return h
	}
	return f.Wrap(endpoint, h)
}

// Routes wraps every endpoint's handler with f (see Wrap).
func Routes(f Wrapper, handlers map[string]http.HandlerFunc) map[string]http.Handler {
	routes := make(map[string]http.Handler, len(handlers))
	for endpoint, h := range handlers {
		routes[endpoint] = Wrap(f, endpoint, h)
	}
	return routes
}

type callKey[T any] struct{}

// WithCall returns r carrying the parsed call c.
func WithCall[T any](r *http.Request, c T) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callKey[T]{}, c))
}

// CallFrom returns the call WithCall attached to r (the zero T if none).
func CallFrom[T any](r *http.Request) T {
	c, _ := r.Context().Value(callKey[T]{}).(T)
	return c
}

// ProjectFinder looks projects up by id or number (*world.World satisfies it).
type ProjectFinder interface {
	FindProject(idOrNumber string) (world.Project, bool)
}

// ResolveProject looks up a project named by id or number. id is the project's
// id when the world knows it, else the name as given, for use in IAM resource
// names ("projects/" + id).
func ResolveProject(f ProjectFinder, idOrNumber string) (p world.Project, id string, known bool) {
	p, known = f.FindProject(idOrNumber)
	if !known {
		return world.Project{}, idOrNumber, false
	}
	return p, p.ID, true
}

// CheckInProject resolves a project named by id or number (ResolveProject) and checks
// permission with a on "projects/ID" followed by under (a resource below the project, or
// "" for the project itself). When the check fails it answers Google's error and ok is
// false; known says whether the world has the project.
func CheckInProject(w http.ResponseWriter, r *http.Request, a Authorizer, f ProjectFinder, project, under, permission string) (p world.Project, known, ok bool) {
	p, id, known := ResolveProject(f, project)
	if _, gerr := a.Check(r, permission, "projects/"+id+under); gerr != nil {
		googleerr.Write(w, gerr)
		return world.Project{}, false, false
	}
	return p, known, true
}

// Page applies the request's pageSize and pageToken to a sorted list of n
// items: the page is items[start:end], and next is the token of the following
// page ("" on the last one). pageSize 0 or absent means maxSize; larger sizes
// are capped at maxSize. A negative size or a token this function did not
// issue for a list this long is INVALID_ARGUMENT.
func Page(r *http.Request, n, maxSize int) (start, end int, next string, gerr *googleerr.Error) {
	size := maxSize
	q := r.URL.Query()
	if v := q.Get("pageSize"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 {
			return 0, 0, "", googleerr.InvalidArgument("Invalid page_size.")
		}
		if p > 0 && p < size {
			size = p
		}
	}
	if v := q.Get("pageToken"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		off, ok := strings.CutPrefix(string(b), "offset:")
		p, perr := strconv.Atoi(off)
		if err != nil || !ok || perr != nil || p < 0 || p > n {
			return 0, 0, "", googleerr.InvalidArgument("Invalid page_token.")
		}
		start = p
	}
	end = min(start+size, n)
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return start, end, next, nil
}

// WriteProto answers 200 with m as proto3 JSON.
func WriteProto(w http.ResponseWriter, m proto.Message) {
	b, err := protojson.Marshal(m)
	if err != nil {
		googleerr.Write(w, googleerr.Internal("marshal response"))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// WritePage answers the page of items that the request's pageSize and pageToken select (at
// most maxSize items, see Page): list builds the answer from the page and the next page's
// token ("" on the last page). A malformed pageSize or pageToken is answered as Google does.
func WritePage[T any](w http.ResponseWriter, r *http.Request, items []T, maxSize int, list func(page []T, next string) proto.Message) {
	start, end, next, gerr := Page(r, len(items), maxSize)
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	WriteProto(w, list(items[start:end], next))
}

// WriteJSON answers code with v as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
