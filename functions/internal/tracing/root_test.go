package tracing

import (
	"context"
	"testing"
)

// TestSampleRootAgreesWithProvider: for root spans started with WithRootID, the provider
// uses that trace id and samples exactly the ids SampleRoot says it samples, at several
// ratios; the sampled share is near the ratio.
func TestSampleRootAgreesWithProvider(t *testing.T) {
	for _, ratio := range []float64{0, 0.01, 0.3, 1} {
		tp := NewProvider(Config{Sample: ratio, Service: "test"}, nil)
		tracer := tp.Tracer("test")
		sampled := 0
		const n = 4000
		for range n {
			id := NewTraceID()
			_, span := tracer.Start(WithRootID(context.Background(), id), "root")
			sc := span.SpanContext()
			if sc.TraceID() != id {
				t.Fatalf("ratio %v: root span trace id %s; want the WithRootID id %s", ratio, sc.TraceID(), id)
			}
			if got := SampleRoot(id); got != sc.IsSampled() {
				t.Fatalf("ratio %v: SampleRoot(%s) = %v; the provider sampled %v", ratio, id, got, sc.IsSampled())
			}
			if sc.IsSampled() {
				sampled++
			}
			span.End()
		}
		if share := float64(sampled) / n; share < ratio*0.7 || share > ratio*1.3+0.002 {
			t.Errorf("ratio %v: %d of %d roots sampled", ratio, sampled, n)
		}
		_ = tp.Shutdown(context.Background())
	}
}
