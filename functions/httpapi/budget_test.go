package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/wire"
)

// The memory budget of one request (README, Reliability): a request whose body is n bytes
// allocates at most budgetPerByte×n + budgetBase bytes, whatever the body's shape. The
// numbers come from measurements of every hostile shape at the body cap through every
// endpoint that takes a body (BenchmarkHostileShapes prints them): the worst shape, an array
// of empty objects in a free-form configuration value, allocates about 42 bytes per body
// byte (a map per 3 bytes; 50 under the race detector), and a small request well under the
// base (authentication, logging, the answer).
const (
	budgetPerByte = 64
	budgetBase    = 256 << 10
)

// hostileShape is one shape of JSON value, built to fill about n bytes.
type hostileShape struct {
	name  string
	value func(n int) string
}

// repeatTo repeats unit between open and close to fill about n bytes, separated by commas.
func repeatTo(open, unit, close string, n int) string {
	k := max((n-len(open)-len(close))/(len(unit)+1), 1)
	return open + strings.TrimSuffix(strings.Repeat(unit+",", k), ",") + close
}

// hostileShapes are the shapes of issue #22: each is valid JSON (but for the repeated keys)
// that an endpoint must refuse or accept in time and memory linear in its size.
var hostileShapes = []hostileShape{
	{"deep-arrays", func(n int) string { return strings.Repeat("[", n/2) + strings.Repeat("]", n/2) }},
	{"deep-objects", func(n int) string { return strings.Repeat(`{"a":`, n/6) + "1" + strings.Repeat("}", n/6) }},
	{"many-keys", func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; b.Len() < n-16; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"k` + strconv.Itoa(i) + `":0`)
		}
		return b.String() + "}"
	}},
	{"long-keys", func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; b.Len() < n-8<<10; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + strconv.Itoa(i) + strings.Repeat("k", 4<<10) + `":0`)
		}
		return b.String() + "}"
	}},
	{"empty-objects", func(n int) string { return repeatTo("[", "{}", "]", n) }},
	{"empty-arrays", func(n int) string { return repeatTo("[", "[]", "]", n) }},
	{"zeros", func(n int) string { return repeatTo("[", "0", "]", n) }},
	{"small-numbers", func(n int) string { return repeatTo("[", "0.5", "]", n) }},
	{"short-strings", func(n int) string { return repeatTo("[", `"s"`, "]", n) }},
	{"long-string", func(n int) string { return `"` + strings.Repeat("a", n-2) + `"` }},
	{"repeated-keys", func(n int) string { return repeatTo("{", `"a":0`, "}", n) }},
}

// bodyEndpoint is an endpoint that takes a body, with the place in a plausible body where a
// hostile value goes (%s).
type bodyEndpoint struct {
	method, path, ctype, body string
}

var bodyEndpoints = []bodyEndpoint{
	{"POST", "/register", "", `{"name":"h","auth_method":"service-account","configuration":{"project_id":"demo-project","x":%s}}`},
	{"PUT", "/register?connector=alpha", "", `{"description":"d","configuration":{"x":%s}}`},
	{"POST", "/verify", "", `{"spec":{"name":"s","auth_method":"service-account","configuration":{"x":%s}}}`},
	{"POST", "/mint-token", "", `{"connector":"alpha","resource_type":"gcp-generic","scopes":%s}`},
	{"POST", "/rotate", "", `{"connector":%s}`},
	{"POST", "/sweep", "", `{"concurrency":%s}`},
	{"POST", "/refresh", "", `{"message":{"attributes":{"eventType":"SECRET_UPDATE"},"x":%s}}`},
	{"POST", "/refresh", "application/cloudevents+json", `{"id":"e","data":{"message":{"attributes":{"eventType":"SECRET_UPDATE"}}},"x":%s}`},
}

// hostileBody is ep's body holding shape, about size bytes in all.
func hostileBody(ep bodyEndpoint, shape hostileShape, size int) []byte {
	return fmt.Appendf(nil, ep.body, shape.value(size-len(ep.body)))
}

// serveOnce answers one request in process and returns its status and the bytes the process
// allocated meanwhile (runtime.MemStats.TotalAlloc; the test runs nothing else).
func serveOnce(h http.Handler, ep bodyEndpoint, tok string, body []byte) (int, uint64) {
	r := httptest.NewRequest(ep.method, ep.path, bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+tok)
	if ep.ctype != "" {
		r.Header.Set("Content-Type", ep.ctype)
	}
	w := httptest.NewRecorder()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h.ServeHTTP(w, r)
	runtime.ReadMemStats(&after)
	return w.Code, after.TotalAlloc - before.TotalAlloc
}

// TestHostileBodiesStayInBudget sends every hostile shape at the body cap to every endpoint
// that takes a body, through the real handlers, and fails when a request answers 5xx or
// allocates more than the budget, or when its allocation grows faster than its body: the same
// shape at a quarter of the cap must allocate at least an eighth as much (linear work gives a
// quarter; quadratic, a sixteenth).
func TestHostileBodiesStayInBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 88 bodies of 256 KiB and 88 of 64 KiB")
	}
	e := newEnv(t)
	e.register("alpha", nil)
	e.api.MaxBodyBytes = DefaultMaxBodyBytes
	h, tok := e.api.Handler(), e.token(admin)
	for _, ep := range bodyEndpoints {
		for _, shape := range hostileShapes {
			body := hostileBody(ep, shape, DefaultMaxBodyBytes)
			status, alloc := serveOnce(h, ep, tok, body)
			if status >= 500 || status == http.StatusRequestEntityTooLarge {
				t.Errorf("%s %s %s (%d bytes) = %d; want an answer below 500 (the body is under the cap)", ep.method, ep.path, shape.name, len(body), status)
			}
			if limit := uint64(budgetPerByte*len(body) + budgetBase); alloc > limit {
				t.Errorf("%s %s %s: %d bytes allocated for a %d-byte body (%.1f per byte); budget %d (%d per byte + %d)",
					ep.method, ep.path, shape.name, alloc, len(body), float64(alloc)/float64(len(body)), limit, budgetPerByte, budgetBase)
			}
			_, quarter := serveOnce(h, ep, tok, hostileBody(ep, shape, DefaultMaxBodyBytes/4))
			if alloc > 8*quarter {
				t.Errorf("%s %s %s: %d bytes allocated at the cap, %d at a quarter of it: worse than linear", ep.method, ep.path, shape.name, alloc, quarter)
			}
		}
	}
}

// BenchmarkHostileShapes reports, for every hostile shape at the body cap and every endpoint
// that takes a body, the bytes allocated and the time spent per body byte.
func BenchmarkHostileShapes(b *testing.B) {
	e := newEnv(b)
	e.register("alpha", nil)
	e.api.MaxBodyBytes = DefaultMaxBodyBytes
	h, tok := e.api.Handler(), e.token(admin)
	for _, ep := range bodyEndpoints {
		for _, shape := range hostileShapes {
			body := hostileBody(ep, shape, DefaultMaxBodyBytes)
			b.Run(strings.TrimPrefix(ep.path, "/")+ep.ctype+"/"+shape.name, func(b *testing.B) {
				var alloc uint64
				start := time.Now()
				for b.Loop() {
					_, a := serveOnce(h, ep, tok, body)
					alloc += a
				}
				n := float64(b.N) * float64(len(body))
				b.ReportMetric(float64(alloc)/n, "B/byte")
				b.ReportMetric(float64(time.Since(start).Nanoseconds())/n, "ns/byte")
			})
		}
	}
}

// BenchmarkDeepVerify is issue #22's request: POST /verify with a configuration value nested
// 100,000 arrays deep (about 200 KB).
func BenchmarkDeepVerify(b *testing.B) {
	e := newEnv(b)
	e.api.MaxBodyBytes = DefaultMaxBodyBytes
	h, tok := e.api.Handler(), e.token(admin)
	ep := bodyEndpoint{"POST", "/verify", "", `{"spec":{"name":"s","auth_method":"service-account","configuration":{"x":%s}}}`}
	body := fmt.Appendf(nil, ep.body, strings.Repeat("[", 100000)+strings.Repeat("]", 100000))
	b.ReportAllocs()
	for b.Loop() {
		if status, _ := serveOnce(h, ep, tok, body); status != http.StatusBadRequest {
			b.Fatalf("status %d; want 400", status)
		}
	}
}

// BenchmarkDecodeMintBody is the decoding of a mint request's body.
func BenchmarkDecodeMintBody(b *testing.B) {
	body := []byte(`{"connector":"alpha","resource_type":"gcs-bucket","resource_id":"gs://bucket-a","lifetime_seconds":900}`)
	b.ReportAllocs()
	for b.Loop() {
		var m wire.MintRequest
		if err := decodeStrict(body, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDeepBodiesRefused: issue #22's body, a value nested 100,000 arrays (or 50,000 objects)
// deep, is a 400 from every endpoint that takes a body, naming the field where the depth
// limit was reached; a value nesting right at the limit is not refused for its depth.
func TestDeepBodiesRefused(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)
	e.api.MaxBodyBytes = DefaultMaxBodyBytes
	h, tok := e.api.Handler(), e.token(admin)
	deep := []hostileShape{
		{"arrays", func(int) string { return strings.Repeat("[", 100000) + strings.Repeat("]", 100000) }},
		{"objects", func(int) string { return strings.Repeat(`{"a":`, 40000) + "1" + strings.Repeat("}", 40000) }},
	}
	for _, ep := range bodyEndpoints {
		for _, shape := range deep {
			body := hostileBody(ep, shape, 0)
			r := httptest.NewRequest(ep.method, ep.path, bytes.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+tok)
			if ep.ctype != "" {
				r.Header.Set("Content-Type", ep.ctype)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"field":"`) {
				t.Errorf("%s %s %d %s deep = %d %.300s; want 400 naming a field", ep.method, ep.path, len(body), shape.name, w.Code, w.Body)
			}
		}
	}
	// At the limit: the verify spec's configuration value x is at level 4, so 29 more levels
	// reach 32: refused for what x is (not a configuration field), not for its depth.
	r := e.do("POST", "/verify", tok, `{"spec":{"name":"s","auth_method":"service-account","configuration":{"x":`+
		strings.Repeat("[", 29)+strings.Repeat("]", 29)+`}}}`)
	if r.status != http.StatusBadRequest || strings.Contains(r.raw, "levels deep") {
		t.Errorf("32 levels = %d %s; want a 400 that is not about depth", r.status, r.raw)
	}
	r = e.do("POST", "/verify", tok, `{"spec":{"name":"s","auth_method":"service-account","configuration":{"x":`+
		strings.Repeat("[", 30)+strings.Repeat("]", 30)+`}}}`)
	if r.status != http.StatusBadRequest || !strings.Contains(r.raw, "more than 32 levels deep") {
		t.Errorf("33 levels = %d %s; want a 400 about depth", r.status, r.raw)
	}
}
