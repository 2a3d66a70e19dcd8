package connector_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// BenchmarkMintCoreCached measures a cache hit through the core alone (memory stores, a
// stand-in Google): lookup, rules, secret access and the cache.
func BenchmarkMintCoreCached(b *testing.B) {
	g := &mtGoogle{}
	s := mtService(g)
	c := &connector.Connector{ID: "id-bench", Name: "bench", Type: connector.TypeGCP, Owner: mtOwner,
		AuthMethod: configschema.ServiceAccount, ResourceTypes: []connector.ResourceType{resourceid.GCSBucket},
		ResourceID: "gs://zenml-bucket-sl", Config: connector.Config{ProjectID: mtProject}}
	ctx := context.Background()
	v, err := s.Secrets.AddVersion(ctx, c.ID, mtSAKey)
	if err != nil {
		b.Fatal(err)
	}
	c.SecretVersion = v
	if err := s.Store.Create(ctx, c); err != nil {
		b.Fatal(err)
	}
	req := connector.MintRequest{Ref: "bench"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Mint(ctx, mtOwnerP, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(g.tokenCalls.Load()), "upstream-calls")
}

// BenchmarkMintCoreColdConcurrent100 reports the upstream token calls of 100 concurrent
// mints of one resource on a cold cache (target: 1 per burst).
func BenchmarkMintCoreColdConcurrent100(b *testing.B) {
	g := &mtGoogle{}
	s := mtService(g)
	ctx := context.Background()
	c := &connector.Connector{ID: "id-bench", Name: "bench", Type: connector.TypeGCP, Owner: mtOwner,
		AuthMethod: configschema.ServiceAccount, ResourceTypes: []connector.ResourceType{resourceid.GCPGeneric},
		Config: connector.Config{ProjectID: mtProject}}
	v, err := s.Secrets.AddVersion(ctx, c.ID, mtSAKey)
	if err != nil {
		b.Fatal(err)
	}
	c.SecretVersion = v
	if err := s.Store.Create(ctx, c); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s.Forget(c.ID)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := s.Mint(ctx, mtOwnerP, connector.MintRequest{Ref: "bench"}); err != nil {
					b.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	b.ReportMetric(float64(g.tokenCalls.Load())/float64(b.N), "upstream-calls/burst")
}
