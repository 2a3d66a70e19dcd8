// Package clienttest runs the whole local stack in a test process: the fake Google Cloud
// (emulator/fakegcp, demo world) and gcpconn's functions (functions/app with the memory
// store) behind an httptest server, so the client and the CLI can be tested end to end.
package clienttest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/functions/app"
	"github.com/gcpconn/gcpconn/functions/client"
)

// Audience is the audience the stack's functions expect in callers' ID tokens.
const Audience = "https://gcpconn.test"

// Stack is a running fake Google Cloud and gcpconn server.
type Stack struct {
	Fake *fakegcp.Server
	URL  string // base URL of the functions
	// Env holds the fake's KEY=VALUE lines plus GCPCONN_AUDIENCE: what a child process
	// (the CLI) needs to reach the stack.
	Env []string
	// calls counts requests per function path (/mint-token, ...).
	calls map[string]*atomic.Int64
}

// Start runs the stack for the test; it is stopped by t.Cleanup. It sets the process
// environment (t.Setenv) because the functions read their configuration from it, so tests
// that use it cannot run in parallel. admins become GCPCONN_ADMINS.
func Start(t testing.TB, admins ...string) *Stack {
	t.Helper()
	fake, err := fakegcp.Start(context.Background(), world.Demo(), fakegcp.Options{
		KeysDir: t.TempDir(),
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("fakegcp.Start: %v", err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	env := append(fake.Env(), "GCPCONN_AUDIENCE="+Audience, "GCPCONN_STORE=memory", "GCPCONN_ADMINS="+strings.Join(admins, ","))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PUBSUB_EMULATOR_HOST" || k == "FIRESTORE_EMULATOR_HOST" {
			continue
		}
		t.Setenv(k, v)
	}
	cfg, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		t.Fatalf("app.ConfigFromEnv: %v", err)
	}
	a := app.New(cfg, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	s := &Stack{Fake: fake, Env: env, calls: map[string]*atomic.Int64{}}
	for _, rt := range a.API.Routes() {
		s.calls[rt.Path] = new(atomic.Int64)
	}
	h := a.API.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := s.calls[r.URL.Path]; n != nil {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Calls returns how many requests reached a function path, e.g. "/mint-token".
func (s *Stack) Calls(path string) int64 {
	if n := s.calls[path]; n != nil {
		return n.Load()
	}
	return 0
}

// IDToken mints a caller ID token for email with the stack's audience.
func (s *Stack) IDToken(t testing.TB, email string) string {
	t.Helper()
	tok, err := s.Fake.IDToken(email, Audience)
	if err != nil {
		t.Fatalf("IDToken(%s): %v", email, err)
	}
	return tok
}

// Client returns a client calling the stack as email.
func (s *Stack) Client(t testing.TB, email string) *client.Client {
	return &client.Client{BaseURL: s.URL, Token: client.StaticToken(s.IDToken(t, email))}
}
