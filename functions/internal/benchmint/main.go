// Command benchmint measures warm mint-token over loopback HTTP against a bare handler that
// returns the same bytes, in the same run (the goal: at least 0.6 of the bare throughput, p99
// under 2 ms). scripts/bench-mint.sh runs it.
//
//	benchmint -serve SERVE_BINARY [-store memory|google] [-t 2] [-c 32] [-d 5s] [-warmup 1s] [-load wrk|go]
//
// It starts the fake Google (demo world) in-process and the real functions over the memory
// store or, with -store google, over the Firestore emulator at FIRESTORE_EMULATOR_HOST and the
// fake's Secret Manager (the production store), registers a service-account connector and
// mints once to warm the token cache. With -load wrk (the default) the functions run as
// functions/cmd/serve in their own process, logging as deployed, the bare handler as another
// (this program with -bare-answer), and wrk drives each (see wrk.go). With -load go both
// servers run in this process and Go clients drive them (closed loop); -cpuprofile profiles
// the mint-token measurement then. It prints requests per second and latency percentiles of
// each, the throughput ratio, and per 1,000 measured mints: Firestore read calls (counted on
// the client's connection, or by a proxy in front of the emulator), Secret Manager reads and
// upstream token calls (counted by the fake).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/functions/app"
	"github.com/gcpconn/gcpconn/functions/internal/rpcproxy"
	"github.com/gcpconn/gcpconn/functions/internal/tracing"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchmint:", err)
		os.Exit(1)
	}
}

// options are benchmint's flags.
type options struct {
	conc       int           // concurrent clients (wrk: connections)
	threads    int           // wrk threads
	dur, warm  time.Duration // measured and unmeasured load per server
	cpuprofile string        // "" for none (go load only)
	store      string        // app.StoreMemory or app.StoreGoogle
	load       string        // "wrk" or "go"
	serveBin   string        // wrk load: the functions/cmd/serve binary
	bareAnswer string        // internal: serve the bare handler with this file's bytes
}

func parseFlags() (options, error) {
	var o options
	flag.IntVar(&o.conc, "c", 32, "concurrent clients (wrk: connections)")
	flag.IntVar(&o.threads, "t", 2, "wrk threads")
	flag.StringVar(&o.load, "load", "wrk", "wrk (servers in their own processes, load from wrk), or go (in-process servers, Go clients)")
	flag.StringVar(&o.serveBin, "serve", "", "with -load wrk: the functions/cmd/serve binary to run")
	flag.StringVar(&o.bareAnswer, "bare-answer", "", "internal: serve the bare handler answering this file's bytes")
	flag.DurationVar(&o.dur, "d", 5*time.Second, "measured duration per server")
	flag.DurationVar(&o.warm, "warmup", time.Second, "unmeasured load before each measurement")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the mint-token measurement to this file")
	flag.StringVar(&o.store, "store", app.StoreMemory, "memory, or google (Firestore emulator at FIRESTORE_EMULATOR_HOST + the fake's Secret Manager)")
	flag.Parse()
	if o.bareAnswer != "" {
		return o, nil
	}
	if o.load != "wrk" && o.load != "go" {
		return o, fmt.Errorf("-load %q: want wrk or go", o.load)
	}
	if o.load == "wrk" && o.serveBin == "" {
		return o, fmt.Errorf("-load wrk needs -serve, the functions/cmd/serve binary (scripts/bench-mint.sh builds it)")
	}
	if o.store != app.StoreMemory && o.store != app.StoreGoogle {
		return o, fmt.Errorf("-store %q: want memory or google", o.store)
	}
	if o.store == app.StoreGoogle && os.Getenv("FIRESTORE_EMULATOR_HOST") == "" {
		return o, fmt.Errorf("-store google needs the Firestore emulator at FIRESTORE_EMULATOR_HOST (scripts/bench-mint.sh --store google starts one)")
	}
	return o, nil
}

// bench is a running benchmark: the fake Google, the real functions on a loopback server,
// a registered connector and a mint request for it with its first answer.
type bench struct {
	fake        *fakegcp.Server
	reads       *rpcCounter // Firestore reads; nil over the memory store
	cfg         app.Config
	client      *http.Client
	realURL     string
	token       string // the caller's ID token
	mint        []byte // the mint-token request body
	answer      []byte // its first answer
	accessToken string // the token in answer
	dir         string // wrk load: the run's files (logs, answer, script)
	closers     []func()
}

func (b *bench) close() {
	for _, f := range slices.Backward(b.closers) {
		f()
	}
}

func run() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	if o.bareAnswer != "" {
		return serveBare(o.bareAnswer)
	}
	b := &bench{}
	defer b.close()
	if err := b.start(o); err != nil {
		return err
	}
	if err := b.firstMint(o.conc); err != nil {
		return err
	}
	if o.load == "wrk" {
		return b.measureWrk(o)
	}
	return b.measure(o)
}

// start starts the fake Google and the real functions over o.store.
func (b *bench) start(o options) error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fake, err := fakegcp.Start(context.Background(), world.Demo(), fakegcp.Options{Logger: quiet})
	if err != nil {
		return err
	}
	b.fake = fake
	b.closers = append(b.closers, func() { fake.Close() })
	for _, kv := range fake.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	os.Setenv("GCPCONN_AUDIENCE", benchAudience)
	os.Setenv("GCPCONN_STORE", o.store)
	if b.cfg, err = app.ConfigFromEnv(os.Getenv); err != nil {
		return err
	}
	if err := b.startFunctions(o); err != nil {
		return err
	}
	b.token, err = fake.IDToken("bench@example.com", benchAudience)
	return err
}

const benchAudience = "http://gcpconn.bench"

// startFunctions serves the real functions over o.store: in this process (go load), or as
// functions/cmd/serve in its own (wrk load), logging as deployed to a file. Over the Firestore
// emulator, reads are counted on this process's connection, or by a counting proxy in front
// of the emulator that the serve process talks to.
func (b *bench) startFunctions(o options) error {
	var emulator string
	if o.store == app.StoreGoogle {
		b.reads = &rpcCounter{}
		emulator = os.Getenv("FIRESTORE_EMULATOR_HOST")
	}
	if o.load == "wrk" {
		env := os.Environ()
		if b.reads != nil {
			proxy, stop, err := rpcproxy.Start(emulator, b.reads.Add)
			if err != nil {
				return err
			}
			b.closers = append(b.closers, stop)
			env = append(env, "FIRESTORE_EMULATOR_HOST="+proxy)
		}
		dir, err := os.MkdirTemp("", "benchmint-")
		if err != nil {
			return err
		}
		b.dir = dir
		b.closers = append(b.closers, func() { os.RemoveAll(dir) })
		c, err := startChild(filepath.Join(dir, "serve.log"), env, o.serveBin, "-addr", "127.0.0.1:0")
		if err != nil {
			return err
		}
		b.closers = append(b.closers, c.stop)
		b.realURL = c.url
		return nil
	}
	if b.reads != nil {
		conn, err := b.reads.dialEmulator(emulator)
		if err != nil {
			return err
		}
		b.closers = append(b.closers, func() { conn.Close() })
		b.cfg.FirestoreOptions = []option.ClientOption{option.WithGRPCConn(conn)}
	}
	a := app.New(b.cfg, nil, cloudlog.New(io.Discard, nil))
	if err := installTracing(b.cfg.Tracing); err != nil {
		return err
	}
	realURL, stopReal, err := serve(a.API.Handler())
	if err != nil {
		return err
	}
	b.realURL = realURL
	b.closers = append(b.closers, stopReal)
	return nil
}

// measureWrk starts the bare handler as its own process with the first answer's bytes, then
// drives it and the real mint-token with wrk: a warm-up, the measured run at o.conc
// connections, and a latency run at one connection (below saturation). It prints each run,
// the ratio and the backend calls per 1,000 measured mints.
func (b *bench) measureWrk(o options) error {
	answerFile := filepath.Join(b.dir, "answer.json")
	if err := os.WriteFile(answerFile, b.answer, 0o600); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bare, err := startChild(filepath.Join(b.dir, "bare.log"), os.Environ(), self, "-bare-answer", answerFile)
	if err != nil {
		return err
	}
	defer bare.stop()
	script, err := wrkScript(b.dir, b.token, b.mint)
	if err != nil {
		return err
	}
	fmt.Printf("warm mint-token over loopback, load from wrk: %s store, revocation window %s, %d threads, %d connections, %s per server; servers in their own processes, answer %d bytes\n",
		o.store, b.cfg.RevocationWindow, o.threads, o.conc, o.dur, len(b.answer))
	var rates [2]float64
	for i, target := range []struct{ name, url string }{{"bare handler", bare.url}, {"mint-token", b.realURL}} {
		url := target.url + "/mint-token"
		if _, err := runWrk(script, url, o.threads, o.conc, o.warm); err != nil {
			return err
		}
		before := snapshot(b.fake, b.reads)
		r, err := runWrk(script, url, o.threads, o.conc, o.dur)
		if err != nil {
			return err
		}
		used := snapshot(b.fake, b.reads).minus(before)
		one, err := runWrk(script, url, 1, 1, o.warm+o.dur/2)
		if err != nil {
			return err
		}
		fmt.Printf("%-13s %s\n%-13s at 1 connection: %s\n", target.name, r, "", one)
		if target.name == "mint-token" {
			fmt.Println(used.per1000(r.requests, b.reads != nil))
		}
		if r.bad > 0 || one.bad > 0 {
			return fmt.Errorf("%s: %d failed requests (non-2xx or socket errors)", target.name, r.bad+one.bad)
		}
		rates[i] = r.rps
	}
	fmt.Printf("ratio mint-token / bare = %.2f (goal >= 0.60)\n", rates[1]/rates[0])
	return nil
}

// firstMint registers a service-account connector and mints once, to warm the token cache;
// its answer is what the bare handler answers.
func (b *bench) firstMint(conc int) error {
	key, err := b.fake.KeyJSON("connectors-admin@zenml-core.iam.gserviceaccount.com")
	if err != nil {
		return err
	}
	b.client = &http.Client{Transport: &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2}}
	name := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	reg := fmt.Sprintf(`{"name":%q,"auth_method":"service-account","resource_type":"gcs-bucket","configuration":{"project_id":"zenml-core","service_account_json":%s}}`, name, key)
	if status, body, err := post(b.client, b.realURL+"/register", b.token, []byte(reg)); err != nil || status != http.StatusCreated {
		return fmt.Errorf("register: %d %s %v", status, body, err)
	}
	b.mint = []byte(fmt.Sprintf(`{"connector":%q,"resource_id":"gs://zenml-bucket-sl"}`, name))
	status, answer, err := post(b.client, b.realURL+"/mint-token", b.token, b.mint)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("first mint: %d %s %v", status, answer, err)
	}
	var cred struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(answer, &cred); err != nil || cred.AccessToken == "" {
		return fmt.Errorf("first mint answered no token: %v", err)
	}
	b.answer, b.accessToken = answer, cred.AccessToken
	return nil
}

// measure drives the bare handler and the real mint-token with the same load and prints
// what each did.
func (b *bench) measure(o options) error {
	answer := b.answer
	bareURL, stopBare, err := serve(bareHandler(answer))
	if err != nil {
		return err
	}
	defer stopBare()

	fmt.Printf("warm mint-token over loopback: %s store, revocation window %s, %d clients, %s per server, GOMAXPROCS %d, answer %d bytes\n",
		o.store, b.cfg.RevocationWindow, o.conc, o.dur, runtime.GOMAXPROCS(0), len(answer))
	var results []result
	for _, target := range []struct{ name, url string }{{"bare handler", bareURL + "/mint-token"}, {"mint-token", b.realURL + "/mint-token"}} {
		r, err := b.measureOne(o, target.name, target.url)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	ratio := results[1].rps / results[0].rps
	fmt.Printf("ratio mint-token / bare = %.2f (goal >= 0.60); mint-token p99 %s (goal < 2ms)\n", ratio, results[1].p99)
	return nil
}

// measureOne warms up and measures one server, named name, at url, profiling mint-token
// when o asks for it.
func (b *bench) measureOne(o options, name, url string) (result, error) {
	load(b.client, url, b.token, b.mint, o.conc, o.warm, nil)
	profile := o.cpuprofile != "" && name == "mint-token"
	if profile {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, err
		}
	}
	before := snapshot(b.fake, b.reads)
	r := load(b.client, url, b.token, b.mint, o.conc, o.dur, []byte(b.accessToken))
	r.name = name
	used := snapshot(b.fake, b.reads).minus(before)
	if profile {
		pprof.StopCPUProfile()
	}
	fmt.Println(r)
	if name == "mint-token" {
		fmt.Println(used.per1000(r.n, b.reads != nil))
	}
	if r.errors > 0 {
		return r, fmt.Errorf("%s: %d failed requests (first: %s)", r.name, r.errors, r.firstErr)
	}
	return r, nil
}

// serve runs h on a loopback listener.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func post(c *http.Client, url, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

type result struct {
	name           string
	n, errors      int
	firstErr       string
	rps            float64
	p50, p99, pmax time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%-13s %8.0f req/s  p50 %8s  p99 %8s  max %8s  (%d requests)",
		r.name, r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.pmax.Round(time.Microsecond), r.n)
}

// load runs conc closed-loop clients for d and measures each request. With want set, every
// answer must be 200 and contain it (the warm token: every mint is a cache hit).
func load(c *http.Client, url, token string, body []byte, conc int, d time.Duration, want []byte) result {
	var (
		mu    sync.Mutex
		lats  []time.Duration
		res   result
		wg    sync.WaitGroup
		start = time.Now()
		end   = start.Add(d)
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			errs, first := 0, ""
			for time.Now().Before(end) {
				t0 := time.Now()
				status, b, err := post(c, url, token, body)
				lat := time.Since(t0)
				if err == nil && status == http.StatusOK && (want == nil || bytes.Contains(b, want)) {
					mine = append(mine, lat)
					continue
				}
				errs++
				if first == "" {
					first = fmt.Sprintf("%d %v %.200s", status, err, b)
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			res.errors += errs
			if res.firstErr == "" {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lats)
	res.n = len(lats)
	if res.n > 0 {
		res.rps = float64(res.n) / elapsed.Seconds()
		res.p50 = lats[res.n/2]
		res.p99 = lats[min(res.n-1, res.n*99/100)]
		res.pmax = lats[res.n-1]
	}
	return res
}

// installTracing installs the tracer provider as deployed (GCPCONN_TRACE_SAMPLE, default
// tracing.DefaultSample; 0 is off), so the measurement includes what tracing costs the mint
// path. Spans are not exported unless GCPCONN_TRACE_EXPORTER says where (console: discarded).
func installTracing(c tracing.Config) error {
	if os.Getenv("GCPCONN_TRACE_EXPORTER") == "" {
		c.Exporter = tracing.ExporterNone
	}
	if _, err := tracing.Install(context.Background(), c, io.Discard); err != nil {
		return err
	}
	fmt.Printf("tracing: GCPCONN_TRACE_SAMPLE=%g, exporter %s\n", c.Sample, c.Exporter)
	return nil
}
