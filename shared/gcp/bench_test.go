package gcp_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// upstreamTokenCalls counts the calls the fake answered at Google's token-issuing endpoints.
func upstreamTokenCalls() int64 {
	f := fake.Faults()
	var n int64
	for _, ep := range []string{"oauth2.token", "sts.token", "iamcredentials.generateAccessToken", "metadata.token"} {
		n += f.Count(ep)
	}
	return n
}

// benchConnector registers a service-account connector for one resource (unverified, so
// registration makes no upstream calls) and returns the service and a mint request.
func benchConnector(b *testing.B, rt connector.ResourceType, id string) (*connector.Service, *connector.Connector, connector.MintRequest) {
	b.Helper()
	key, err := fake.KeyJSON(adminSA)
	if err != nil {
		b.Fatal(err)
	}
	s := newService()
	no := false
	c, _, err := s.Register(context.Background(), owner, connector.RegisterRequest{Name: "bench", AuthMethod: configschema.ServiceAccount,
		ResourceType: rt, ResourceID: id, Verify: &no,
		Configuration: map[string]any{"project_id": project, "service_account_json": string(key)}})
	if err != nil {
		b.Fatal(err)
	}
	return s, c, connector.MintRequest{Ref: c.Name}
}

// BenchmarkMintCached measures a warm mint (a cache hit) end to end through the core and
// the adapter; upstream-calls is what the fake saw during the whole run (target: 0 after the
// warm-up mint).
func BenchmarkMintCached(b *testing.B) {
	for _, tc := range []struct {
		rt connector.ResourceType
		id string
	}{{resourceid.GCPGeneric, ""}, {resourceid.GCSBucket, "gs://zenml-bucket-sl"}} {
		b.Run(string(tc.rt), func(b *testing.B) {
			s, _, req := benchConnector(b, tc.rt, tc.id)
			ctx := context.Background()
			if _, err := s.Mint(ctx, owner, req); err != nil {
				b.Fatal(err)
			}
			before := upstreamTokenCalls()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Mint(ctx, owner, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(upstreamTokenCalls()-before), "upstream-calls")
		})
	}
}

// BenchmarkMint10000 mints one resource 10,000 times from a cold cache per iteration and
// reports the upstream token calls per 10,000 mints (target: 1 for gcp-generic; a bucket
// token is one JWT grant plus one STS down-scoping exchange, so 2).
func BenchmarkMint10000(b *testing.B) {
	for _, tc := range []struct {
		rt connector.ResourceType
		id string
	}{{resourceid.GCPGeneric, ""}, {resourceid.GCSBucket, "gs://zenml-bucket-sl"}} {
		b.Run(string(tc.rt), func(b *testing.B) {
			s, c, req := benchConnector(b, tc.rt, tc.id)
			ctx := context.Background()
			before := upstreamTokenCalls()
			for b.Loop() {
				s.Forget(c.ID)
				for range 10000 {
					if _, err := s.Mint(ctx, owner, req); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(upstreamTokenCalls()-before)/float64(b.N), "upstream-calls/10k-mints")
		})
	}
}

// BenchmarkMintColdConcurrent100 starts 100 mints of one resource at once on a cold cache
// per iteration and reports the upstream token calls per burst (target: 1 for gcp-generic,
// 2 for a down-scoped bucket token).
func BenchmarkMintColdConcurrent100(b *testing.B) {
	for _, tc := range []struct {
		rt connector.ResourceType
		id string
	}{{resourceid.GCPGeneric, ""}, {resourceid.GCSBucket, "gs://zenml-bucket-sl"}} {
		b.Run(string(tc.rt), func(b *testing.B) {
			s, c, req := benchConnector(b, tc.rt, tc.id)
			ctx := context.Background()
			before := upstreamTokenCalls()
			for b.Loop() {
				s.Forget(c.ID)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range 100 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						if _, err := s.Mint(ctx, owner, req); err != nil {
							b.Error(err)
						}
					}()
				}
				close(start)
				wg.Wait()
			}
			b.ReportMetric(float64(upstreamTokenCalls()-before)/float64(b.N), "upstream-calls/burst")
		})
	}
}
