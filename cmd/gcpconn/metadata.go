package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
	"github.com/gcpconn/gcpconn/internal/httpserve"
)

func serveMetadataCommand() *command {
	return &command{
		Name:    "serve-metadata",
		Args:    "NAME",
		Summary: "Serve a connector's tokens as a local metadata server for the Google client libraries",
		Help: `
Every Google client library falls back to the metadata server for credentials, and honours
GCE_METADATA_HOST. serve-metadata answers the metadata token endpoint with tokens minted by
the connector (refreshed before they expire), so programs using Application Default
Credentials work through gcpconn without any key on disk:

  gcpconn serve-metadata gcs-data --resource-type gcs-bucket --resource-id gs://zenml-bucket-sl &
  export GCE_METADATA_HOST=127.0.0.1:8089    # the address it prints
  python train.py                             # google-cloud-storage, Go, Java... pick it up

The libraries use the metadata server only when no ADC file is found: unset
GOOGLE_APPLICATION_CREDENTIALS and move gcloud's application_default_credentials.json aside.
It listens on loopback only; stop it with Ctrl-C.

Examples:
  gcpconn serve-metadata gcp-auto --resource-type gcp-generic --addr 127.0.0.1:8089`,
		Flags: []flagSpec{
			{Name: "resource-type", Short: "r", Value: "TYPE", Help: "the resource type the tokens are for"},
			{Name: "resource-id", Value: "ID", Help: "the resource"},
			{Name: "lifetime", Value: "DURATION", Help: "token lifetime to ask for"},
			{Name: "addr", Value: "HOST:PORT", Help: "loopback address to listen on (default 127.0.0.1:0, a free port)"},
		},
		Run: runServeMetadata,
	}
}

func runServeMetadata(ctx context.Context, e *env, p *parsed) error {
	name, c, req, err := mintCall(e, p)
	if err != nil {
		return err
	}
	addr := p.str("addr")
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if !isLoopbackAddr(addr) {
		return usageErrorf("--addr %q must be a loopback host:port (127.0.0.1:PORT or [::1]:PORT)", addr)
	}
	// Check the connector now, so a mistake shows before any program relies on it.
	first, err := c.Mint(ctx, req)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		// "localhost" resolved to something else: never serve tokens off the machine.
		ln.Close()
		return usageErrorf("--addr %q resolved to %s, which is not a loopback address", addr, ln.Addr())
	}
	h := &metadataServer{Mint: func(ctx context.Context) (*client.Credential, error) { return c.Mint(ctx, req) }, Now: e.Now}
	h.cached = first
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.Stdout, "GCE_METADATA_HOST=%s\n", ln.Addr())
	fmt.Fprintf(e.Stderr, "Serving tokens of connector '%s' (%s) as a metadata server at %s; Ctrl-C stops it.\n", name, first.ResourceType, ln.Addr())
	return httpserve.Serve(ctx, srv, ln, 5*time.Second)
}

// isLoopbackAddr reports whether addr is host:port with a loopback IP or "localhost".
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// metadataServer answers the parts of the GCE metadata server that the Google libraries use
// for Application Default Credentials.
type metadataServer struct {
	Mint func(ctx context.Context) (*client.Credential, error)
	Now  func() time.Time

	mu     sync.Mutex
	cached *client.Credential
}

// metadataRefreshBefore is how long before expiry a cached token is replaced.
const metadataRefreshBefore = 5 * time.Minute

func (m *metadataServer) token(ctx context.Context) (*client.Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cached != nil && m.Now().Add(metadataRefreshBefore).Before(m.cached.ExpiresAt) {
		return m.cached, nil
	}
	cred, err := m.Mint(ctx)
	if err != nil {
		return nil, err
	}
	m.cached = cred
	return cred, nil
}

// answerToken returns the connector's current credential, or answers 503 with why there is
// none and returns false.
func (m *metadataServer) answerToken(w http.ResponseWriter, r *http.Request) (*client.Credential, bool) {
	cred, err := m.token(r.Context())
	if err != nil {
		http.Error(w, oneLine(err.Error()), http.StatusServiceUnavailable)
		return nil, false
	}
	return cred, true
}

func (m *metadataServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	w.Header().Set("Server", "Metadata Server for gcpconn")
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == "" {
		// Libraries probe / to detect the metadata server.
		return
	}
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "Missing Metadata-Flavor: Google header", http.StatusForbidden)
		return
	}
	switch path {
	case "/computeMetadata/v1":
		fmt.Fprintln(w, "instance/\nproject/\nuniverse/")
	case "/computeMetadata/v1/universe/universe-domain":
		fmt.Fprint(w, "googleapis.com")
	case "/computeMetadata/v1/project/project-id":
		if cred, ok := m.answerToken(w, r); ok {
			fmt.Fprint(w, cred.ProjectID)
		}
	case "/computeMetadata/v1/instance/service-accounts", "/computeMetadata/v1/instance/service-accounts/default":
		fmt.Fprintln(w, "default/")
	case "/computeMetadata/v1/instance/service-accounts/default/scopes":
		fmt.Fprintln(w, "https://www.googleapis.com/auth/cloud-platform")
	case "/computeMetadata/v1/instance/service-accounts/default/token":
		cred, ok := m.answerToken(w, r)
		if !ok {
			return
		}
		if cred.AccessToken == "" {
			http.Error(w, "the connector hands out stored credentials, not tokens", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": cred.AccessToken,
			"expires_in":   int64(cred.ExpiresAt.Sub(m.Now()).Seconds()),
			"token_type":   "Bearer",
		})
	default:
		http.NotFound(w, r)
	}
}
