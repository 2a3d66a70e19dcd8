package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/store/storetest"
)

// BenchmarkFirestore times the store operations behind register, describe and list against
// the Firestore emulator, in collections holding 100 and 1,000 connectors. Run it with
// scripts/bench-store.sh, which starts the emulator.
func BenchmarkFirestore(b *testing.B) {
	warmUp(b)
	for _, n := range []int{100, 1000} {
		s := newFirestore(b)
		ids := populate(b, s, n)
		ctx := context.Background()
		b.Run(fmt.Sprintf("Register/n=%d", n), func(b *testing.B) {
			// The register use case over Firestore (secrets in memory, no verification):
			// validation, the name check, the secret write and the transactional create.
			svc := &connector.Service{Store: s, Secrets: store.NewMemorySecrets()}
			p := connector.Principal{Email: "bench@example.com"}
			var seq atomic.Int64
			for b.Loop() {
				name := fmt.Sprintf("reg-%d-%d", n, seq.Add(1))
				if _, _, err := svc.Register(ctx, p, benchRequest(name)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Get/n=%d", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := s.Get(ctx, ids[i%len(ids)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("GetByName/n=%d", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := s.GetByName(ctx, fmt.Sprintf("conn-%05d", i%n)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		for _, bl := range []struct {
			name string
			f    connector.Filter
			size int
		}{
			{"ListFirstPage50", connector.Filter{}, 50},
			{"ListByResourceType50", connector.Filter{ResourceType: resourceid.DockerRegistry}, 50},
			{"ListByLabel50", connector.Filter{Labels: map[string]string{"shard": "3"}}, 50},
		} {
			b.Run(fmt.Sprintf("%s/n=%d", bl.name, n), func(b *testing.B) {
				for b.Loop() {
					if _, _, err := s.List(ctx, bl.f, connector.Page{Size: bl.size}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("ListAllPages500/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				tok, total := "", 0
				for {
					cs, next, err := s.List(ctx, connector.Filter{}, connector.Page{Size: 500, Token: tok})
					if err != nil {
						b.Fatal(err)
					}
					total += len(cs)
					if next == "" {
						break
					}
					tok = next
				}
				if total < n {
					b.Fatalf("listed %d connectors; want at least %d", total, n)
				}
			}
		})
	}
}

// warmUp runs every benchmarked operation a few dozen times in a scratch collection, so the
// emulator's JVM has compiled its code paths before anything is timed.
func warmUp(b *testing.B) {
	b.Helper()
	s := newFirestore(b)
	ids := populate(b, s, 50)
	ctx := context.Background()
	svc := &connector.Service{Store: s, Secrets: store.NewMemorySecrets()}
	p := connector.Principal{Email: "bench@example.com"}
	for i := range 40 {
		if _, _, err := svc.Register(ctx, p, benchRequest(fmt.Sprint("warm-", i))); err != nil {
			b.Fatal(err)
		}
		_, err1 := s.Get(ctx, ids[i%len(ids)])
		_, err2 := s.GetByName(ctx, fmt.Sprintf("conn-%05d", i%len(ids)))
		_, _, err3 := s.List(ctx, connector.Filter{}, connector.Page{Size: 50})
		_, _, err4 := s.List(ctx, connector.Filter{ResourceType: resourceid.DockerRegistry}, connector.Page{Size: 50})
		_, _, err5 := s.List(ctx, connector.Filter{Labels: map[string]string{"shard": "3"}}, connector.Page{Size: 50})
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRequest(name string) connector.RegisterRequest {
	exp := time.Now().Add(time.Hour)
	verify := false
	return connector.RegisterRequest{
		Name: name, AuthMethod: configschema.OAuth2Token, ResourceType: resourceid.GCSBucket,
		Configuration: map[string]any{"project_id": "proj-1", "token": "ya29.bench"},
		ExpiresAt:     &exp, Labels: map[string]string{"team": "bench"}, Verify: &verify,
	}
}

// populate creates n connectors (8 writers at a time) and returns their ids.
func populate(b testing.TB, s connector.Store, n int) []string {
	b.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c := storetest.Sample(fmt.Sprintf("id-%05d", i), fmt.Sprintf("conn-%05d", i))
				c.Labels = map[string]string{"shard": fmt.Sprint(i % 10)}
				if i%4 == 0 {
					c.ResourceTypes = []connector.ResourceType{resourceid.DockerRegistry}
				}
				if err := s.Create(context.Background(), c); err != nil {
					failed.Store(err)
				}
				ids[i] = c.ID
			}
		}()
	}
	start := time.Now()
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("populate: %v", err)
	}
	b.Logf("populated %d connectors in %v", n, time.Since(start).Round(time.Millisecond))
	return ids
}
