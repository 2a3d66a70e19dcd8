package store

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// Recovery parameters of the Firestore client's gRPC connection. gRPC's defaults let the
// reconnect backoff grow to 120 s while the store is down, so the first request after the
// store came back waited for the next attempt (60 s, the whole request deadline, in issue
// #14). These keep the wait between attempts at most ReconnectMaxDelay, and the keepalive
// pings abandon a connection whose peer stopped answering (a frozen or vanished store)
// instead of waiting for TCP to notice.
const (
	// ReconnectMaxDelay bounds the wait between two connection attempts.
	ReconnectMaxDelay = 2 * time.Second
	// KeepaliveTime is how long a connection with calls in flight may be silent before
	// the client pings it; KeepaliveTimeout is how long it waits for the answer.
	KeepaliveTime    = 20 * time.Second
	KeepaliveTimeout = 10 * time.Second
)

// FirestoreDialOptions are the gRPC dial options NewFirestoreClient gives the connection:
// a reconnect backoff of at most ReconnectMaxDelay, a connect timeout of 5 s, and keepalive
// pings while calls are in flight.
func FirestoreDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  250 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   ReconnectMaxDelay,
			},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:    KeepaliveTime,
			Timeout: KeepaliveTimeout,
		}),
	}
}

// NewFirestoreClient returns a Firestore client of database in project whose connection
// recovers within seconds once the store answers again (FirestoreDialOptions). With
// FIRESTORE_EMULATOR_HOST set it dials the emulator itself, as firestore.NewClient would
// (plaintext, the emulator's owner token) but with these options, since the library ignores
// dial options for the emulator. opts come last and may replace the connection
// (option.WithGRPCConn).
func NewFirestoreClient(ctx context.Context, project, database string, opts ...option.ClientOption) (*firestore.Client, error) {
	var base []option.ClientOption
	var conn *grpc.ClientConn
	if addr := os.Getenv("FIRESTORE_EMULATOR_HOST"); addr != "" {
		c, err := DialFirestoreEmulator(addr, append(FirestoreDialOptions(),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)))...)
		if err != nil {
			return nil, fmt.Errorf("store: dial the Firestore emulator at %s: %w", addr, err)
		}
		conn = c
		base = append(base, option.WithGRPCConn(conn))
	} else {
		for _, o := range FirestoreDialOptions() {
			base = append(base, option.WithGRPCDialOption(o))
		}
	}
	client, err := firestore.NewClientWithDatabase(ctx, project, database, append(base, opts...)...)
	if err != nil && conn != nil {
		conn.Close()
	}
	return client, err
}

// DialFirestoreEmulator connects to the Firestore emulator at addr as the Firestore client
// does with FIRESTORE_EMULATOR_HOST set (plaintext, the emulator's owner token, which bypasses
// security rules), with opts added. The client ignores dial options for the emulator: a
// caller that needs its own (NewFirestoreClient's, or interceptors that count calls) dials
// here and passes the connection with option.WithGRPCConn.
func DialFirestoreEmulator(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
	}, opts...)...)
}

// emulatorOwner authenticates to the Firestore emulator as the Firestore client does.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }
