// Package fakegcp runs the whole fake Google Cloud: identity services (OAuth2 token
// endpoint, STS, IAM Credentials, metadata server, OIDC issuer, admin API) on one
// listener, and each resource service (storage, container, artifact registry, secret
// manager, resource manager, docker registry) on its own loopback listener.
//
// Start brings everything up for a World; Env returns the KEY=VALUE lines that point
// gcpconn and the Google client libraries at the fake; Close stops it all. The
// accessors (World, Tokens, Guard, Faults) let tests change the world, inspect tokens
// and inject faults in-process; IDToken mints caller ID tokens; KeyJSON returns
// credential files.
package fakegcp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/emulator/auth"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/identity"
	"github.com/gcpconn/gcpconn/emulator/internal/certs"
	"github.com/gcpconn/gcpconn/emulator/secrets"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Options configure Start.
type Options struct {
	// Addr is the identity listener's address (token, STS, IAM Credentials, metadata,
	// OIDC and admin endpoints); default "127.0.0.1:0". It must be a loopback address:
	// the admin API hands out keys and tokens to anyone who asks. Other services always
	// take free loopback ports.
	Addr string
	// KeysDir, when set, receives one credential file per service account and user
	// (EMAIL.json) and the CA certificate (ca.pem).
	KeysDir string
	// Now is the clock for token expiry (time.Now when nil).
	Now func() time.Time
	// PushURL, when set, receives Secret Manager notifications in Pub/Sub push format
	// (used when PUBSUB_EMULATOR_HOST is not configured).
	PushURL string
	// PushEmail and PushAudience, when set with PushURL, authenticate each push with an OIDC
	// ID token of PushEmail for PushAudience, as a push subscription's service account does.
	PushEmail, PushAudience string
	// PubSubEmulatorHost is the Pub/Sub emulator the Secret Manager fake publishes
	// notifications to ("" = none).
	PubSubEmulatorHost string
	// Issuers names additional OIDC issuers to create (CI systems, clusters; see
	// identity.Service.AddIssuer); Env gets FAKEGCP_ISSUER_NAME=URL for each.
	Issuers []string
	// Logger receives one line per served listener and per failure (slog.Default when nil).
	Logger *slog.Logger
}

// Server is a running fake Google Cloud.
type Server struct {
	opts     Options
	world    *world.World
	tokens   *tokens.Registry
	faults   *faults.Faults
	guard    *auth.Guard
	identity *identity.Service
	ca       *certs.CA

	secretManager *secrets.Server // set by startResources, for TickSecrets
	log           *slog.Logger

	mu       sync.Mutex
	servers  []*http.Server
	urls     map[string]string // base URL by service name
	env      map[string]string
	keyFiles map[string]string
	closers  []func() error
	closed   bool
}

// Start runs every fake service for w. Cancelling ctx does not stop the server; call Close.
func Start(ctx context.Context, w *world.World, opts Options) (*Server, error) {
	if w == nil {
		return nil, errors.New("fakegcp: nil world")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fakegcp: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if err := checkLoopback(opts.Addr); err != nil {
		return nil, fmt.Errorf("fakegcp: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ca, err := certs.NewCA("fakegcp local CA", opts.Now())
	if err != nil {
		return nil, fmt.Errorf("fakegcp: %w", err)
	}
	w.SetClock(opts.Now)
	reg := tokens.NewRegistry(opts.Now)
	f := faults.New()
	s := &Server{
		opts:   opts,
		world:  w,
		tokens: reg,
		faults: f,
		guard:  &auth.Guard{World: w, Tokens: reg},
		ca:     ca,
		log:    opts.Logger,
		urls:   map[string]string{},
		env:    map[string]string{},
	}
	if err := s.startIdentity(); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.startResources(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("fakegcp: start resources: %w", err)
	}
	if opts.KeysDir != "" {
		if err := s.writeKeys(opts.KeysDir); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("fakegcp: %w", err)
		}
	}
	return s, nil
}

// startIdentity serves the identity services and the admin API on opts.Addr.
func (s *Server) startIdentity() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("fakegcp: listen %s: %w", s.opts.Addr, err)
	}
	base := "http://" + ln.Addr().String()
	s.identity = identity.New(identity.Config{
		BaseURL: base,
		World:   s.world,
		Tokens:  s.tokens,
		Faults:  s.faults,
		Guard:   s.guard,
		Now:     s.opts.Now,
	})
	mux := http.NewServeMux()
	mux.Handle("/", s.identity.Handler())
	adm := s.faults.Handler()
	mux.Handle("/admin/counts", adm)
	mux.Handle("/admin/faults", adm)
	mux.Handle("/admin/reset", adm)
	mux.HandleFunc("POST /admin/secrets/tick", s.handleAdminSecretsTick)
	s.startServer("identity", ln, mux, nil)
	host := ln.Addr().String()
	s.setEnv("GCPCONN_ENDPOINT_OAUTH2", base)
	s.setEnv("GCPCONN_ENDPOINT_STS", base)
	s.setEnv("GCPCONN_ENDPOINT_IAMCREDENTIALS", base)
	s.setEnv("GCE_METADATA_HOST", host)
	s.setEnv("GCPCONN_ISSUER", s.identity.Issuer())
	s.setEnv("GCPCONN_JWKS_URL", s.identity.JWKSURL())
	s.setEnv("FAKEGCP_ADMIN_URL", base)
	for _, name := range s.opts.Issuers {
		u, err := s.identity.AddIssuer(name)
		if err != nil {
			return fmt.Errorf("fakegcp: %w", err)
		}
		s.setEnv("FAKEGCP_ISSUER_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_")), u)
	}
	if sa, ok := s.world.FindServiceAccount(s.world.RuntimeServiceAccount); ok {
		s.setEnv("GCPCONN_PROJECT", sa.Project)
	}
	return nil
}

// checkLoopback accepts "HOST:PORT" where HOST is a loopback IP or "localhost".
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("address %q is not loopback (127.0.0.1:PORT): the admin API has no authentication", addr)
	}
	return nil
}

// serveAPI serves the Google API h (plain HTTP) as name and exports its base URL as env.
func (s *Server) serveAPI(name, env string, h http.Handler) error {
	base, err := s.serve(name, h, false)
	if err != nil {
		return err
	}
	s.setEnv(env, base)
	return nil
}

// serve starts a listener on a free loopback port for the named service (TLS with a
// certificate from the fake's CA when useTLS), records it for Close and returns its base
// URL ("http://127.0.0.1:PORT" or "https://127.0.0.1:PORT").
func (s *Server) serve(name string, h http.Handler, useTLS bool) (baseURL string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen for %s: %w", name, err)
	}
	var tlsCfg *tls.Config
	if useTLS {
		cert, err := s.ca.Leaf(s.opts.Now(), "fakegcp")
		if err != nil {
			ln.Close()
			return "", fmt.Errorf("certificate for %s: %w", name, err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return s.startServer(name, ln, h, tlsCfg), nil
}

// leafCert issues a TLS server certificate from the fake's CA for extra host names
// (for example a cluster's DNS endpoint), for services that build their own tls.Config.
func (s *Server) leafCert(hosts ...string) (tls.Certificate, error) {
	return s.ca.Leaf(s.opts.Now(), "fakegcp", hosts...)
}

func (s *Server) startServer(name string, ln net.Listener, h http.Handler, tlsCfg *tls.Config) string {
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
		ln = tls.NewListener(ln, tlsCfg)
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		h = logRequests(s.log, name, h)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	base := scheme + "://" + ln.Addr().String()
	s.mu.Lock()
	s.servers = append(s.servers, srv)
	s.urls[name] = base
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("fakegcp: serve", "service", name, "err", err)
		}
	}()
	return base
}

// setEnv records a KEY=VALUE line for Env.
func (s *Server) setEnv(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.env[key] = value
}

// onClose registers a clean-up function that Close runs (in reverse order) after the
// listeners have stopped.
func (s *Server) onClose(fn func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, fn)
}

func (s *Server) writeKeys(dir string) error {
	paths, err := s.world.WriteKeyFiles(dir)
	if err != nil {
		return err
	}
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, s.ca.CertPEM(), 0o644); err != nil {
		return fmt.Errorf("write ca cert: %w", err)
	}
	s.mu.Lock()
	s.keyFiles = paths
	s.mu.Unlock()
	s.setEnv("FAKEGCP_KEYS_DIR", dir)
	s.setEnv("FAKEGCP_CA_CERT", caPath)
	return nil
}

// Close stops every listener and releases held requests.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	servers, closers := s.servers, s.closers
	s.mu.Unlock()
	s.faults.Close()
	var errs []error
	for _, srv := range servers {
		if err := srv.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Env returns the KEY=VALUE lines that point gcpconn and the Google libraries at the
// fake, sorted by key.
func (s *Server) Env() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.env))
	for k, v := range s.env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// EnvMap is Env as a map from each variable to its value.
func (s *Server) EnvMap() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.env)
}

// URL returns the base URL of a named service ("identity", "storage", ...), or "".
func (s *Server) URL(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urls[name]
}

// BaseURL is the identity listener's base URL: token endpoint BASE/token, STS
// BASE/v1/token, IAM Credentials BASE/v1/..., metadata, OIDC and admin.
func (s *Server) BaseURL() string { return s.URL("identity") }

// KeyFiles returns the credential files written to Options.KeysDir, by email (a copy; nil
// when none were written).
func (s *Server) KeyFiles() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.keyFiles)
}

// World returns the fake's world.
func (s *Server) World() *world.World { return s.world }

// Tokens returns the access token registry.
func (s *Server) Tokens() *tokens.Registry { return s.tokens }

// Guard returns the request authoriser the services share.
func (s *Server) Guard() *auth.Guard { return s.guard }

// Faults returns the call counter and fault injector.
func (s *Server) Faults() *faults.Faults { return s.faults }

// Identity returns the identity services (OIDC issuer and token minting).
func (s *Server) Identity() *identity.Service { return s.identity }

// CACertPEM returns the PEM certificate of the CA that signs the fake's TLS services.
func (s *Server) CACertPEM() []byte { return s.ca.CertPEM() }

// IDToken mints an ID token from the fake's OIDC issuer for any email and audience, as
// Google would for a caller of gcpconn.
func (s *Server) IDToken(email, audience string) (string, error) {
	return s.identity.IDToken(email, audience)
}

// IssuerToken mints a token of the additional issuer name (GitHub-Actions-shaped claims, or
// a broken variant), as POST /admin/issuers/NAME/token does.
func (s *Server) IssuerToken(name string, req identity.IssuerTokenRequest) (string, error) {
	tok, _, err := s.identity.IssuerToken(name, req)
	return tok, err
}

// KeyJSON returns the credential file of a service account (service_account key) or
// user (authorized_user). token_uri is Google's.
func (s *Server) KeyJSON(email string) ([]byte, error) {
	return s.world.CredentialJSON(email)
}

// logRequests logs one debug line per request: service, method, path (never the query
// or headers, which may carry tokens), status and duration.
func logRequests(log *slog.Logger, service string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		log.Debug("fakegcp request", "service", service, "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "duration", time.Since(start))
	})
}

// statusWriter records the status code; Unwrap and Flush keep http.ResponseController
// and streaming handlers working.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
