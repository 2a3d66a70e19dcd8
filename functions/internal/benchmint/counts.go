package main

import (
	"fmt"
	"strings"

	"google.golang.org/grpc"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/internal/grpccount"
	"github.com/gcpconn/gcpconn/shared/store"
)

// firestoreReads are the Firestore RPCs that read documents (each a round trip).
var firestoreReads = map[string]bool{
	"GetDocument": true, "BatchGetDocuments": true, "RunQuery": true, "ListDocuments": true,
	"RunAggregationQuery": true,
}

// rpcCounter counts the Firestore RPCs of one client connection, by method.
type rpcCounter struct {
	grpccount.Counter
}

// readCalls returns how many read RPCs were made so far.
func (c *rpcCounter) readCalls() int64 { return c.Sum(firestoreReads) }

// dialEmulator connects to the Firestore emulator as the Firestore client does with
// FIRESTORE_EMULATOR_HOST (which ignores dial options), with interceptors that count.
func (c *rpcCounter) dialEmulator(addr string) (*grpc.ClientConn, error) {
	return store.DialFirestoreEmulator(addr, c.DialOptions()...)
}

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
