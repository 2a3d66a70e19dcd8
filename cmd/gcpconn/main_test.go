package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
	"github.com/gcpconn/gcpconn/functions/client/clienttest"
	"github.com/gcpconn/gcpconn/internal/testbuild"
	"github.com/gcpconn/gcpconn/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// binDir holds the built gcpconn and its docker-credential-gcpconn link.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	testenv.Guard()
	dir, err := os.MkdirTemp("", "gcpconn-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := testbuild.Command(filepath.Join(dir, "gcpconn"), ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gcpconn:", err)
		os.Exit(1)
	}
	if err := os.Symlink(filepath.Join(dir, "gcpconn"), filepath.Join(dir, "docker-credential-gcpconn")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is one test's machine: a home directory, the stack, and who the caller is.
type world struct {
	t     testing.TB
	stack *clienttest.Stack
	home  string
	email string
	extra []string // more KEY=VALUE for every command
}

func newWorld(t *testing.T, s *clienttest.Stack, email string) *world {
	return &world{t: t, stack: s, home: t.TempDir(), email: email}
}

// env is the environment of a CLI process: nothing from the test process but PATH.
func (w *world) env() []string {
	env := []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + w.home,
		"GCE_METADATA_HOST=127.0.0.1:1",
		"DOCKER_CONFIG=" + filepath.Join(w.home, ".docker"),
	}
	if v, ok := os.LookupEnv("GORACE"); ok { // the race-built CLI's settings (internal/testbuild)
		env = append(env, "GORACE="+v)
	}
	if w.stack != nil {
		env = append(env,
			"GCPCONN_URL="+w.stack.URL,
			"GCPCONN_AUDIENCE="+clienttest.Audience,
			"GCPCONN_DEV_ISSUER="+w.stack.Fake.BaseURL(),
			"GCPCONN_DEV_EMAIL="+w.email)
	}
	return append(env, w.extra...)
}

// run runs a program (gcpconn unless args[0] names another) and returns its output and
// exit code.
func (w *world) runProgram(stdin string, prog string, args ...string) (stdout, stderr string, code int) {
	w.t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = w.env()
	cmd.Dir = w.home
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("run %s %v: %v", prog, args, err)
	}
	return o.String(), e.String(), code
}

func (w *world) gcpconn(args ...string) (string, string, int) {
	w.t.Helper()
	return w.runProgram("", filepath.Join(binDir, "gcpconn"), args...)
}

// ok runs gcpconn and fails the test unless it exits 0.
func (w *world) ok(args ...string) string {
	w.t.Helper()
	out, errOut, code := w.gcpconn(args...)
	if code != 0 {
		w.t.Fatalf("gcpconn %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (w *world) writeFile(rel string, b []byte) string {
	w.t.Helper()
	p := filepath.Join(w.home, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

var (
	reTime    = regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?`)
	reID      = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	reLoopURL = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// normalize replaces what changes from run to run with fixed placeholders: connector ids
// become <ID1>, <ID2>… (numbered by first appearance), times <TIME>, loopback addresses
// 127.0.0.1:<PORT>. The placeholders do not depend on the width of what they replace: a
// time in RFC 3339 with nanoseconds drops trailing zeros, so its width changes from run to
// run. Table cells stay aligned because the CLI prints times in tables at a fixed width.
func normalize(s string) string {
	ids := map[string]string{}
	s = reID.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("<ID%d>", len(ids)+1)
		}
		return ids[id]
	})
	s = reTime.ReplaceAllString(s, "<TIME>")
	return reLoopURL.ReplaceAllString(s, "127.0.0.1:<PORT>")
}

// golden compares got (normalized) with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = normalize(got)
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (run go test -update)", path, err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{&client.Error{Code: "invalid_argument"}, exitRefused},
		{&client.Error{Code: "already_exists"}, exitRefused},
		{&client.Error{Code: "failed_precondition"}, exitRefused},
		{&client.Error{Code: "not_found"}, exitNotFound},
		{&client.Error{Code: "unauthenticated"}, exitAuth},
		{&client.Error{Code: "permission_denied"}, exitAuth},
		{&client.Error{Code: "upstream_denied"}, exitUpstream},
		{&client.Error{Code: "upstream_unavailable"}, exitUnavailable},
		{&client.Error{Code: "internal"}, exitFailure},
		{fmt.Errorf("client: wrap: %w", &client.Error{Code: "not_found"}), exitNotFound},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), exitUnavailable},
		{fmt.Errorf("client: POST /mint-token: %w", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}), exitUnavailable},
		{context.DeadlineExceeded, exitUnavailable},
		{usageErrorf("x"), exitUsage},
		{verifyErrorf("x"), exitVerify},
		{errors.New("disk full"), exitFailure},
		{&client.IdentityError{Err: errors.New("no token")}, exitAuth},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d; want %d", tt.err, got, tt.want)
		}
	}
}

// TestNormalizeFixedPlaceholders: golden files must not depend on the width of volatile
// values. RFC 3339 with nanoseconds drops trailing zeros, so the same connector described at
// two instants differs in width; normalized, both outputs are the same text.
func TestNormalizeFixedPlaceholders(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	for _, tt := range []struct{ in, want string }{
		{`"created_at": "2026-01-02T03:04:05Z"`, `"created_at": "<TIME>"`},
		{`"created_at": "2026-01-02T03:04:05.1Z"`, `"created_at": "<TIME>"`},
		{`"created_at": "2026-01-02T03:04:05.123456789Z"`, `"created_at": "<TIME>"`},
		{"│ 2026-01-02 03:04:05.000000 │", "│ <TIME> │"},
		{id + " " + strings.Repeat("f", 32) + " " + id, "<ID1> <ID2> <ID1>"},
		{"http://127.0.0.1:8080/x 127.0.0.1:34567", "http://127.0.0.1:<PORT>/x 127.0.0.1:<PORT>"},
	} {
		if got := normalize(tt.in); got != tt.want {
			t.Errorf("normalize(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}

	describe := func(nanos int, asJSON bool) string {
		at := time.Date(2026, 1, 2, 3, 4, 5, nanos, time.UTC)
		conn := client.Connector{ID: id, Name: "c", Type: "gcp", CreatedAt: at, UpdatedAt: at,
			Status: client.Status{State: "ok", CheckedAt: &at}}
		var b bytes.Buffer
		if asJSON {
			if err := (&env{Stdout: &b}).printJSON(conn); err != nil {
				t.Fatal(err)
			}
		} else {
			describeConnector(&env{Stdout: &b, Now: func() time.Time { return at }}, conn)
		}
		return normalize(b.String())
	}
	for _, asJSON := range []bool{false, true} {
		if a, b := describe(0, asJSON), describe(120000000, asJSON); a != b {
			t.Errorf("json=%v: normalized describe depends on the time's width:\n%s\n%s", asJSON, a, b)
		}
	}
}
