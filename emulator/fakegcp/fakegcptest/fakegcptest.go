// Package fakegcptest starts the fake Google Cloud (package fakegcp) for a test: one call that
// starts it over the demo world, closes it when the test ends and, with StartExported, points
// the Google clients the code under test builds at it.
package fakegcptest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Start starts the fake over world.Demo() for tb and closes it when tb ends; a failed close is
// a test error. Its log goes nowhere unless opts.Logger is set.
func Start(tb testing.TB, opts fakegcp.Options) *fakegcp.Server {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := fakegcp.Start(context.Background(), world.Demo(), opts)
	if err != nil {
		tb.Fatalf("start the fake Google: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close the fake Google: %v", err)
		}
	})
	return s
}

// StartExported is Start, then tb.Setenv of every variable of the fake's environment
// (GCPCONN_ENDPOINT_*, GCE_METADATA_HOST, ...), restored when tb ends. Like tb.Setenv, it
// cannot be used in parallel tests.
func StartExported(tb testing.TB, opts fakegcp.Options) *fakegcp.Server {
	tb.Helper()
	s := Start(tb, opts)
	for k, v := range s.EnvMap() {
		tb.Setenv(k, v)
	}
	return s
}
