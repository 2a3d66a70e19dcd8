// Package standin has what the tests of shared/connector and shared/upkeep put in Google's
// place when they check connectors as sweep and refresh do: a [Google] that answers every
// call at once (or through TokenFunc) and counts the calls in flight, [KeyJSON], a
// well-formed service-account key (with credjsontest's private key, made once per test
// binary), and [Register], which registers many connectors holding such keys.
package standin

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
)

// Google is a connector.Google: Token calls TokenFunc when set (else answers a token valid
// for an hour), and counts the calls, those in flight and the most in flight at once.
type Google struct {
	TokenFunc func(ctx context.Context, g connector.Grant) (connector.Token, error)
	Calls     atomic.Int64
	InFlight  atomic.Int64
	MaxFlight atomic.Int64
}

var _ connector.Google = (*Google)(nil)

func (f *Google) Token(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
	f.Calls.Add(1)
	n := f.InFlight.Add(1)
	defer f.InFlight.Add(-1)
	for {
		m := f.MaxFlight.Load()
		if n <= m || f.MaxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if f.TokenFunc != nil {
		return f.TokenFunc(ctx, g)
	}
	return connector.Token{Value: "ya29.sweep", Expiry: time.Now().Add(time.Hour)}, nil
}

// ListResources finds the one resource asked for, or one named "x".
func (f *Google) ListResources(ctx context.Context, g connector.Grant, rt connector.ResourceType, id string) ([]string, error) {
	if id != "" {
		return []string{id}, nil
	}
	return []string{"x"}, nil
}

func (f *Google) Cluster(ctx context.Context, g connector.Grant, id string) (connector.ClusterInfo, error) {
	return connector.ClusterInfo{ID: id, Server: "https://10.0.0.1"}, nil
}

// BucketProject says every bucket belongs to the connector's project.
func (f *Google) BucketProject(context.Context, connector.Grant, string) (bool, error) {
	return true, nil
}

// RegistryHost is the host itself.
func (f *Google) RegistryHost(host string) string { return host }

// KeyJSON returns a service-account key of email in project demo-project.
func KeyJSON(email string) map[string]any {
	return map[string]any{"type": "service_account", "project_id": "demo-project", "private_key_id": "k1",
		"private_key": credjsontest.PKCS8PEM(), "client_email": email, "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}
}

// Register registers n service-account connectors of owner (without verification) named
// PREFIX-0..n-1 in project demo-project, with the key JSON keyJSON(i), and returns their ids.
func Register(t testing.TB, s *connector.Service, owner, prefix string, n int, keyJSON func(i int) map[string]any) []string {
	t.Helper()
	no := false
	ids := make([]string, n)
	for i := range n {
		c, _, err := s.Register(context.Background(), connector.Principal{Email: owner}, connector.RegisterRequest{
			Name: fmt.Sprintf("%s-%d", prefix, i), AuthMethod: configschema.ServiceAccount,
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
