package main

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/functions/internal/rpcproxy"
)

// firestoreReads are the Firestore RPCs that read documents (each a round trip).
var firestoreReads = map[string]bool{
	"GetDocument": true, "BatchGetDocuments": true, "RunQuery": true, "ListDocuments": true,
	"RunAggregationQuery": true,
}

// rpcCounter counts the Firestore RPCs of one client connection, by method.
type rpcCounter struct {
	rpcproxy.Counter
}

// readCalls returns how many read RPCs were made so far.
func (c *rpcCounter) readCalls() int64 { return c.Sum(firestoreReads) }

// dialEmulator connects to the Firestore emulator as the Firestore client does with
// FIRESTORE_EMULATOR_HOST (which ignores dial options), with interceptors that count.
func (c *rpcCounter) dialEmulator(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithChainUnaryInterceptor(
			func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				c.Add(method)
				return invoker(ctx, method, req, reply, cc, opts...)
			}),
		grpc.WithChainStreamInterceptor(
			func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				c.Add(method)
				return streamer(ctx, desc, cc, method, opts...)
			}))
}

// emulatorOwner authenticates to the emulator as the Firestore client does.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

// counts are the backend calls made so far.
type counts struct {
	firestoreReads int64 // -1: not counted (memory store)
	secretReads    int64
	tokenCalls     int64 // OAuth2, STS and IAM Credentials token endpoints of the fake
}

func snapshot(fake *fakegcp.Server, reads *rpcCounter) counts {
	c := counts{firestoreReads: -1}
	if reads != nil {
		c.firestoreReads = reads.readCalls()
	}
	for ep, n := range fake.Faults().Counts() {
		switch {
		case ep == "secretmanager.versions.access":
			c.secretReads += n
		case ep == "oauth2.token", ep == "sts.token", strings.HasPrefix(ep, "iamcredentials.generate"):
			c.tokenCalls += n
		}
	}
	return c
}

func (c counts) minus(d counts) counts {
	out := counts{secretReads: c.secretReads - d.secretReads, tokenCalls: c.tokenCalls - d.tokenCalls, firestoreReads: -1}
	if c.firestoreReads >= 0 {
		out.firestoreReads = c.firestoreReads - d.firestoreReads
	}
	return out
}

// per1000 describes the calls c made during n mints, per 1,000 mints.
func (c counts) per1000(n int, firestore bool) string {
	per := func(k int64) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3f", float64(k)*1000/float64(n))
	}
	fs := "n/a (memory store)"
	if firestore {
		fs = fmt.Sprintf("%s (%d in all)", per(c.firestoreReads), c.firestoreReads)
	}
	return fmt.Sprintf("  per 1,000 mints: Firestore reads %s, Secret Manager reads %s (%d), upstream token calls %s (%d)",
		fs, per(c.secretReads), c.secretReads, per(c.tokenCalls), c.tokenCalls)
}
