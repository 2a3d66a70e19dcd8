package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/gcpconn/gcpconn/functions/internal/tracing"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
)

// Every request is one span named after its function ("mint-token", "sweep", ...), the
// parent of the core's spans (store, secret and Google calls). Its parent is the caller's
// span from "traceparent", or else from Google's "X-Cloud-Trace-Context". The request's log
// entries carry the same trace (cloudlog), so Cloud Logging groups them under it; a request
// without a trace header still gets one (the span's, or a random id when tracing is off), so
// its lines group too.
var tracer = otel.Tracer("github.com/gcpconn/gcpconn/functions/httpapi")

// serverSpan are the options of a request's span (one slice, not one per request).
var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// traceRequest starts the span of a request to entry and puts it, and the trace its log
// entries carry, on ctx. The caller must end the span.
func traceRequest(ctx context.Context, r *http.Request, entry string) (context.Context, trace.Span) {
	// The headers are looked up by their canonical names: Header.Get would canonicalize
	// (and allocate) on every request.
	if len(r.Header["Traceparent"]) > 0 {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	if len(r.Header["X-Cloud-Trace-Context"]) > 0 && !trace.SpanContextFromContext(ctx).IsValid() {
		if sc, ok := cloudTraceParent(r.Header); ok {
			ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
		}
	}
	return startTrace(ctx, entry)
}

// traceEvent is traceRequest for a CloudEvent (refresh): its parent is the event's
// "traceparent" extension, when it has one.
func traceEvent(ctx context.Context, e event.Event, entry string) (context.Context, trace.Span) {
	if tp, ok := e.Extensions()["traceparent"].(string); ok {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
	}
	return startTrace(ctx, entry)
}

// startTrace starts the span of a request or event to entry under the parent ctx may carry,
// and puts the trace its log entries carry on ctx. A request that will not be traced (its
// parent is not sampled, or it has none and its new trace id is not sampled: see
// functions/internal/tracing) gets no span: it carries its trace id (and an unsampled span
// context, so that the core's spans under it are not sampled either) for its log lines.
func startTrace(ctx context.Context, entry string) (context.Context, trace.Span) {
	parent := trace.SpanContextFromContext(ctx)
	var id trace.TraceID
	switch {
	case !parent.IsValid():
		id = tracing.NewTraceID()
		if !tracing.SampleRoot(id) {
			sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: id, SpanID: tracing.NewSpanID()})
			ctx = trace.ContextWithSpanContext(ctx, sc)
			return cloudlog.WithTrace(ctx, cloudlog.Trace{ID: id.String()}), trace.SpanFromContext(ctx)
		}
		ctx = tracing.WithRootID(ctx, id)
	case !parent.IsSampled():
		t := cloudlog.Trace{ID: parent.TraceID().String(), SpanID: parent.SpanID().String()}
		return cloudlog.WithTrace(ctx, t), trace.SpanFromContext(ctx)
	}
	ctx, span := tracer.Start(ctx, entry, serverSpan...)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("gcpconn.entry_point", entry))
	}
	sc := span.SpanContext()
	if !sc.IsValid() { // no provider installed: the trace is id, for the logs only
		return cloudlog.WithTrace(ctx, cloudlog.Trace{ID: id.String()}), span
	}
	return cloudlog.WithTrace(ctx, cloudlog.Trace{ID: sc.TraceID().String(), SpanID: sc.SpanID().String(), Sampled: sc.IsSampled()}), span
}

// cloudTraceParent reads "X-Cloud-Trace-Context: TRACE/SPAN;o=1" as a remote parent (the
// span id is decimal there).
func cloudTraceParent(h http.Header) (trace.SpanContext, bool) {
	t, ok := cloudlog.TraceFromHeaders(h)
	if !ok {
		return trace.SpanContext{}, false
	}
	tid, err := trace.TraceIDFromHex(strings.Repeat("0", 32-len(t.ID)) + t.ID)
	if err != nil {
		return trace.SpanContext{}, false
	}
	var sid trace.SpanID
	n, err := strconv.ParseUint(t.SpanID, 10, 64)
	if err != nil || n == 0 {
		copy(sid[:], tid[8:]) // no parent span given: any fixed non-zero id keeps the trace
		sid[7] |= 1
	} else {
		for i := range sid {
			sid[i] = byte(n >> (56 - 8*i))
		}
	}
	var flags trace.TraceFlags
	if t.Sampled {
		flags = trace.FlagsSampled
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true}), true
}

// spanFailed notes on the request's span that it was answered with code and status.
func spanFailed(span trace.Span, code string, status int) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("gcpconn.code", code), attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, code)
	}
}
