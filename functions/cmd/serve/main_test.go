package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/httpapi"
	"github.com/gcpconn/gcpconn/internal/testbuild"
	"github.com/gcpconn/gcpconn/internal/testenv"
	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
	"github.com/gcpconn/gcpconn/shared/connector"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestHandlerTarget(t *testing.T) {
	api := &httpapi.API{Service: func(context.Context) (*connector.Service, error) { return &connector.Service{}, nil }}
	for _, tc := range []struct {
		target, path string
		wantAllow    string // the target's methods, seen in its 405 answer to GET... or "" for 404
		wantStatus   int
	}{
		{"", "/mint-token", "POST", 405},
		{"", "/register", "POST, PUT, DELETE", 405},
		{"", "/MintToken", "", 404},
		{"MintToken", "/", "POST", 405},
		{"MintToken", "/anything", "POST", 405},
		{"mint-token", "/", "POST", 405},
		{"List", "/", "", 500}, // GET reaches List, which has no authenticator here
	} {
		h, err := handler(api, tc.target)
		if err != nil {
			t.Fatalf("handler(%q) = %v", tc.target, err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		if w.Code != tc.wantStatus || w.Header().Get("Allow") != tc.wantAllow {
			t.Errorf("FUNCTION_TARGET=%q GET %s = %d Allow %q; want %d Allow %q", tc.target, tc.path, w.Code, w.Header().Get("Allow"), tc.wantStatus, tc.wantAllow)
		}
	}
	if _, err := handler(api, "Nope"); err == nil || !strings.Contains(err.Error(), "MintToken") {
		t.Errorf("handler(Nope) = %v; want an error listing the functions", err)
	}
}

func buildServe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "serve")
	out, err := testbuild.Command(bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestStartup runs the binary and prints how long it takes from process start to the first
// served request (the goal is under 100 ms more than a bare handler; no timed assertion).
func TestStartup(t *testing.T) {
	bin := buildServe(t)
	for _, mode := range []string{"default", "framework"} {
		t.Run(mode, func(t *testing.T) {
			addr := "127.0.0.1:0"
			args := []string{"-addr", addr}
			if mode == "framework" {
				addr = freeAddr(t)
				args = []string{"-addr", addr, "-framework"}
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "GCPCONN_AUDIENCE=https://gcpconn.test", "GCPCONN_JWKS_URL=http://127.0.0.1:1/certs")
			stdout, _ := cmd.StdoutPipe()
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Signal(os.Interrupt)
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					_ = cmd.Process.Kill()
					<-done
				}
			}()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatalf("reading the serving line: %v", err)
			}
			base := strings.Fields(strings.TrimPrefix(line, "serving "))[0]
			path := "/list"
			if mode == "framework" {
				path = "/List"
			}
			// A bounded poll of another process: in framework mode the functions framework
			// may print before it listens.
			var resp *http.Response
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if resp, err = http.Get(base + path); err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil {
				t.Fatalf("GET %s%s: %v", base, path, err)
			}
			took := time.Since(start)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s without a token = %d; want 401", path, resp.StatusCode)
			}
			t.Logf("%s mode: process start to first served request: %s", mode, took.Round(time.Millisecond))

			// Refresh takes a raw Pub/Sub push: the framework converts it to a CloudEvent for
			// the deployed entry point; serve's own route needs the push identity's token.
			push := `{"message":{"data":"e30=","attributes":{"eventType":"SECRET_ROTATE","secretId":"projects/p/secrets/gcpconn-nope"},"messageId":"1"},"subscription":"projects/p/subscriptions/s"}`
			path, want := "/refresh", http.StatusUnauthorized
			if mode == "framework" {
				path, want = "/Refresh", http.StatusOK
			}
			resp, err = http.Post(base+path, "application/json", strings.NewReader(push))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("POST %s (Pub/Sub push) = %d; want %d", path, resp.StatusCode, want)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestBadConfigurationStopsServe: serve exits 1 before listening when the configuration is
// wrong, naming the variable at fault (bad issuer JSON, a glob in GCPCONN_ADMINS that
// crosses a boundary, an unknown rotation identity), in both modes.
func TestBadConfigurationStopsServe(t *testing.T) {
	bin := buildServe(t)
	issuers := `[{"name":"gh","issuer":"https://token.actions.githubusercontent.com","audiences":["a"],"bound_claims":{"repository_owner_id":"1"}}]`
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"issuer JSON", []string{"GCPCONN_TRUSTED_ISSUERS=[{"}, "GCPCONN_TRUSTED_ISSUERS"},
		{"issuer without bound claims", []string{`GCPCONN_TRUSTED_ISSUERS=[{"name":"gh","issuer":"https://gh.example","audiences":["a"]}]`}, "bound_claims"},
		{"admin glob", []string{"GCPCONN_TRUSTED_ISSUERS=" + issuers, "GCPCONN_ADMINS=gh:repo:acme*"}, `GCPCONN_ADMINS[0] "gh:repo:acme*"`},
		{"rotation identity", []string{"GCPCONN_ROTATION_IDENTITY=runtime"}, "GCPCONN_ROTATION_IDENTITY"},
	} {
		for _, mode := range [][]string{{"-addr", "127.0.0.1:0"}, {"-addr", "127.0.0.1:0", "-framework"}} {
			t.Run(tc.name+" "+strings.Join(mode, " "), func(t *testing.T) {
				cmd := exec.Command(bin, mode...)
				cmd.Env = append(append(os.Environ(), "GCPCONN_AUDIENCE=https://gcpconn.test"), tc.env...)
				out, err := cmd.CombinedOutput()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "serving http") {
					t.Errorf("serve %v = %v, output %q; want exit 1 naming %s before serving", mode, err, out, tc.want)
				}
			})
		}
	}
}

// TestEntryPointsRefuseBadConfigurationOnCloudRun: on Cloud Run (K_SERVICE set) the root
// package's init, which registers the deployed entry points, exits 1 naming the variable
// before main runs.
func TestEntryPointsRefuseBadConfigurationOnCloudRun(t *testing.T) {
	cmd := exec.Command(buildServe(t), "-addr", "127.0.0.1:0", "-framework")
	cmd.Env = append(os.Environ(), "K_SERVICE=mint-token", "GCPCONN_AUDIENCE=https://gcpconn.test", "GCPCONN_ADMINS=nope:repo:x")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), `gcpconn: not starting: app: configuration: GCPCONN_ADMINS[0] "nope:repo:x"`) {
		t.Errorf("serve on Cloud Run with a bad configuration = %v, output %q; want the entry points' init to exit 1 naming GCPCONN_ADMINS", err, out)
	}
}

// TestSIGTERMLetsRequestsInFlightFinish: at SIGTERM (Cloud Run's stop signal) serve stops
// taking connections but finishes a request whose handler is running (here, waiting for a
// body sent after "100 Continue") rather than exiting under it, as the root package's flush-and-exit
// handler, meant for the functions framework, would (checked: without serve's own handling
// the answer is an unexpected EOF).
func TestSIGTERMLetsRequestsInFlightFinish(t *testing.T) {
	bin := buildServe(t)
	iss := callerauthtest.New(t)
	const audience = "https://gcpconn.test"
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GCPCONN_AUDIENCE="+audience, "GCPCONN_ISSUER="+callerauthtest.IssuerURL, "GCPCONN_JWKS_URL="+iss.JWKSURL)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the serving line: %v", err)
	}
	addr := strings.TrimPrefix(strings.Fields(strings.TrimPrefix(line, "serving "))[0], "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"connector":"none-such"}`
	tok := iss.Token(t, "dev@example.com", audience, time.Now().Add(time.Hour), nil)
	head := fmt.Sprintf("POST /mint-token HTTP/1.1\r\nHost: gcpconn\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", tok, len(body))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	answers := bufio.NewReader(conn)
	// "100 Continue" says the handler has started reading the body: it now waits for it.
	if resp, err := http.ReadResponse(answers, nil); err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("answer before the body = %v, %v; want 100 Continue", resp, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// serve says when its shutdown has begun; the test's own timeout bounds the wait.
	for {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("serve's output ended before it said it was shutting down: %v", err)
		}
		if strings.HasPrefix(line, "shutting down") {
			break
		}
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("sending the body after SIGTERM: %v", err)
	}
	resp, err := http.ReadResponse(answers, nil)
	if err != nil {
		t.Fatalf("no answer to the request in flight at SIGTERM: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the request in flight at SIGTERM = %d; want 404 (no such connector)", resp.StatusCode)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v; want a clean exit", err)
	}
}
