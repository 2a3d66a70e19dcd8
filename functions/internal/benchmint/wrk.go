package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The wrk load: the real functions run as their own process (functions/cmd/serve, logging
// JSON to a file as Cloud Run's stdout would take it), the bare handler as another (this
// program with -bare-answer), and wrk, a separate C load generator, drives each in turn. A Go
// load generator inside the measuring process takes CPU from the server it measures on a
// small machine, and flatters the ratio.

// child is a started process serving HTTP, stopped by PID.
type child struct {
	cmd *exec.Cmd
	url string
}

// startChild runs name with args and env, its stdout and stderr to logPath, and waits (at most
// 30 s) for the line "serving http://HOST:PORT" that both serve and the bare mode print.
func startChild(logPath string, env []string, name string, args ...string) (*child, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if u := servingURL(logPath); u != "" {
			c.url = u
			return c, nil
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited before serving: %.2000s", filepath.Base(name), out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.stop()
	return nil, fmt.Errorf("%s did not print its address within 30 s (log %s)", filepath.Base(name), logPath)
}

var servingRE = regexp.MustCompile(`serving (http://127\.0\.0\.1:[0-9]+)`)

// servingURL reads the address a child printed, "" until it has.
func servingURL(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	return ""
}

// stop ends the child's process group: TERM, then KILL after 5 s.
func (c *child) stop() {
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _, _ = c.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// serveBare is the -bare-answer mode: answer every request with the bytes of answerFile, as
// the real mint-token does (same headers), on a loopback port it prints.
func serveBare(answerFile string) error {
	answer, err := os.ReadFile(answerFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("serving http://%s\n", ln.Addr())
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: bareHandler(answer)}
	return srv.Serve(ln)
}

func bareHandler(answer []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(answer)
	})
}

// wrkRun is what one wrk run reported.
type wrkRun struct {
	requests      int
	rps           float64
	p50, p90, p99 time.Duration
	bad           int // non-2xx answers and socket errors
}

func (r wrkRun) String() string {
	return fmt.Sprintf("%8.0f req/s  p50 %8s  p90 %8s  p99 %8s  (%d requests)", r.rps, r.p50, r.p90, r.p99, r.requests)
}

// runWrk drives url with wrk (threads, conns, for d in whole seconds, at least one), sending the mint request described by
// script, and parses its report.
func runWrk(script, url string, threads, conns int, d time.Duration) (wrkRun, error) {
	out, err := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second)/time.Second))), "--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		return wrkRun{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	return parseWrk(string(out))
}

var (
	wrkRequestsRE = regexp.MustCompile(`(?m)^\s*([0-9]+) requests in`)
	wrkRateRE     = regexp.MustCompile(`(?m)^Requests/sec:\s*([0-9.]+)`)
	wrkPctRE      = regexp.MustCompile(`(?m)^\s*(50|90|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkBadRE      = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s*([0-9]+)|Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
)

// parseWrk reads requests, rate, latency percentiles and failures out of wrk's report.
func parseWrk(out string) (wrkRun, error) {
	var r wrkRun
	m := wrkRequestsRE.FindStringSubmatch(out)
	rate := wrkRateRE.FindStringSubmatch(out)
	if m == nil || rate == nil {
		return r, fmt.Errorf("wrk printed no rate: %s", out)
	}
	r.requests, _ = strconv.Atoi(m[1])
	r.rps, _ = strconv.ParseFloat(rate[1], 64)
	for _, p := range wrkPctRE.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[p[3]]
		d := time.Duration(v * float64(unit)).Round(time.Microsecond)
		switch p[1] {
		case "50":
			r.p50 = d
		case "90":
			r.p90 = d
		case "99":
			r.p99 = d
		}
	}
	for _, b := range wrkBadRE.FindAllStringSubmatch(out, -1) {
		for _, n := range b[1:] {
			k, _ := strconv.Atoi(n)
			r.bad += k
		}
	}
	return r, nil
}

// wrkScript writes the Lua script that makes wrk send the mint request.
func wrkScript(dir, token string, body []byte) (string, error) {
	if strings.ContainsAny(token, "\"\\\n") {
		return "", errors.New("the caller's token cannot be quoted for wrk")
	}
	script := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = %s\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer %s\"\n",
		luaString(string(body)), token)
	path := filepath.Join(dir, "mint.lua")
	return path, os.WriteFile(path, []byte(script), 0o600)
}

// luaString quotes s as a Lua long string.
func luaString(s string) string {
	eq := ""
	for strings.Contains(s, "]"+eq+"]") {
		eq += "="
	}
	return "[" + eq + "[" + s + "]" + eq + "]"
}
