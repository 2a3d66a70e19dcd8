// Package tracing installs gcpconn's OpenTelemetry tracer provider: which requests are traced
// (GCPCONN_TRACE_SAMPLE) and where their spans go (GCPCONN_TRACE_EXPORTER).
//
// The functions open one span per request and the core one per store, secret and Google call
// (functions/httpapi, shared/connector); they use the global provider, which is a no-op until
// Install sets one. Sampling is by trace id at GCPCONN_TRACE_SAMPLE (a ratio from 0 to 1,
// DefaultSample unless set; 0 turns tracing off and installs nothing), except that a request
// whose traceparent says its caller sampled it is traced whenever tracing is on.
//
// Exporters: "cloudtrace" sends spans to Cloud Trace over OTLP (gRPC to
// telemetry.googleapis.com, authenticated with the runtime's Application Default
// Credentials; the runtime service account needs roles/cloudtrace.agent); "console" writes
// them as JSON to a writer (standard error under scripts/dev.sh); "none" exports nothing.
// Unset, it is cloudtrace when the service runs on Google's stores (deployed) and none
// otherwise.
package tracing

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/oauth2/google"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/oauth"
)

// DefaultSample is the share of requests traced when GCPCONN_TRACE_SAMPLE is not set.
const DefaultSample = 0.01

// Exporters of GCPCONN_TRACE_EXPORTER.
const (
	ExporterCloudTrace = "cloudtrace"
	ExporterConsole    = "console"
	ExporterNone       = "none"
)

// cloudTraceEndpoint is Google's OTLP endpoint (Cloud Trace's Telemetry API).
const cloudTraceEndpoint = "telemetry.googleapis.com:443"

// Config says what is traced and where spans go.
type Config struct {
	Sample   float64 // share of requests traced, 0 to 1; 0 is off
	Exporter string  // ExporterCloudTrace, ExporterConsole or ExporterNone
	Project  string  // the project spans are written to (Cloud Trace needs it)
	Service  string  // service.name of the spans
}

// ConfigFromEnv reads GCPCONN_TRACE_SAMPLE and GCPCONN_TRACE_EXPORTER; deployed says the
// service runs on Google's stores (the default exporter is then cloudtrace).
func ConfigFromEnv(getenv func(string) string, deployed bool) (Config, error) {
	c := Config{Sample: DefaultSample, Exporter: ExporterNone, Service: "gcpconn"}
	if deployed {
		c.Exporter = ExporterCloudTrace
	}
	if v := getenv("GCPCONN_TRACE_SAMPLE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return c, fmt.Errorf("GCPCONN_TRACE_SAMPLE=%q is not a ratio from 0 (off) to 1 (every request), such as 0.01", v)
		}
		c.Sample = f
	}
	switch v := getenv("GCPCONN_TRACE_EXPORTER"); v {
	case "":
	case ExporterCloudTrace, ExporterConsole, ExporterNone:
		c.Exporter = v
	default:
		return c, fmt.Errorf("GCPCONN_TRACE_EXPORTER=%q is not cloudtrace, console or none", v)
	}
	return c, nil
}

// NewProvider returns a tracer provider that samples as c says and sends spans to exp
// (batched; nil exports nothing). SampleRoot follows its ratio from then on.
func NewProvider(c Config, exp sdktrace.SpanExporter, opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	attrs := []attribute.KeyValue{attribute.String("service.name", c.Service)}
	if c.Project != "" {
		attrs = append(attrs, attribute.String("gcp.project_id", c.Project))
	}
	o := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.Sample))),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithIDGenerator(idGenerator{}),
	}
	rootRatio.Store(math.Float64bits(max(c.Sample, 0)))
	if exp != nil {
		o = append(o, sdktrace.WithBatcher(exp))
	}
	return sdktrace.NewTracerProvider(append(o, opts...)...)
}

// Install makes the provider c describes the global one and returns its shutdown (which
// flushes the spans not yet exported). With c.Sample 0 it installs nothing. console receives
// the console exporter's spans.
func Install(ctx context.Context, c Config, console io.Writer) (shutdown func(context.Context) error, err error) {
	none := func(context.Context) error { return nil }
	if c.Sample <= 0 {
		return none, nil
	}
	var exp sdktrace.SpanExporter
	switch c.Exporter {
	case ExporterConsole:
		exp, err = stdouttrace.New(stdouttrace.WithWriter(console))
	case ExporterCloudTrace:
		exp, err = cloudTrace(ctx, c.Project)
	}
	if err != nil {
		return none, err
	}
	tp := NewProvider(c, exp)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown, nil
}

// cloudTrace returns an OTLP exporter to Cloud Trace as the runtime's credentials. It does
// not connect: gRPC dials on the first export.
func cloudTrace(ctx context.Context, project string) (sdktrace.SpanExporter, error) {
	if project == "" {
		return nil, fmt.Errorf("tracing: the cloudtrace exporter needs the project (GCPCONN_PROJECT)")
	}
	creds, err := google.FindDefaultCredentials(ctx, "https://www.googleapis.com/auth/trace.append")
	if err != nil {
		return nil, fmt.Errorf("tracing: credentials for Cloud Trace: %w", err)
	}
	return otlptracegrpc.New(ctx,
		otlptracegrpc.WithEndpoint(cloudTraceEndpoint),
		otlptracegrpc.WithHeaders(map[string]string{"x-goog-user-project": project}),
		otlptracegrpc.WithDialOption(grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: creds.TokenSource})))
}
