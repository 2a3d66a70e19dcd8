package connector

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Spans: the core opens an OpenTelemetry span around each call that leaves the process on
// the paths callers wait for (a store read on a cache miss, a secret read, a Google call),
// as a child of the request's span (functions/httpapi opens one per use case). It uses the
// global tracer provider, which the deployment configures (GCPCONN_TRACE_SAMPLE). A call
// whose context carries no recording span (tracing off, the request not sampled, no
// request) opens none and costs nothing: children of an unsampled span are never sampled.
// Span names are "store.get", "secrets.access", "google.token" and "google.list_resources";
// attributes never hold a secret.
var tracer = otel.Tracer("github.com/gcpconn/gcpconn/shared/connector")

// startSpan opens the span name, with the attribute key=value, under the recording span of
// ctx; without one it returns ctx and its span, on which the calls of endSpan do nothing.
func startSpan(ctx context.Context, name, key, value string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.String(key, value)))
}

// endSpan records err (its kind, and the Google API that failed) on span and ends it.
func endSpan(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, string(KindOf(err)))
		if api := APIOf(err); api != "" {
			span.SetAttributes(attribute.String("gcpconn.google_api", api))
		}
	}
	span.End()
}

// tracedReader is a storeReader whose reads are spans.
type tracedReader struct{ r storeReader }

func (t tracedReader) Get(ctx context.Context, id string) (c *Connector, err error) {
	ctx, span := startSpan(ctx, "store.get", "gcpconn.connector_id", id)
	defer func() { endSpan(span, err) }()
	return t.r.Get(ctx, id)
}

func (t tracedReader) GetByName(ctx context.Context, name string) (c *Connector, err error) {
	ctx, span := startSpan(ctx, "store.get", "gcpconn.connector", name)
	defer func() { endSpan(span, err) }()
	return t.r.GetByName(ctx, name)
}

// googleToken calls Google.Token in a span.
func (s *Service) googleToken(ctx context.Context, g Grant, req TokenRequest) (tok Token, err error) {
	ctx, span := startSpan(ctx, "google.token", "gcpconn.auth_method", string(g.Connector.AuthMethod))
	defer func() { endSpan(span, err) }()
	return s.Google.Token(ctx, g, req)
}

// googleList calls Google.ListResources in a span.
func (s *Service) googleList(ctx context.Context, g Grant, rt ResourceType, id string) (ids []string, err error) {
	ctx, span := startSpan(ctx, "google.list_resources", "gcpconn.resource_type", string(rt))
	defer func() { endSpan(span, err) }()
	return s.Google.ListResources(ctx, g, rt, id)
}
