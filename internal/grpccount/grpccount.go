// Package grpccount counts gRPC calls by method, for the tests and benchmarks that hold the
// Firestore store to a number of round trips: a Counter's DialOptions count the calls of a
// client connection, and its Add is what functions/internal/rpcproxy takes to count the calls
// of whole processes.
package grpccount

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/grpc"
)

// Counter counts calls by method name (the part after the last '/': BatchGetDocuments,
// Commit, RunQuery, ...). The zero value is ready. It is safe for concurrent use.
type Counter struct {
	mu sync.Mutex
	n  map[string]int64
}

// Add counts one call of the full method name method.
func (c *Counter) Add(method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	c.n[method[strings.LastIndexByte(method, '/')+1:]]++
}

// Take returns the calls counted since the last Take (or the start), and starts counting
// afresh.
func (c *Counter) Take() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int64{}
	return n
}

// Sum returns how many calls of the methods in names were counted since the last Take.
func (c *Counter) Sum(names map[string]bool) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for m, k := range c.n {
		if names[m] {
			n += k
		}
	}
	return n
}

// DialOptions are interceptors that count every call (unary and streaming) of the
// connection they are given to.
func (c *Counter) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(
			func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				c.Add(method)
				return invoker(ctx, method, req, reply, cc, opts...)
			}),
		grpc.WithChainStreamInterceptor(
			func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				c.Add(method)
				return streamer(ctx, desc, cc, method, opts...)
			}),
	}
}
