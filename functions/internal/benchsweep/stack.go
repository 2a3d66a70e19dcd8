package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/functions/internal/rpcproxy"
	"github.com/gcpconn/gcpconn/internal/grpccount"
)

// The deployment the benchmark measures.
const (
	project  = "zenml-core"
	audience = "http://gcpconn.bench"
	admin    = "admin@zenml.io"
	// keyOwner is the service account whose key every connector holds: the owner of the
	// project, so that it may read every bench bucket.
	keyOwner = "connectors-admin@zenml-core.iam.gserviceaccount.com"
)

// bench is the running stack: the fake Google in this process, the counting proxies, the
// functions (serve) and the push relay (pushauth) as processes of their own.
type bench struct {
	o       options
	fake    *fakegcp.Server
	buckets *bucketCounter
	rpcs    *grpccount.Counter // Firestore calls of the functions ("google" store)
	dir     string
	base    string // the functions' URL
	token   string // the admin's ID token
	closers []func()
}

func (b *bench) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

func faultLatency(d time.Duration) faults.Fault { return faults.Fault{Latency: d} }

// bucketName is the bucket of connector i: each connector checks a bucket of its own, so
// that the fake's Cloud Storage counts the checks per connector.
func bucketName(i int) string { return fmt.Sprintf("gcpconn-bench-%07d", i) }

// start starts the fake (with a bucket per connector), the proxies, the functions and the
// Pub/Sub topic with its push subscription to the functions' /sweep-shard.
func (b *bench) start() error {
	b.dir = b.o.logs
	if b.dir == "" {
		dir, err := os.MkdirTemp("", "benchsweep-")
		if err != nil {
			return err
		}
		b.dir = dir
		b.closers = append(b.closers, func() { os.RemoveAll(dir) })
	} else if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return err
	}
	w := world.Demo()
	w.Update(func(w *world.World) {
		for i := range b.o.connectors {
			w.Buckets = append(w.Buckets, world.Bucket{Name: bucketName(i), Project: project, Location: "US"})
		}
	})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	if b.fake, err = fakegcp.Start(context.Background(), w, fakegcp.Options{Logger: quiet}); err != nil {
		return err
	}
	b.closers = append(b.closers, func() { b.fake.Close() })
	for _, kv := range b.fake.Env() { // the seeding clients find the fake as the functions do
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	if b.token, err = b.fake.IDToken(admin, audience); err != nil {
		return err
	}
	b.buckets = &bucketCounter{}
	storage, err := b.buckets.proxy(b.fake.URL("storage"))
	if err != nil {
		return err
	}
	b.closers = append(b.closers, storage)
	return b.startFunctions()
}

// startFunctions starts serve (store, topic, the storage proxy), pushauth in front of its
// /sweep-shard, and the topic and push subscription in the Pub/Sub emulator.
func (b *bench) startFunctions() error {
	topic := fmt.Sprintf("projects/%s/topics/gcpconn-sweep-bench-%d", project, time.Now().UnixNano())
	env := append(os.Environ(), "GCPCONN_AUDIENCE="+audience, "GCPCONN_ADMINS="+admin, "GCPCONN_STORE="+b.o.store,
		"GCPCONN_PROJECT="+project, "GCPCONN_SWEEP_TOPIC="+topic, "GCPCONN_TRACE_EXPORTER=none",
		"GCPCONN_ENDPOINT_STORAGE="+b.buckets.url, "GCPCONN_TIMEOUT_SECONDS=540")
	if b.o.store == "google" && b.o.countFirestore {
		b.rpcs = &grpccount.Counter{}
		proxy, stop, err := rpcproxy.Start(os.Getenv("FIRESTORE_EMULATOR_HOST"), b.rpcs.Add)
		if err != nil {
			return err
		}
		b.closers = append(b.closers, stop)
		env = append(env, "FIRESTORE_EMULATOR_HOST="+proxy)
	}
	var err error
	if b.base, err = b.startChild("serve", servingRE, env, b.o.serveBin, "-addr", "127.0.0.1:0"); err != nil {
		return err
	}
	relay, err := b.startChild("pushauth", listeningRE, os.Environ(), b.o.pushauthBin, "-listen", "127.0.0.1:0",
		"-target", b.base+"/sweep-shard", "-token-url", b.fake.URL("identity")+"/admin/id-token", "-email", admin, "-audience", audience)
	if err != nil {
		return err
	}
	return pushSubscription(topic, relay)
}

// pushSubscription creates topic and its push subscription to endpoint in the Pub/Sub
// emulator (PUBSUB_EMULATOR_HOST), with the deployed ack deadline (600 s).
func pushSubscription(topic, endpoint string) error {
	ps := "http://" + os.Getenv("PUBSUB_EMULATOR_HOST") + "/v1/"
	sub := strings.Replace(topic, "/topics/", "/subscriptions/", 1)
	for _, req := range []struct{ path, body string }{
		{topic, ""},
		{sub, fmt.Sprintf(`{"topic":%q,"ackDeadlineSeconds":600,"pushConfig":{"pushEndpoint":%q}}`, topic, endpoint)},
	} {
		r, _ := http.NewRequest(http.MethodPut, ps+req.path, strings.NewReader(req.body))
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return fmt.Errorf("Pub/Sub emulator: create %s: %w", req.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("Pub/Sub emulator: create %s: %s %s", req.path, resp.Status, body)
		}
	}
	return nil
}

var (
	servingRE   = regexp.MustCompile(`serving (http://127\.0\.0\.1:[0-9]+)`)
	listeningRE = regexp.MustCompile(`listening (http://127\.0\.0\.1:[0-9]+)`)
)

// startChild runs bin in its own process group, its output to DIR/NAME.log, and waits (at
// most 30 s) for the address it prints (re's first group). The process is stopped by PID on
// close: TERM, then KILL after 5 s.
func (b *bench) startChild(name string, re *regexp.Regexp, env []string, bin string, args ...string) (string, error) {
	logPath := filepath.Join(b.dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.closers = append(b.closers, func() { stopChild(cmd, exited) })
	b.o.cpu[name] = cmd.Process.Pid // its own process group
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if out, _ := os.ReadFile(logPath); re.Match(out) {
			return string(re.FindSubmatch(out)[1]), nil
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			return "", fmt.Errorf("%s exited before serving: %.2000s", name, out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s printed no address within 30 s (log %s)", name, logPath)
}

func stopChild(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// bucketCounter is a reverse proxy to the fake's Cloud Storage that counts the bucket reads
// (buckets.get: GET .../b/NAME) by bucket. A bucket name has no '/': reads keeps it whole.
type bucketCounter struct {
	url   string
	reads grpccount.Counter
}

func (c *bucketCounter) proxy(target string) (func(), error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.url = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, name, ok := strings.Cut(r.URL.Path, "/b/"); ok && r.Method == http.MethodGet && !strings.Contains(name, "/") {
			c.reads.Add(name)
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}
