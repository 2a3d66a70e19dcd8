package connector_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Helpers of the tests that check connectors as sweep does (refresh, caller tokens, the
// registry's repairs), the same as shared/upkeep's tests use.

// keeper is the background work over s (sweep), as functions/app wires it.
func keeper(s *connector.Service) *upkeep.Keeper { return &upkeep.Keeper{Service: s} }

// swGoogle stands in for Google in sweep and refresh tests: Token calls TokenFunc when set
// and tracks how many calls are in flight at once.
type swGoogle struct {
	TokenFunc func(ctx context.Context, g connector.Grant) (connector.Token, error)
	calls     atomic.Int64
	inFlight  atomic.Int64
	maxFlight atomic.Int64
}

func (f *swGoogle) Token(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
	f.calls.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxFlight.Load()
		if n <= m || f.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if f.TokenFunc != nil {
		return f.TokenFunc(ctx, g)
	}
	return connector.Token{Value: "ya29.sweep", Expiry: time.Now().Add(time.Hour)}, nil
}

func (f *swGoogle) ListResources(ctx context.Context, g connector.Grant, rt connector.ResourceType, id string) ([]string, error) {
	if id != "" {
		return []string{id}, nil
	}
	return []string{"x"}, nil
}

func (f *swGoogle) Cluster(ctx context.Context, g connector.Grant, id string) (connector.ClusterInfo, error) {
	return connector.ClusterInfo{ID: id, Server: "https://10.0.0.1"}, nil
}

var (
	swKeyOnce sync.Once
	swKeyPEM  string
)

func swKeyJSON(email string) map[string]any {
	swKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		swKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	})
	return map[string]any{"type": "service_account", "project_id": "demo-project", "private_key_id": "k1",
		"private_key": swKeyPEM, "client_email": email, "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}
}

const swOwner = "owner@example.com"

func swService(t testing.TB, g connector.Google) (*connector.Service, *store.MemorySecrets) {
	t.Helper()
	sec := store.NewMemorySecrets()
	return &connector.Service{Store: store.NewMemory(), Secrets: sec, Google: g,
		Policy: connector.Policy{Admins: []string{"admin@example.com"}}}, sec
}

// swRegister registers n service-account connectors (without verification) named
// PREFIX-0..n-1 and returns their ids.
func swRegister(t testing.TB, s *connector.Service, prefix string, n int, keyJSON func(i int) map[string]any) []string {
	t.Helper()
	no := false
	ids := make([]string, n)
	for i := range n {
		c, _, err := s.Register(context.Background(), connector.Principal{Email: swOwner}, connector.RegisterRequest{
			Name: fmt.Sprintf("%s-%d", prefix, i), AuthMethod: connector.ServiceAccount,
			Configuration: map[string]any{"project_id": "demo-project", "service_account_json": keyJSON(i)},
			Verify:        &no,
		})
		if err != nil {
			t.Fatalf("Register %s-%d: %v", prefix, i, err)
		}
		ids[i] = c.ID
	}
	return ids
}

func swDefaultKey(int) map[string]any { return swKeyJSON("sa@demo-project.iam.gserviceaccount.com") }
