package tracing

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/gcpconn/gcpconn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestConfigFromEnv: the defaults (1% sampled; Cloud Trace when deployed, nothing locally),
// the accepted values, and a clear error naming the variable for anything else.
func TestConfigFromEnv(t *testing.T) {
	for _, tt := range []struct {
		name     string
		env      map[string]string
		deployed bool
		want     Config
		err      string
	}{
		{"local default", nil, false, Config{Sample: DefaultSample, Exporter: ExporterNone}, ""},
		{"deployed default", nil, true, Config{Sample: DefaultSample, Exporter: ExporterCloudTrace}, ""},
		{"off", map[string]string{"GCPCONN_TRACE_SAMPLE": "0"}, true, Config{Sample: 0, Exporter: ExporterCloudTrace}, ""},
		{"console, all", map[string]string{"GCPCONN_TRACE_SAMPLE": "1", "GCPCONN_TRACE_EXPORTER": "console"}, false, Config{Sample: 1, Exporter: ExporterConsole}, ""},
		{"not a ratio", map[string]string{"GCPCONN_TRACE_SAMPLE": "5%"}, false, Config{}, "GCPCONN_TRACE_SAMPLE=\"5%\" is not a ratio"},
		{"above 1", map[string]string{"GCPCONN_TRACE_SAMPLE": "1.5"}, false, Config{}, "GCPCONN_TRACE_SAMPLE"},
		{"unknown exporter", map[string]string{"GCPCONN_TRACE_EXPORTER": "jaeger"}, false, Config{}, "GCPCONN_TRACE_EXPORTER=\"jaeger\" is not cloudtrace, console or none"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tt.env[k] }, tt.deployed)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v; want it to say %q", err, tt.err)
				}
				return
			}
			if err != nil || got.Sample != tt.want.Sample || got.Exporter != tt.want.Exporter {
				t.Errorf("ConfigFromEnv = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestSampling: a root request is traced at the configured ratio (all at 1, none at 0), and
// a request whose caller sampled it is traced whenever tracing is on, one it did not is not.
func TestSampling(t *testing.T) {
	remote := func(sampled bool) context.Context {
		var f trace.TraceFlags
		if sampled {
			f = trace.FlagsSampled
		}
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: f, Remote: true})
		return trace.ContextWithRemoteSpanContext(context.Background(), sc)
	}
	for _, tt := range []struct {
		name   string
		sample float64
		ctx    context.Context
		want   bool
	}{
		{"root, every request", 1, context.Background(), true},
		{"root, ratio 0", 0, context.Background(), false},
		{"caller sampled", 0.01, remote(true), true},
		{"caller did not sample", 0.01, remote(false), false},
	} {
		tp := NewProvider(Config{Sample: tt.sample, Service: "t"}, nil)
		_, span := tp.Tracer("t").Start(tt.ctx, "x")
		if got := span.SpanContext().IsSampled(); got != tt.want {
			t.Errorf("%s: sampled = %v; want %v", tt.name, got, tt.want)
		}
		span.End()
	}
}

// TestInstall: at ratio 0 nothing is installed (the global provider stays a no-op); the
// console exporter writes the spans of the installed provider as JSON, flushed by shutdown.
func TestInstall(t *testing.T) {
	before := otel.GetTracerProvider()
	if _, err := Install(context.Background(), Config{Sample: 0, Exporter: ExporterConsole}, nil); err != nil || otel.GetTracerProvider() != before {
		t.Fatalf("Install at ratio 0 = %v, installed a provider: %v", err, otel.GetTracerProvider() != before)
	}
	if _, err := Install(context.Background(), Config{Sample: 1, Exporter: ExporterCloudTrace}, nil); err == nil || !strings.Contains(err.Error(), "GCPCONN_PROJECT") {
		t.Errorf("cloudtrace without a project = %v; want an error naming GCPCONN_PROJECT", err)
	}
	var out bytes.Buffer
	shutdown, err := Install(context.Background(), Config{Sample: 1, Exporter: ExporterConsole, Service: "gcpconn"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("t").Start(context.Background(), "mint-token")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"Name":"mint-token"`) {
		t.Errorf("console exporter wrote %q; want the mint-token span", out.String())
	}
}
