// Package rpcproxy is a transparent gRPC proxy that counts the calls passing through it by
// method: a process whose FIRESTORE_EMULATOR_HOST names the proxy has its Firestore calls
// counted without any change to it (the benchmarks use it in front of the Firestore emulator).
package rpcproxy

import (
	"errors"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// rawCodec passes gRPC messages through as bytes, so that the proxy needs no message types.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// Start serves a transparent gRPC proxy to target (the Firestore emulator) on a loopback
// port and calls count with the full method name of every call that passes. It returns the
// proxy's address and a function that stops it.
func Start(target string, count func(method string)) (string, func(), error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		conn.Close()
		return "", nil, err
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		count(method)
		return forward(conn, method, ss)
	}))
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { srv.Stop(); conn.Close() }, nil
}

// forward relays one call, in both directions, between the caller's stream ss and a new
// stream to conn.
func forward(conn *grpc.ClientConn, method string, ss grpc.ServerStream) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	md = md.Copy()
	md.Delete("content-type")
	ctx := metadata.NewOutgoingContext(ss.Context(), md)
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return err
	}
	go func() {
		for {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil {
				_ = cs.CloseSend()
				return
			}
			if err := cs.SendMsg(&m); err != nil {
				return
			}
		}
	}()
	if hdr, err := cs.Header(); err == nil {
		_ = ss.SendHeader(hdr)
	}
	for {
		var m []byte
		if err := cs.RecvMsg(&m); err != nil {
			ss.SetTrailer(cs.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := ss.SendMsg(&m); err != nil {
			return err
		}
	}
}
