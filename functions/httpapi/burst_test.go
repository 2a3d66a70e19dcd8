package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// deployedMemory is the memory limit of a deployed function instance, in bytes, as the deploy
// manifest sets it ("512Mi"). The test reads the manifest's JSON itself: infra/ is not
// uploaded with the functions' source, so no package of functions/ may import infra/manifest.
func deployedMemory(t *testing.T) uint64 {
	raw, err := os.ReadFile("../../infra/functions.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Settings struct {
			Memory string `json:"memory"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("infra/functions.json: %v", err)
	}
	v := m.Settings.Memory
	n, err := strconv.ParseUint(strings.TrimSuffix(v, "Mi"), 10, 64)
	if err != nil || !strings.HasSuffix(v, "Mi") {
		t.Fatalf("memory setting %q: want a number of Mi", v)
	}
	return n << 20
}

// processMemory is the memory the Go runtime holds from the system (heap, stacks, runtime
// structures), less what it has returned.
func processMemory() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// peak keeps the largest value it is shown.
type peak struct{ v atomic.Uint64 }

func (p *peak) see(v uint64) {
	for old := p.v.Load(); v > old && !p.v.CompareAndSwap(old, v); old = p.v.Load() {
	}
}

// burstCallers is the number of hostile requests in flight at once.
const burstCallers = 40

// TestBurstOfHostileBodies: 40 callers send hostile bodies at the cap, all in flight at once
// (a barrier holds the first round until the 40th has arrived), while another caller mints;
// every mint is answered 200 while the burst runs, and the process's memory, sampled as each
// hostile request ends (its values still unreclaimed), stays within the deployed memory limit.
func TestBurstOfHostileBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 200 bodies of 256 KiB")
	}
	limit := deployedMemory(t)
	e := newEnv(t)
	e.register("alpha", nil)
	e.api.MaxBodyBytes = DefaultMaxBodyBytes
	var arrived sync.WaitGroup
	arrived.Add(burstCallers)
	var inFlight atomic.Int64
	var mem peak
	hostile := e.api.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Burst") == "" {
			hostile.ServeHTTP(w, r)
			return
		}
		inFlight.Add(1)
		if r.Header.Get("X-Burst") == "first" {
			arrived.Done()
			arrived.Wait()
		}
		hostile.ServeHTTP(w, r)
		mem.see(processMemory())
		inFlight.Add(-1)
	}))
	t.Cleanup(srv.Close)
	tok := e.token(admin)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range burstCallers {
		wg.Go(func() {
			for round := range 5 {
				shape := hostileShapes[(i+round)%len(hostileShapes)]
				ep := bodyEndpoints[(i+round)%3] // register, update, verify: the free-form ones
				req, _ := http.NewRequest(ep.method, srv.URL+ep.path, bytes.NewReader(hostileBody(ep, shape, DefaultMaxBodyBytes)))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-Burst", map[bool]string{true: "first", false: "more"}[round == 0])
				resp, err := srv.Client().Do(req)
				if err != nil || resp.StatusCode >= 500 {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		})
	}
	arrived.Wait()
	mints, during := 0, 0
	for inFlight.Load() > 0 || mints < 5 {
		r := e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "alpha", "resource_type": "gcp-generic"})
		if r.status != http.StatusOK {
			t.Fatalf("mint during the burst = %d %s; want 200", r.status, r.raw)
		}
		mints++
		if inFlight.Load() > 0 {
			during++
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d hostile requests failed or answered 5xx", failed.Load())
	}
	if during == 0 {
		t.Errorf("no mint was answered while the burst was in flight")
	}
	t.Logf("%d mints answered while hostile bodies were in flight; peak process memory %d MiB (limit %d MiB)", during, mem.v.Load()>>20, limit>>20)
	if mem.v.Load() > limit {
		t.Errorf("peak process memory %d MiB; the deployed limit is %d MiB", mem.v.Load()>>20, limit>>20)
	}
}
