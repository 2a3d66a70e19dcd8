package connector_test

// Helpers of the mint and verify tests; names start with mt to keep clear of other files.

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/store"
)

// mtGoogle stands in for Google in core tests: each port method calls its function field
// (nil = a default answer) and counts calls.
type mtGoogle struct {
	TokenFunc   func(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error)
	ListFunc    func(ctx context.Context, g connector.Grant, rt connector.ResourceType, id string) ([]string, error)
	ClusterFunc func(ctx context.Context, g connector.Grant, id string) (connector.ClusterInfo, error)

	tokenCalls, listCalls, clusterCalls atomic.Int64
}

func (f *mtGoogle) Token(ctx context.Context, g connector.Grant, req connector.TokenRequest) (connector.Token, error) {
	n := f.tokenCalls.Add(1)
	if f.TokenFunc != nil {
		return f.TokenFunc(ctx, g, req)
	}
	return connector.Token{Value: fmt.Sprintf("ya29.token-%d", n), Expiry: mtNow.Add(req.Lifetime)}, nil
}

func (f *mtGoogle) ListResources(ctx context.Context, g connector.Grant, rt connector.ResourceType, id string) ([]string, error) {
	f.listCalls.Add(1)
	if f.ListFunc != nil {
		return f.ListFunc(ctx, g, rt, id)
	}
	if id != "" {
		return []string{id}, nil
	}
	return []string{"listed-" + string(rt)}, nil
}

func (f *mtGoogle) Cluster(ctx context.Context, g connector.Grant, id string) (connector.ClusterInfo, error) {
	f.clusterCalls.Add(1)
	if f.ClusterFunc != nil {
		return f.ClusterFunc(ctx, g, id)
	}
	return connector.ClusterInfo{ID: id, Server: "https://10.0.0.1", CertificateAuthority: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}, nil
}

// BucketProject says every bucket belongs to the connector's project.
func (f *mtGoogle) BucketProject(context.Context, connector.Grant, string) (bool, error) {
	return true, nil
}

// RegistryHost is the host itself (mtMappingGoogle maps it).
func (f *mtGoogle) RegistryHost(host string) string { return host }

// mtMappingGoogle is a mtGoogle whose docker registries live at one stand-in host.
type mtMappingGoogle struct {
	*mtGoogle
	host string
}

func (m mtMappingGoogle) RegistryHost(string) string { return m.host }

var mtNow = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

const (
	mtOwner    = "owner@zenml.io"
	mtStranger = "stranger@zenml.io"
	mtProject  = "zenml-core"
)

var mtOwnerP = connector.Principal{Email: mtOwner}

// newService returns a Service over memory stores and g, with the clock at mtNow.
func mtService(g connector.Google) *connector.Service {
	return &connector.Service{
		Store:   store.NewMemory(),
		Secrets: store.NewMemorySecrets(),
		Google:  g,
		Now:     func() time.Time { return mtNow },
	}
}

// put stores c (with id, owner and its secret version) directly, bypassing registration.
func mtPut(t *testing.T, s *connector.Service, c *connector.Connector, sec connector.Secrets) *connector.Connector {
	t.Helper()
	ctx := context.Background()
	if c.ID == "" {
		c.ID = "id-" + c.Name
	}
	if c.Owner == "" {
		c.Owner = mtOwner
	}
	c.Type = connector.TypeGCP
	if c.Config.ProjectID == "" {
		c.Config.ProjectID = mtProject
	}
	if !sec.IsZero() {
		v, err := s.Secrets.AddVersion(ctx, c.ID, sec)
		if err != nil {
			t.Fatalf("AddVersion: %v", err)
		}
		c.SecretVersion = v
	}
	if err := s.Store.Create(ctx, c); err != nil {
		t.Fatalf("Create(%s): %v", c.Name, err)
	}
	return c
}

var mtSAKey = connector.Secrets{ServiceAccountJSON: `{"type":"service_account","client_email":"sa@zenml-core.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----\n"}`}

func mtMulti(name string, m connector.AuthMethod) *connector.Connector {
	return &connector.Connector{Name: name, AuthMethod: m, ResourceTypes: resourceid.Types}
}

func mtSingle(name string, m connector.AuthMethod, rt connector.ResourceType, id string) *connector.Connector {
	return &connector.Connector{Name: name, AuthMethod: m, ResourceTypes: []connector.ResourceType{rt}, ResourceID: id}
}
