package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
)

func TestParseArgs(t *testing.T) {
	specs := []flagSpec{
		{Name: "resource-type", Short: "r", Value: "TYPE"},
		{Name: "label", Short: "l", Value: "KV", Repeat: true},
		{Name: "no-verify"},
	}
	tests := []struct {
		name    string
		argv    []string
		extras  bool
		pos     []string
		flags   map[string][]string
		extra   map[string]string
		wantErr string
	}{
		{"mixed", []string{"n", "-r", "gcs-bucket", "--label=a=b", "-l", "c=d", "--no-verify"}, false,
			[]string{"n"}, map[string][]string{"resource-type": {"gcs-bucket"}, "label": {"a=b", "c=d"}, "no-verify": {"true"}}, map[string]string{}, ""},
		{"extras", []string{"--project_id=p", "n", "--service_account_json=@k.json"}, true,
			[]string{"n"}, map[string][]string{}, map[string]string{"project_id": "p", "service_account_json": "@k.json"}, ""},
		{"value with equals", []string{"--token=a=b="}, true, nil, map[string][]string{}, map[string]string{"token": "a=b="}, ""},
		{"double dash", []string{"--", "--no-verify"}, false, []string{"--no-verify"}, map[string][]string{}, map[string]string{}, ""},
		{"extra without value", []string{"--project_id", "p"}, true, nil, nil, nil, "configuration values are given as --key=value"},
		{"unknown", []string{"--nope=1"}, false, nil, nil, nil, "unknown flag --nope"},
		{"unknown with a secret value", []string{"--token=ya29.secret"}, false, nil, nil, nil, "unknown flag --token"},
		{"missing value", []string{"-r"}, false, nil, nil, nil, "--resource-type needs a value"},
		{"twice", []string{"-r", "a", "-r", "b"}, false, nil, nil, nil, "--resource-type is given twice"},
		{"bool with value", []string{"--no-verify=yes"}, false, nil, nil, nil, "takes no value"},
		{"long flag with one dash", []string{"-resource-type", "x"}, false, nil, nil, nil, "unknown flag"},
		{"duplicate extra", []string{"--a=1", "--a=2"}, true, nil, nil, nil, "--a is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseArgs(specs, tt.argv, tt.extras)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != exitUsage {
					t.Fatalf("parseArgs(%q) error = %v; want %q (a usage error)", tt.argv, err, tt.wantErr)
				}
				for _, a := range tt.argv {
					if !strings.HasPrefix(tt.wantErr, "unknown flag") {
						break // a boolean's bad value is no secret and helps
					}
					if _, v, ok := strings.Cut(a, "="); ok && strings.Contains(err.Error(), v) {
						t.Errorf("parseArgs(%q) error = %q; it shows the value %q", tt.argv, err, v)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.argv, err)
			}
			if !reflect.DeepEqual(p.Pos, tt.pos) || !reflect.DeepEqual(p.Flags, tt.flags) || !reflect.DeepEqual(p.Extras, tt.extra) {
				t.Errorf("parseArgs(%q) = pos %q flags %v extras %v; want %q %v %v", tt.argv, p.Pos, p.Flags, p.Extras, tt.pos, tt.flags, tt.extra)
			}
		})
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

func TestTable(t *testing.T) {
	var b bytes.Buffer
	(&table{Headers: []string{"RESOURCE TYPE", "RESOURCE NAMES"}, Ruled: true, Rows: [][]string{
		{withEmoji("gcs-bucket"), "gs://a\ngs://b"},
		{withEmoji("kubernetes-cluster"), "💥 error: " + strings.Repeat("denied ", 20)},
	}}).render(&b)
	golden(t, "table.txt", b.String())
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for _, l := range lines[1:] {
		if width(l) != width(lines[0]) {
			t.Errorf("line %q is %d columns; the frame is %d", l, width(l), width(lines[0]))
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

func TestWidthAndWrap(t *testing.T) {
	for s, want := range map[string]int{"abc": 3, "📦 gcs-bucket": 13, "✅": 2, "➖": 2, "💥 error": 8} {
		if got := width(s); got != want {
			t.Errorf("width(%q) = %d; want %d", s, got, want)
		}
	}
	got := wrap("aaaa bbbb cccc", 9)
	if !reflect.DeepEqual(got, []string{"aaaa bbbb", "cccc"}) {
		t.Errorf("wrap = %q", got)
	}
	if got := wrap(strings.Repeat("x", 12), 5); !reflect.DeepEqual(got, []string{"xxxxx", "xxxxx", "xx"}) {
		t.Errorf("wrap of a long word = %q", got)
	}
}

func TestRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://europe-west1-docker.pkg.dev":         "europe-west1-docker.pkg.dev",
		"europe-west1-docker.pkg.dev/":                "europe-west1-docker.pkg.dev",
		"https://127.0.0.1:5000/v2/":                  "127.0.0.1:5000",
		" gcr.io\n":                                   "gcr.io",
		"http://us-docker.pkg.dev/zenml-core/gcr.io/": "us-docker.pkg.dev",
	} {
		if got := registryHost(in); got != want {
			t.Errorf("registryHost(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestExecCredentialExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		expires time.Time
		maxAge  time.Duration
		want    string
	}{
		{now.Add(time.Hour), -1, "2026-01-01T00:58:00Z"},              // two minutes early
		{now.Add(time.Minute), -1, "2026-01-01T00:01:00Z"},            // too close: the real expiry
		{now.Add(time.Hour), 5 * time.Minute, "2026-01-01T00:05:00Z"}, // max age
		{now.Add(time.Hour), 0, "2026-01-01T00:00:00Z"},               // ask for every request
		{now.Add(10 * time.Minute), time.Hour, "2026-01-01T00:08:00Z"},
	}
	for _, tt := range tests {
		ec := newExecCredential(&client.Credential{AccessToken: "t", ExpiresAt: tt.expires}, now, tt.maxAge)
		if ec.Status.ExpirationTimestamp != tt.want || ec.APIVersion != "client.authentication.k8s.io/v1" {
			t.Errorf("newExecCredential(expires %v) = %+v; want expirationTimestamp %s", tt.expires, ec, tt.want)
		}
	}
}

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]int{"": 0, "900": 900, "15m": 900, "1h": 3600} {
		if got, err := parseLifetime(in); err != nil || got != want {
			t.Errorf("parseLifetime(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "-5", "0s"} {
		if _, err := parseLifetime(in); err == nil {
			t.Errorf("parseLifetime(%q) succeeded; want an error", in)
		}
	}
}

func TestSubjectToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "oidc.jwt")
	if err := os.WriteFile(file, []byte("from.file.jwt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, flag, env, want string
		wantErr               bool
	}{
		{"none", "", "", "", false},
		{"flag", "from.flag.jwt", "from.env.jwt", "from.flag.jwt", false},
		{"file", "@" + file, "", "from.file.jwt", false},
		{"missing file", "@" + file + ".nope", "", "", true},
		{"environment", "", " from.env.jwt\n", "from.env.jwt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &parsed{Flags: map[string][]string{}}
			if tt.flag != "" {
				p.Flags["subject-token"] = []string{tt.flag}
			}
			e := &env{Getenv: func(k string) string {
				if k == "GCPCONN_SUBJECT_TOKEN" {
					return tt.env
				}
				return ""
			}}
			got, err := subjectToken(e, p)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("subjectToken(flag %q, env %q) = %q, %v; want %q (error %v)", tt.flag, tt.env, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestLoginKubernetesMalformedKubeconfig(t *testing.T) {
	tests := []struct {
		name, kubeconfig string
	}{
		{"not yaml", "{"},
		{"no context", "clusters: [{name: c, cluster: {server: https://x}}]\nusers: [{name: c, user: {exec: {}}}]\ncontexts: [{name: c, context: {cluster: c}}]\n"},
		{"cluster not a map", "current-context: c\nclusters: [x]\nusers: [{name: c, user: {exec: {}}}]\ncontexts: [{name: c, context: {cluster: c}}]\n"},
		{"cluster without cluster", "current-context: c\nclusters: [{name: c}]\nusers: [{name: c, user: {exec: {}}}]\ncontexts: [{name: c, context: {cluster: c}}]\n"},
		{"context without context", "current-context: c\nclusters: [{name: c, cluster: {server: https://x}}]\nusers: [{name: c, user: {exec: {}}}]\ncontexts: [{name: c}]\n"},
		{"user without exec", "current-context: c\nclusters: [{name: c, cluster: {server: https://x}}]\nusers: [{name: c, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c}}]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config")
			e := &env{Stdout: new(bytes.Buffer), Stderr: new(bytes.Buffer), Getenv: func(string) string { return "" }, global: &parsed{Flags: map[string][]string{}}}
			p := &parsed{Flags: map[string][]string{"kubeconfig": {path}}}
			cred := &client.Credential{AccessToken: "secret-token", Kubernetes: &client.Kubernetes{Kubeconfig: tt.kubeconfig}}
			err := loginKubernetes(e, p, "k", cred)
			if err == nil {
				t.Fatalf("loginKubernetes(%q) = nil; want an error", tt.kubeconfig)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("loginKubernetes error %q holds the token", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("loginKubernetes(%q) wrote %s (stat: %v); want nothing written", tt.kubeconfig, path, err)
			}
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "config")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "home", ".kube", "config")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(link, []byte("new"), 0o600); err != nil {
		t.Fatalf("writeFileAtomic(symlink): %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("after writeFileAtomic(%s) the path is no longer a symlink (%v, %v)", link, fi, err)
	}
	if b, _ := os.ReadFile(real); string(b) != "new" {
		t.Errorf("symlink target holds %q; want %q", b, "new")
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of %s = %v; want 0600", real, fi.Mode().Perm())
	}

	fresh := filepath.Join(dir, "new", "sub", "token")
	if err := writeFileAtomic(fresh, []byte("t"), 0o600); err != nil {
		t.Fatalf("writeFileAtomic(%s): %v", fresh, err)
	}
	for _, d := range []string{filepath.Join(dir, "new"), filepath.Join(dir, "new", "sub")} {
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
			t.Errorf("mode of new directory %s = %v; want 0700", d, fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(fresh))
	if len(entries) != 1 {
		t.Errorf("directory %s holds %d entries; want only the file (no temporary left)", filepath.Dir(fresh), len(entries))
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:0", true},
		{"127.0.0.1:8089", true},
		{"[::1]:0", true},
		{"localhost:0", true},
		{"0.0.0.0:8089", false},
		{":8089", false},
		{"[::]:0", false},
		{"10.0.0.1:80", false},
		{"example.com:80", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if got := isLoopbackAddr(tt.addr); got != tt.want {
			t.Errorf("isLoopbackAddr(%q) = %v; want %v", tt.addr, got, tt.want)
		}
	}
}
