package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gcpconn/gcpconn/functions/internal/tracing"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
)

var (
	spansOnce sync.Once
	spans     *tracetest.InMemoryExporter
)

// recordSpans installs, once for the package, the deployment's tracer provider at the default
// sampling with an in-memory exporter: requests whose traceparent says sampled are traced,
// others almost never, so the other tests are unaffected.
func recordSpans() *tracetest.InMemoryExporter {
	spansOnce.Do(func() {
		spans = tracetest.NewInMemoryExporter()
		tp := tracing.NewProvider(tracing.Config{Sample: tracing.DefaultSample, Service: "gcpconn-test"}, nil,
			sdktrace.WithSyncer(spans))
		otel.SetTracerProvider(tp)
	})
	return spans
}

// randomHex returns n random bytes in hex.
func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// linesSince returns the decoded log lines written after the first n bytes of the log.
func (e *env) linesSince(n int) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(e.logs.String()[n:]), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}

// TestTraceparentMintSpansAndLogs: a mint sent with a sampled traceparent writes its log
// lines under that trace id and the request's span id, and its spans reach the exporter:
// the mint, its store read (a cache miss), its secret read and its Google call, all in the
// caller's trace under the mint's span. A second mint is served from the caches: no store
// read, no Google call.
func TestTraceparentMintSpansAndLogs(t *testing.T) {
	exp := recordSpans()
	e := newEnv(t)
	e.svc.RevocationWindow = connector.DefaultRevocationWindow
	id := e.register("traced", nil)
	e.svc.Forget(id)
	// A trace id of this run's own: the exporter is the package's, and -count=N runs this
	// test again in the same process, so spans of an earlier run must not count here.
	traceID, parent := randomHex(t, 16), randomHex(t, 8)
	mint := func() {
		n := len(e.logs.String())
		r := e.doHeaders("POST", "/mint-token", e.token(user), map[string]any{"connector": "traced", "resource_type": "gcp-generic"},
			http.Header{"Traceparent": {"00-" + traceID + "-" + parent + "-01"}})
		e.expect(r, http.StatusOK, "")
		lines := e.linesSince(n)
		if len(lines) == 0 {
			t.Fatal("the mint wrote no log line")
		}
		for _, l := range lines {
			if l[cloudlog.TraceKey] != traceID || l[cloudlog.TraceSampledKey] != true {
				t.Errorf("log line without the caller's trace: %v", l)
			}
		}
	}
	mint()
	got := map[string]int{}
	var mintSpan string
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() != traceID {
			continue
		}
		got[s.Name]++
		if s.Name == "mint-token" {
			mintSpan = s.SpanContext.SpanID().String()
			if s.Parent.SpanID().String() != parent {
				t.Errorf("mint-token span's parent = %s; want the caller's %s", s.Parent.SpanID(), parent)
			}
		}
	}
	for _, name := range []string{"mint-token", "store.get", "secrets.access", "google.token"} {
		if got[name] != 1 {
			t.Errorf("spans of the mint = %v; want one %s", got, name)
		}
	}
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() == traceID && s.Name != "mint-token" && s.Parent.SpanID().String() != mintSpan {
			t.Errorf("span %s is not under the mint's span %s (parent %s)", s.Name, mintSpan, s.Parent.SpanID())
		}
	}
	n := len(e.logs.String())
	mint()
	if l := e.linesSince(n); len(l) > 0 && l[0][cloudlog.SpanKey] == parent {
		t.Errorf("log line names the caller's span, not the request's: %v", l[0])
	}
	again := map[string]int{}
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() == traceID {
			again[s.Name]++
		}
	}
	if again["store.get"] != 1 || again["google.token"] != 1 || again["mint-token"] != 2 {
		t.Errorf("spans after a cached mint = %v; want a second mint-token and no new store read or Google call", again)
	}
}

// TestRequestWithoutTraceHeaderGetsATrace: every log line of a request sent without a trace
// header carries one trace id, so Cloud Logging groups them; another request gets another.
func TestRequestWithoutTraceHeaderGetsATrace(t *testing.T) {
	e := newEnv(t)
	e.register("one", nil)
	e.register("two", nil)
	var ids []string
	for range 2 {
		n := len(e.logs.String())
		e.expect(e.do("POST", "/sweep", e.token(admin), nil), http.StatusOK, "")
		lines := e.linesSince(n)
		if len(lines) < 3 {
			t.Fatalf("sweep wrote %d log lines; want one per connector and the run", len(lines))
		}
		id, _ := lines[0][cloudlog.TraceKey].(string)
		if len(id) != 32 || strings.Trim(id, "0") == "" {
			t.Fatalf("log line without a trace id: %v", lines[0])
		}
		for _, l := range lines {
			if l[cloudlog.TraceKey] != id {
				t.Errorf("a line of the same request has trace %v, not %s: %v", l[cloudlog.TraceKey], id, l)
			}
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Errorf("two requests share the trace id %s", ids[0])
	}
}

// TestRefreshEventTrace: the log lines of a refresh CloudEvent carry the trace of the event's
// traceparent extension, or a generated one when it has none.
func TestRefreshEventTrace(t *testing.T) {
	for _, tt := range []struct{ name, traceparent, want string }{
		{"traceparent extension", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "0af7651916cd43dd8448eb211c80319c"},
		{"none", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ev := event.New()
			ev.SetID("ev-1")
			ev.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
			ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
			if tt.traceparent != "" {
				ev.SetExtension("traceparent", tt.traceparent)
			}
			_ = ev.SetData("text/plain", "not a Pub/Sub message")
			if err := e.api.Refresh(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			lines := e.linesSince(0)
			if len(lines) == 0 {
				t.Fatal("refresh wrote no log line")
			}
			id, _ := lines[0][cloudlog.TraceKey].(string)
			if len(id) != 32 || (tt.want != "" && id != tt.want) {
				t.Errorf("refresh log line trace = %q; want %q (32 hex digits)", id, tt.want)
			}
		})
	}
}

// TestUnsampledRequestStartsNoSpan: under the deployment's provider, a request that will not
// be traced (no trace header and an unsampled new trace id, or an unsampled traceparent) gets
// no span of the provider, only a span context for its logs and children, which are not
// sampled either; a sampled one gets the provider's span under the trace id its logs carry.
func TestUnsampledRequestStartsNoSpan(t *testing.T) {
	recordSpans()
	tid, parent := randomHex(t, 16), randomHex(t, 8)
	sampled := 0
	for i := range 2000 {
		r := httptest.NewRequest(http.MethodPost, "/mint-token", nil)
		if i%2 == 1 {
			r.Header.Set("traceparent", "00-"+tid+"-"+parent+"-00")
		}
		ctx, span := traceRequest(context.Background(), r, "mint-token")
		sc := span.SpanContext()
		_, fromSDK := span.TracerProvider().(*sdktrace.TracerProvider)
		lt, _ := cloudlog.TraceFrom(ctx)
		switch {
		case sc.IsSampled():
			sampled++
			if !fromSDK || !span.IsRecording() || lt.ID != sc.TraceID().String() || !lt.Sampled {
				t.Fatalf("sampled request: span from the provider %v, recording %v, log trace %+v; want a recording span of the provider under the log's trace", fromSDK, span.IsRecording(), lt)
			}
		case fromSDK || span.IsRecording():
			t.Fatalf("request %d (traceparent %v) is not sampled but started a span of the provider", i, i%2 == 1)
		case lt.ID != sc.TraceID().String() || lt.Sampled:
			t.Fatalf("unsampled request logs trace %+v; its span context is %s", lt, sc.TraceID())
		}
		if _, child := tracer.Start(ctx, "child"); child.IsRecording() != sc.IsSampled() {
			t.Fatalf("a child of a request sampled %v is recorded %v", sc.IsSampled(), child.IsRecording())
		}
		span.End()
	}
	if sampled > 50 {
		t.Errorf("%d of 1000 requests without a trace header sampled at %v", sampled, tracing.DefaultSample)
	}
}
