// Package httpapi exposes gcpconn's core (connector.Service) as the HTTP functions of
// DESIGN §4: register, verify, list, mint-token, sweep, and the refresh CloudEvent function.
//
// # Shape
//
// Each function has its own file with one thin handler: decode the request into a wire type
// (wire.go), authenticate the caller, call one Service method, and encode a wire type or map
// the error through the one error table (errors.go). No rule of the domain lives here:
// authorization, validation and lifetimes are decided by the core.
//
// Requests are JSON with a size cap (413 above it) and strict decoding (an unknown field is a
// 400 naming it). Every answer carries "Cache-Control: no-store". Errors are
// {"error":{"code","message","field"}} with the stable codes of the error table; internal
// errors are logged with their details and answered with a generic message.
//
// Callers authenticate with a Google-signed ID token (see shared/callerauth); sweep and
// refresh are for admins only. Every mint writes one audit entry (caller, connector,
// resource, lifetime, cache hit, token fingerprint; never the token).
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// Defaults of API's zero fields.
const (
	DefaultMaxBodyBytes   = 256 << 10
	DefaultRequestTimeout = 60 * time.Second
)

// Authenticator identifies the caller of a request (callerauth.Verifier implements it).
// Errors must be connector errors (ErrUnauthenticated, or ErrUpstreamUnavailable when the
// caller cannot be checked right now). It must be safe for concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (connector.Principal, error)
}

// API serves the functions over one connector.Service. Its handlers are safe for concurrent
// use. Fields must not change once it serves.
type API struct {
	// Service returns the core service, typically built once on first use; an error is
	// logged and answered with a 500.
	Service func(ctx context.Context) (*connector.Service, error)
	// Auth authenticates callers; required.
	Auth Authenticator
	// Log receives errors and audit entries; nil discards them.
	Log *slog.Logger
	// MaxBodyBytes caps request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RequestTimeout bounds a request whose context has no deadline yet (on Cloud Run the
	// platform's deadline is already on the context); 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// SweepDefaults holds the defaults of POST /sweep (GCPCONN_SWEEP_CONCURRENCY).
	SweepDefaults connector.SweepOptions
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Route names one function of the API: its name, the path it is served at, and its handler.
type Route struct {
	Name       string // entry point name for deployment, e.g. MintToken
	Path       string // local path, e.g. /mint-token
	Methods    []string
	Handler    http.HandlerFunc
	CloudEvent bool // refresh: a CloudEvent function deployed; served locally over HTTP
}

// Routes lists every function, in the order of DESIGN §1.
func (a *API) Routes() []Route {
	return []Route{
		{Name: "Register", Path: "/register", Methods: []string{http.MethodPost, http.MethodPut, http.MethodDelete}, Handler: a.Register},
		{Name: "Verify", Path: "/verify", Methods: []string{http.MethodPost}, Handler: a.Verify},
		{Name: "List", Path: "/list", Methods: []string{http.MethodGet}, Handler: a.List},
		{Name: "MintToken", Path: "/mint-token", Methods: []string{http.MethodPost}, Handler: a.MintToken},
		{Name: "Sweep", Path: "/sweep", Methods: []string{http.MethodPost}, Handler: a.Sweep},
		{Name: "Refresh", Path: "/refresh", Methods: []string{http.MethodPost}, Handler: a.RefreshHTTP, CloudEvent: true},
	}
}

// Handler serves every function at its path (/register, /verify, ...).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.Routes() {
		mux.Handle(rt.Path, rt.Handler)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrorBody(w, http.StatusNotFound, string(connector.ErrNotFound),
			fmt.Sprintf("no function at %s; the functions are /register, /verify, /list, /mint-token, /sweep and /refresh", r.URL.Path), "")
	})
	return mux
}

func (a *API) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// call is one request being served.
type call struct {
	a      *API
	w      http.ResponseWriter
	r      *http.Request
	ctx    context.Context
	entry  string
	p      connector.Principal
	svc    *connector.Service
	cancel context.CancelFunc
}

// start checks the method, puts the trace and a deadline on the context, authenticates the
// caller and gets the service. When it returns false the answer has been written. The
// caller must defer c.done().
func (a *API) start(w http.ResponseWriter, r *http.Request, entry string, methods ...string) (*call, bool) {
	w.Header().Set("Cache-Control", "no-store")
	c := &call{a: a, w: w, r: r, ctx: r.Context(), entry: entry, cancel: func() {}}
	if t, ok := cloudlog.TraceFromHeaders(r.Header); ok {
		c.ctx = cloudlog.WithTrace(c.ctx, t)
	}
	if _, ok := c.ctx.Deadline(); !ok {
		d := a.RequestTimeout
		if d <= 0 {
			d = DefaultRequestTimeout
		}
		c.ctx, c.cancel = context.WithTimeout(c.ctx, d)
	}
	allowed := false
	for _, m := range methods {
		allowed = allowed || r.Method == m
	}
	if !allowed {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeErrorBody(w, http.StatusMethodNotAllowed, codeMethodNotAllowed,
			fmt.Sprintf("%s does not accept %s; use %s", r.URL.Path, r.Method, strings.Join(methods, " or ")), "")
		return c, false
	}
	if a.Auth == nil {
		c.fail(connector.Errorf(connector.ErrInternal, "httpapi: no authenticator configured"))
		return c, false
	}
	p, err := a.Auth.Authenticate(r.WithContext(c.ctx))
	if err != nil {
		if k := connector.KindOf(err); k != connector.ErrUpstreamUnavailable && k != connector.ErrInternal {
			err = &connector.Error{Kind: connector.ErrUnauthenticated, Message: connector.MessageOf(err), Err: err}
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		c.fail(err)
		return c, false
	}
	c.p = p
	svc, err := a.Service(c.ctx)
	if err != nil {
		c.fail(fmt.Errorf("httpapi: build service: %w", err))
		return c, false
	}
	c.svc = svc
	return c, true
}

func (c *call) done() { c.cancel() }

// fail answers err through the error table.
func (c *call) fail(err error) {
	writeError(c.ctx, c.w, c.a.log(), c.entry, err)
}

// decode reads the JSON body into v strictly: one object, no unknown fields, at most
// MaxBodyBytes. An empty body is allowed only when emptyOK. On failure it answers the
// request and returns false.
func (c *call) decode(v any, emptyOK bool) bool {
	limit := c.a.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeErrorBody(c.w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("request body is larger than %d bytes", limit), "")
		return false
	}
	if err != nil {
		c.fail(connector.Errorf(connector.ErrInvalid, "request body could not be read"))
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return true
		}
		c.fail(connector.Errorf(connector.ErrInvalid, "request body is empty: send a JSON object"))
		return false
	}
	if err := decodeStrict(body, v); err != nil {
		c.fail(err)
		return false
	}
	return true
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and trailing data.
func decodeStrict(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return jsonError(err)
	}
	if d.More() {
		return connector.Errorf(connector.ErrInvalid, "request body holds more than one JSON value")
	}
	if _, err := d.Token(); err != io.EOF {
		return connector.Errorf(connector.ErrInvalid, "request body holds data after the JSON object")
	}
	return nil
}

// jsonError turns a decoding error into an invalid_argument naming the field when known.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return connector.Errorf(connector.ErrInvalid, "request body must be a JSON object, not %s", te.Value)
		}
		return connector.FieldErrorf(te.Field, "field %q must be %s, not %s", te.Field, jsonType(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return connector.Errorf(connector.ErrInvalid, "request body is not valid JSON: %v", err)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name := strings.Trim(f, `"`)
		return connector.FieldErrorf(name, "unknown field %q", name)
	}
	var tpe *time.ParseError
	if errors.As(err, &tpe) {
		return connector.Errorf(connector.ErrInvalid, "a time field is not RFC 3339 (e.g. 2026-01-02T15:04:05Z): %q", tpe.Value)
	}
	return connector.Errorf(connector.ErrInvalid, "request body could not be decoded: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "int32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "of another type"
}
