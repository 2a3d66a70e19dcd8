package grpccount

import (
	"context"
	"maps"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestCounter(t *testing.T) {
	var c Counter
	for _, m := range []string{"/google.firestore.v1.Firestore/Commit", "/google.firestore.v1.Firestore/RunQuery", "/google.firestore.v1.Firestore/Commit", "Listen"} {
		c.Add(m)
	}
	if got := c.Sum(map[string]bool{"Commit": true, "Listen": true}); got != 3 {
		t.Errorf("Sum(Commit, Listen) = %d, want 3", got)
	}
	want := map[string]int64{"Commit": 2, "RunQuery": 1, "Listen": 1}
	if got := c.Take(); !maps.Equal(got, want) {
		t.Errorf("Take() = %v, want %v", got, want)
	}
	if got := c.Take(); len(got) != 0 {
		t.Errorf("second Take() = %v, want nothing counted since the first", got)
	}
	if got := c.Sum(map[string]bool{"Commit": true}); got != 0 {
		t.Errorf("Sum after Take = %d, want 0", got)
	}
}

// DialOptions count unary and streaming calls alike (a health Check and a Watch).
func TestDialOptionsCountEveryCall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	var c Counter
	conn, err := grpc.NewClient(ln.Addr().String(), append(c.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatalf("Watch.Recv: %v", err)
	}
	want := map[string]int64{"Check": 1, "Watch": 1}
	if got := c.Take(); !maps.Equal(got, want) {
		t.Errorf("calls counted = %v, want %v", got, want)
	}
}
