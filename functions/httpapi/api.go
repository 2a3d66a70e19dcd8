// Package httpapi exposes gcpconn's core (connector.Service) as its HTTP functions (the
// contract is functions/openapi.yaml): register, verify, list, mint-token, sweep, and the
// refresh CloudEvent function.
//
// # Shape
//
// Each function has its own file with one thin handler: decode the request into a wire type
// (wire.go), authenticate the caller, call one Service method, and encode a wire type or map
// the error through the one error table (errors.go). The frame around it is serve and
// serveBody (serve.go). No rule of the domain lives here:
// authorization, validation and lifetimes are decided by the core.
//
// Requests are JSON (415 for another content type) with a size cap (413 above it), a time
// limit for the body to arrive (408), and exact decoding (shared/exactjson: keys match exactly,
// duplicate and unknown keys are a 400 naming them at any depth, numbers out of range are
// refused quoting what was sent). Query parameters must be UTF-8. A request whose caller
// went away is logged as cancelled (499), not as an error. Every answer carries "Cache-Control: no-store". Errors are
// {"error":{"code","message","field"}} with the stable codes of the error table; internal
// errors are logged with their details and answered with a generic message.
//
// Callers authenticate with a Google-signed ID token (see shared/callerauth); sweep and
// refresh are for admins only. Every mint writes one audit entry (caller, connector,
// resource, lifetime, cache hit, token fingerprint; never the token).
//
// Operators watch the service through its logs (oplog.go): refused callers (auth_failure,
// with the issuer their token claims) and Google's errors (upstream_error, naming the API) are
// "event" lines that infra/monitoring.tf counts. Each request is an OpenTelemetry span named
// after its function, and all its log lines carry its trace, generated when the request has
// no trace header (trace.go).
package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

	"github.com/gcpconn/gcpconn/functions/wire"
	"github.com/gcpconn/gcpconn/internal/inject"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/exactjson"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Defaults of API's zero fields.
const (
	DefaultMaxBodyBytes   = 256 << 10
	DefaultRequestTimeout = 60 * time.Second
	// DefaultBodyTimeout bounds the arrival of a request body, counted from the moment the
	// handler starts reading it (a body that drips in a byte at a time is cut off with a 408).
	DefaultBodyTimeout = 30 * time.Second
)

// Authenticator identifies the caller of a request (callerauth.Verifier implements it).
// Errors must be connector errors (ErrUnauthenticated, or ErrUpstreamUnavailable when the
// caller cannot be checked right now). It must be safe for concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (connector.Principal, error)
}

// Gate admits an authenticated caller to a function (by the name it is started with:
// "register", "mint-token", ...) before anything else is done for the request: no store is
// read for a caller it refuses. callergate.Gate implements it. An error with a
// RateLimitWait() time.Duration method is answered 429 rate_limited with Retry-After; other
// errors go through the error table.
type Gate interface {
	Admit(fn string, p connector.Principal) error
}

// API serves the functions over one connector.Service. Its handlers are safe for concurrent
// use. Fields must not change once it serves.
type API struct {
	// Service returns the core service, typically built once on first use; an error is
	// logged and answered with a 500.
	Service func(ctx context.Context) (*connector.Service, error)
	// Keeper returns the background work over that Service (sweep, key rotation:
	// shared/upkeep), typically built with it; nil means a Keeper over Service without key
	// rotation or sweep runs (a sweep then runs in its request).
	Keeper func(ctx context.Context) (*upkeep.Keeper, error)
	// Auth authenticates callers; required.
	Auth Authenticator
	// Gate admits authenticated callers (allowlist, rate limit); nil admits everyone.
	Gate Gate
	// Log receives errors and audit entries; nil discards them.
	Log *slog.Logger
	// MaxBodyBytes caps request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// FunctionTimeout is the platform's timeout of the deployed function (the deploy
	// manifest's timeout, GCPCONN_TIMEOUT_SECONDS): when set, every request's context ends
	// DeadlineMargin(FunctionTimeout) before it, so that the handler still has time to clean
	// up, write statuses and answer before the platform cuts the request. It overrides
	// RequestTimeout.
	FunctionTimeout time.Duration
	// RequestTimeout bounds a request whose context has no deadline yet when FunctionTimeout
	// is not set (Cloud Run and the functions framework put none on the context); 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// BodyTimeout bounds how long a request body may take to arrive, never past the request's
	// deadline; 0 means DefaultBodyTimeout.
	BodyTimeout time.Duration
	// SweepDefaults holds the defaults of POST /sweep (GCPCONN_SWEEP_CONCURRENCY).
	SweepDefaults upkeep.SweepOptions
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	authLog cloudlog.Sampler // bounds the auth_failure lines anonymous callers can cause (authLogPerMinute)
}

// Route names one function of the API: its name, the path it is served at, and its handler.
type Route struct {
	Name       string // entry point name for deployment, e.g. MintToken
	Path       string // local path, e.g. /mint-token
	Methods    []string
	Handler    http.HandlerFunc
	CloudEvent bool // refresh: a CloudEvent function deployed; served locally over HTTP
}

// Routes lists every function: the one list that entrypoints.go, functions/app,
// functions/cmd/serve and infra/functions.json follow (infra/infratest checks them against it).
// Handler serves each route's path, and a request whose method the route does not list is
// answered 405.
func (a *API) Routes() []Route {
	return []Route{
		{Name: "Register", Path: "/register", Methods: []string{http.MethodPost, http.MethodPut, http.MethodDelete}, Handler: a.Register},
		{Name: "Verify", Path: "/verify", Methods: []string{http.MethodPost}, Handler: a.Verify},
		{Name: "List", Path: "/list", Methods: []string{http.MethodGet}, Handler: a.List},
		{Name: "MintToken", Path: "/mint-token", Methods: []string{http.MethodPost}, Handler: a.MintToken},
		{Name: "Rotate", Path: "/rotate", Methods: []string{http.MethodPost}, Handler: a.Rotate},
		{Name: "Sweep", Path: "/sweep", Methods: []string{http.MethodPost, http.MethodGet}, Handler: a.Sweep},
		{Name: "SweepShard", Path: "/sweep-shard", Methods: []string{http.MethodPost}, Handler: a.SweepShard},
		{Name: "Refresh", Path: "/refresh", Methods: []string{http.MethodPost}, Handler: a.RefreshHTTP, CloudEvent: true},
	}
}

// Handler serves every function at its path (/register, /verify, ...).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.Routes() {
		mux.Handle(rt.Path, rt.Handler)
	}
	paths := a.paths()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrorBody(w, http.StatusNotFound, string(connector.ErrNotFound),
			fmt.Sprintf("no function at %s; the functions are %s", r.URL.Path, paths), "")
	})
	return mux
}

// methodsOf returns the methods the route at path accepts, from Routes() (read once).
func methodsOf(path string) []string {
	routeMethodsOnce.Do(func() {
		routeMethods = map[string][]string{}
		for _, rt := range (&API{}).Routes() {
			routeMethods[rt.Path] = rt.Methods
		}
	})
	return routeMethods[path]
}

var (
	routeMethodsOnce sync.Once
	routeMethods     map[string][]string
)

// paths lists the routes' paths for an error message: "/a, /b and /c".
func (a *API) paths() string {
	var ps []string
	for _, rt := range a.Routes() {
		ps = append(ps, rt.Path)
	}
	if len(ps) < 2 {
		return strings.Join(ps, "")
	}
	return strings.Join(ps[:len(ps)-1], ", ") + " and " + ps[len(ps)-1]
}

func (a *API) log() *slog.Logger { return inject.Log(a.Log) }

func (a *API) now() time.Time { return inject.Now(a.Now) }

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
	span   trace.Span // the request's span (trace.go)
}

// start checks the method (the route's Methods), puts the trace and a deadline on the context, authenticates the
// caller and gets the service. When it returns false the answer has been written. The
// caller must defer c.done().
func (a *API) start(w http.ResponseWriter, r *http.Request, entry string) (*call, bool) {
	methods := methodsOf("/" + entry)
	w.Header()["Cache-Control"] = noStore
	c := &call{a: a, w: w, r: r, entry: entry, cancel: func() {}}
	c.ctx, c.span = traceRequest(r.Context(), r, entry)
	c.ctx, c.cancel = a.withDeadline(c.ctx)
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
	p, err := a.authenticate(c.ctx, r)
	if err != nil {
		if k := connector.KindOf(err); k != connector.ErrUpstreamUnavailable && k != connector.ErrInternal {
			err = &connector.Error{Kind: connector.ErrUnauthenticated, Message: connector.MessageOf(err), Err: err}
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		c.logAuthFailure(err)
		answerError(c.ctx, w, a.log(), entry, err, false)
		return c, false
	}
	c.p = p
	if !c.admit() {
		return c, false
	}
	if err := checkQuery(r); err != nil {
		c.fail(err)
		return c, false
	}
	svc, err := a.Service(c.ctx)
	if err != nil {
		c.fail(fmt.Errorf("httpapi: build service: %w", err))
		return c, false
	}
	c.svc = svc
	return c, true
}

// contextAuthenticator is an Authenticator that takes the request's context apart
// (callerauth.Verifier): the request is not copied to carry the deadline and the trace.
type contextAuthenticator interface {
	AuthenticateContext(ctx context.Context, r *http.Request) (connector.Principal, error)
}

// authenticate authenticates r's caller under ctx.
func (a *API) authenticate(ctx context.Context, r *http.Request) (connector.Principal, error) {
	if ca, ok := a.Auth.(contextAuthenticator); ok {
		return ca.AuthenticateContext(ctx, r)
	}
	return a.Auth.Authenticate(r.WithContext(ctx))
}

// keeper gets the background work of the API's Service (see API.Keeper).
func (c *call) keeper() (*upkeep.Keeper, error) {
	if c.a.Keeper == nil {
		return &upkeep.Keeper{Service: c.svc}, nil
	}
	k, err := c.a.Keeper(c.ctx)
	if err != nil {
		return nil, fmt.Errorf("httpapi: build service: %w", err)
	}
	return k, nil
}

// keeper gets the background work of the API's Service (see API.Keeper) outside a request
// (the refresh CloudEvent).
func (a *API) keeper(ctx context.Context) (*upkeep.Keeper, error) {
	if a.Keeper != nil {
		return a.Keeper(ctx)
	}
	svc, err := a.Service(ctx)
	if err != nil {
		return nil, err
	}
	return &upkeep.Keeper{Service: svc}, nil
}

func (c *call) done() {
	c.cancel()
	c.span.End()
}

// withDeadline puts the request's deadline on ctx: FunctionTimeout minus its margin from now
// when set (an earlier deadline already on ctx stays), else RequestTimeout when ctx has none.
// Its timer is made only when something waits on the context (deadlineCtx).
func (a *API) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.FunctionTimeout > 0 {
		return withLazyDeadline(ctx, time.Now().Add(a.FunctionTimeout-DeadlineMargin(a.FunctionTimeout)))
	}
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	d := a.RequestTimeout
	if d <= 0 {
		d = DefaultRequestTimeout
	}
	return withLazyDeadline(ctx, time.Now().Add(d))
}

// Bounds of DeadlineMargin.
const (
	MinDeadlineMargin = 500 * time.Millisecond
	MaxDeadlineMargin = 30 * time.Second
)

// DeadlineMargin is how much of a function's timeout is kept back from its requests' work,
// for cleanup, status writes and the answer: a tenth of it, at least MinDeadlineMargin and at
// most MaxDeadlineMargin, and never more than half of it (60 s leaves 54 s of work, 540 s
// leaves 510 s).
func DeadlineMargin(timeout time.Duration) time.Duration {
	m := min(max(timeout/10, MinDeadlineMargin), MaxDeadlineMargin)
	return min(m, timeout/2)
}

// admit asks the Gate whether the caller may call this function now; when it returns false
// the answer has been written.
func (c *call) admit() bool {
	if c.a.Gate == nil {
		return true
	}
	err := c.a.Gate.Admit(c.entry, c.p)
	if err == nil {
		return true
	}
	var rl interface{ RateLimitWait() time.Duration } // escapes to errors.As: only when refused
	switch {
	case errors.As(err, &rl):
		c.w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(rl.RateLimitWait().Seconds())))))
		writeErrorBody(c.w, http.StatusTooManyRequests, codeRateLimited, err.Error(), "")
	default:
		c.fail(err)
	}
	return false
}

// fail answers err through the error table.
func (c *call) fail(err error) {
	code, status := codeOf(c.ctx, err)
	spanFailed(c.span, code, status)
	writeError(c.ctx, c.w, c.a.log(), c.entry, err)
}

// decode reads the JSON body into v exactly (shared/exactjson): one value, keys matching
// exactly, no duplicate or unknown keys at any level, numbers that fit their fields; at most
// MaxBodyBytes, arriving within BodyTimeout (and the request's deadline). The content type
// must be JSON when given. An empty body is allowed only when emptyOK. On failure it answers
// the request and returns false.
func (c *call) decode(v any, emptyOK bool) bool {
	body, ok := c.body(emptyOK)
	if !ok || body == nil {
		return ok
	}
	if err := decodeStrict(body, v); err != nil {
		c.fail(err)
		return false
	}
	return true
}

// decodeMint is decode for a mint request: a common body is read by hand (decodeMintFast),
// without b escaping to the heap; any other goes through decodeStrict, which writes every
// refusal.
func (c *call) decodeMint(b *wire.MintRequest) bool {
	body, ok := c.body(false)
	if !ok {
		return false
	}
	if decodeMintFast(body, b) {
		return true
	}
	var slow wire.MintRequest // escapes into exactjson: allocated only here
	if err := decodeStrict(body, &slow); err != nil {
		c.fail(err)
		return false
	}
	*b = slow
	return true
}

// body checks the content type and reads the body for decode; on failure it answers the
// request and returns false. An empty (or blank) body is nil, true when emptyOK.
func (c *call) body(emptyOK bool) ([]byte, bool) {
	if err := checkContentType(headerValue(c.r.Header, "Content-Type")); err != nil {
		writeErrorBody(c.w, http.StatusUnsupportedMediaType, codeUnsupportedMedia, err.Error(), "")
		return nil, false
	}
	body, err := c.readBody()
	if err != nil {
		c.failRead(err)
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil, true
		}
		c.fail(connector.Errorf(connector.ErrInvalid, "request body is empty: send a JSON object"))
		return nil, false
	}
	return body, true
}

// failRead answers a body that could not be read: too large (413), too slow (408), or else.
func (c *call) failRead(err error) {
	var mbe *http.MaxBytesError // escapes to errors.As: only on failure
	switch {
	case errors.As(err, &mbe):
		writeErrorBody(c.w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), "")
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.w.Header().Set("Connection", "close")
		writeErrorBody(c.w, http.StatusRequestTimeout, codeRequestTimeout,
			fmt.Sprintf("the request body did not arrive in time (limit %s)", c.a.bodyTimeout()), "")
	default:
		c.fail(connector.Errorf(connector.ErrInvalid, "request body could not be read"))
	}
}

// readBody reads the body under a read deadline on the connection: BodyTimeout from now,
// never past the request's deadline. The deadline is cleared once the body is in, so that it
// cannot cut the connection's later reads.
func (c *call) readBody() ([]byte, error) {
	limit := c.a.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	deadline := time.Now().Add(c.a.bodyTimeout())
	if d, ok := c.ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	rc := http.NewResponseController(c.w)
	if rc.SetReadDeadline(deadline) == nil { // not every ResponseWriter supports it
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	return readAll(http.MaxBytesReader(c.w, c.r.Body, limit), c.r.ContentLength, limit)
}

// readAll reads r to its end into a buffer sized for the announced length (when it is
// within the limit), so that a body costs its size once rather than the doublings of
// io.ReadAll.
func readAll(r io.Reader, announced, limit int64) ([]byte, error) {
	size := int64(512)
	if announced > 0 && announced <= limit {
		size = announced + 1 // +1: reading the end needs no second buffer
	}
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case err == io.EOF:
			return b, nil
		case err != nil:
			return b, err
		case len(b) == cap(b):
			b = slices.Grow(b, len(b)) // double
		}
	}
}

func (a *API) bodyTimeout() time.Duration {
	if a.BodyTimeout > 0 {
		return a.BodyTimeout
	}
	return DefaultBodyTimeout
}

// headerValue is h.Get(key) for a key already in canonical form (Get canonicalizes it on
// every call).
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// acceptedTypes names the content types a request body may have.
const acceptedTypes = "application/json (or a +json type such as application/cloudevents+json)"

// checkContentType accepts no content type, application/json and the +json types.
func checkContentType(ct string) error {
	if ct == "application/json" || strings.TrimSpace(ct) == "" { // the common case, without parsing
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	return fmt.Errorf("request bodies are JSON: send Content-Type %s, not %q", acceptedTypes, ct)
}

// checkQuery refuses query parameters that are not valid UTF-8 (names or values), naming
// the parameter, before anything reaches a store.
func checkQuery(r *http.Request) error {
	if r.URL.RawQuery == "" { // most requests: ParseQuery would make a map
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return connector.Errorf(connector.ErrInvalid, "the query string is malformed: %v", err)
	}
	for k, vs := range q {
		if !utf8.ValidString(k) {
			return connector.Errorf(connector.ErrInvalid, "a query parameter name is not valid UTF-8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return connector.FieldErrorf(k, "query parameter %q is not valid UTF-8 text", k)
			}
		}
	}
	return nil
}

// decodeStrict decodes one JSON value into v exactly (see shared/exactjson).
func decodeStrict(body []byte, v any) error {
	err := exactjson.Decode(body, v)
	var e *exactjson.Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &e):
		return connector.Errorf(connector.ErrInvalid, "request body could not be decoded")
	case e.Path == "":
		return connector.Errorf(connector.ErrInvalid, "request body %s", e.Msg)
	case strings.HasPrefix(e.Msg, "unknown field"):
		return connector.FieldErrorf(e.Path, "%s", e.Msg)
	}
	return connector.FieldErrorf(e.Path, "field %q %s", e.Path, e.Msg)
}
