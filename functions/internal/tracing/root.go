package tracing

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
)

// A request without a parent trace is sampled by its trace id (sdktrace.TraceIDRatioBased),
// so whether it will be traced is known as soon as the id is drawn. The functions draw it
// themselves (NewTraceID), ask SampleRoot, and start no span at all for the requests that
// will not be traced (99% of them at DefaultSample); for the others, WithRootID hands the id
// to the provider's id generator, so that the provider's sampler sees the same id and decides
// the same.

// rootRatio holds the bits of the sampling ratio of the last provider NewProvider made (the
// one a process installs); 0 while there is none, so that nothing is sampled.
var rootRatio atomic.Uint64

// SampleRoot reports whether a trace with id and no parent is sampled by the providers of
// this package: false until NewProvider has made one, and as sdktrace.TraceIDRatioBased
// decides otherwise.
func SampleRoot(id trace.TraceID) bool {
	ratio := math.Float64frombits(rootRatio.Load())
	switch {
	case ratio >= 1:
		return true
	case ratio <= 0:
		return false
	}
	return binary.BigEndian.Uint64(id[8:16])>>1 < uint64(ratio*(1<<63))
}

// NewTraceID returns a random trace id (not all zero).
func NewTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:8], rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

// NewSpanID returns a random span id (not all zero).
func NewSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

type rootIDKey struct{}

// WithRootID returns ctx asking the providers of this package to give the root span started
// with it the trace id id.
func WithRootID(ctx context.Context, id trace.TraceID) context.Context {
	return context.WithValue(ctx, rootIDKey{}, id)
}

// idGenerator is the providers' sdktrace.IDGenerator: random ids, and the trace id
// WithRootID put on the context for a root span.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if id, ok := ctx.Value(rootIDKey{}).(trace.TraceID); ok && id.IsValid() {
		return id, NewSpanID()
	}
	return NewTraceID(), NewSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return NewSpanID() }
