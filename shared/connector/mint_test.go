package connector_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

func TestMintBucketIsDownscopedByDefault(t *testing.T) {
	var got connector.TokenRequest
	g := &mtGoogle{TokenFunc: func(_ context.Context, _ connector.Grant, req connector.TokenRequest) (connector.Token, error) {
		got = req
		return connector.Token{Value: "ya29.bounded", Expiry: mtNow.Add(req.Lifetime)}, nil
	}}
	s := mtService(g)
	mtPut(t, s, mtSingle("bucket", configschema.ServiceAccount, resourceid.GCSBucket, "gs://zenml-bucket-sl"), mtSAKey)

	cred, err := s.Mint(context.Background(), mtOwnerP, connector.MintRequest{Ref: "bucket"})
	if err != nil {
		t.Fatalf("Mint = %v", err)
	}
	if want := (&connector.Boundary{Bucket: "zenml-bucket-sl"}); !reflect.DeepEqual(got.Boundary, want) {
		t.Errorf("boundary = %+v; want %+v", got.Boundary, want)
	}
	if want := []string{resourcetype.ScopeCloudPlatform}; !slices.Equal(got.Scopes, want) {
		t.Errorf("scopes = %v; want %v", got.Scopes, want)
	}
	if cred.AccessToken != "ya29.bounded" || !cred.Downscoped || cred.TokenType != "Bearer" ||
		cred.ResourceID != "gs://zenml-bucket-sl" || cred.ProjectID != mtProject {
		t.Errorf("credential = %+v; want the bounded token for gs://zenml-bucket-sl", cred)
	}
	if cred.Lifetime.Applied != time.Hour || cred.Lifetime.Reason == "" || !cred.ExpiresAt.Equal(mtNow.Add(time.Hour)) {
		t.Errorf("lifetime = %+v, expires %v; want 1h applied with a reason", cred.Lifetime, cred.ExpiresAt)
	}
}

func TestMintDownscopeOptions(t *testing.T) {
	tests := []struct {
		name      string
		conn      *connector.Connector
		req       connector.MintRequest
		want      *connector.Boundary
		wantKind  connector.Kind
		wantField string
	}{
		{"prefix read-only", mtSingle("b", configschema.ServiceAccount, resourceid.GCSBucket, "gs://bkt"),
			connector.MintRequest{Downscope: &connector.Downscope{Prefix: "customer-a/", ReadOnly: true}},
			&connector.Boundary{Bucket: "bkt", Prefix: "customer-a/", ReadOnly: true}, "", ""},
		{"disabled on a bucket-only connector", mtSingle("b", configschema.ServiceAccount, resourceid.GCSBucket, "gs://bkt"),
			connector.MintRequest{Downscope: &connector.Downscope{Disabled: true}}, nil, connector.ErrPermission, ""},
		{"disabled on a multi-type connector", mtMulti("b", configschema.ServiceAccount),
			connector.MintRequest{ResourceType: resourceid.GCSBucket, ResourceID: "bkt", Downscope: &connector.Downscope{Disabled: true}}, nil, "", ""},
		{"quote in prefix", mtSingle("b", configschema.ServiceAccount, resourceid.GCSBucket, "gs://bkt"),
			connector.MintRequest{Downscope: &connector.Downscope{Prefix: "a') || true || ('"}}, nil, connector.ErrInvalid, "downscope.prefix"},
		{"downscope on a project token", mtMulti("b", configschema.ServiceAccount),
			connector.MintRequest{ResourceType: resourceid.GCPGeneric, Downscope: &connector.Downscope{ReadOnly: true}}, nil, connector.ErrInvalid, "downscope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *connector.Boundary
			g := &mtGoogle{TokenFunc: func(_ context.Context, _ connector.Grant, req connector.TokenRequest) (connector.Token, error) {
				got = req.Boundary
				return connector.Token{Value: "ya29.x", Expiry: mtNow.Add(time.Hour)}, nil
			}}
			s := mtService(g)
			mtPut(t, s, tt.conn, mtSAKey)
			tt.req.Ref = "b"
			_, err := s.Mint(context.Background(), mtOwnerP, tt.req)
			if k := connector.KindOf(err); k != tt.wantKind {
				t.Fatalf("Mint kind = %q (%v); want %q", k, err, tt.wantKind)
			}
			if tt.wantField != "" && connector.FieldOf(err) != tt.wantField {
				t.Errorf("Mint field = %q; want %q", connector.FieldOf(err), tt.wantField)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("boundary = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestMintKubernetes(t *testing.T) {
	var scopes []string
	ca := "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
	g := &mtGoogle{
		TokenFunc: func(_ context.Context, _ connector.Grant, req connector.TokenRequest) (connector.Token, error) {
			scopes = req.Scopes
			return connector.Token{Value: "ya29.k8s", Expiry: mtNow.Add(time.Hour)}, nil
		},
		ClusterFunc: func(_ context.Context, _ connector.Grant, id string) (connector.ClusterInfo, error) {
			if id != "zenml-test-cluster" && id != "us-east1/zenml-test-cluster" {
				t.Errorf("Cluster(%q); want the requested cluster", id)
			}
			return connector.ClusterInfo{ID: "us-east1/zenml-test-cluster", Server: "https://34.1.2.3", CertificateAuthority: ca}, nil
		},
	}
	s := mtService(g)
	c := mtPut(t, s, mtMulti("multi", configschema.ServiceAccount), mtSAKey)
	cred, err := s.Mint(context.Background(), mtOwnerP, connector.MintRequest{Ref: "multi",
		ResourceType: resourceid.KubernetesCluster, ResourceID: "zenml-test-cluster"})
	if err != nil {
		t.Fatalf("Mint = %v", err)
	}
	if !slices.Contains(scopes, resourcetype.ScopeUserinfoEmail) || !slices.Contains(scopes, resourcetype.ScopeCloudPlatform) {
		t.Errorf("kubernetes scopes = %v; want cloud-platform and userinfo.email", scopes)
	}
	k := cred.Kubernetes
	if k == nil || k.Cluster != "us-east1/zenml-test-cluster" || k.Server != "https://34.1.2.3" || k.CertificateAuthority != ca ||
		cred.ResourceID != "us-east1/zenml-test-cluster" {
		t.Fatalf("kubernetes credential = %+v (resource %q); want the cluster's server and CA", k, cred.ResourceID)
	}
	if k.ConnectorRef != c.ID {
		t.Errorf("kubernetes credential connector = %q; want the connector's id %q (the kubeconfig's exec plugin names it)", k.ConnectorRef, c.ID)
	}
}

func TestMintDocker(t *testing.T) {
	tests := []struct {
		name   string
		google connector.Google
		want   string
	}{
		{"registry host from the id", &mtGoogle{}, "europe-west1-docker.pkg.dev"},
		{"adapter maps the host", mtMappingGoogle{&mtGoogle{}, "127.0.0.1:5000"}, "127.0.0.1:5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mtService(tt.google)
			mtPut(t, s, mtMulti("multi", configschema.Impersonation), mtSAKey)
			cred, err := s.Mint(context.Background(), mtOwnerP, connector.MintRequest{Ref: "multi",
				ResourceType: resourceid.DockerRegistry, ResourceID: "https://europe-west1-docker.pkg.dev/zenml-core/zenml-core/app:1"})
			if err != nil {
				t.Fatalf("Mint = %v", err)
			}
			d := cred.Docker
			if d == nil || d.Registry != tt.want || d.Username != "oauth2accesstoken" || d.Password != cred.AccessToken || d.Password == "" {
				t.Errorf("docker = %+v; want registry %s, oauth2accesstoken and the token", d, tt.want)
			}
			if cred.ResourceID != "europe-west1-docker.pkg.dev/zenml-core/zenml-core" {
				t.Errorf("resource id = %q; want the canonical repository", cred.ResourceID)
			}
		})
	}
}

func TestMintOAuth2TokenExpiry(t *testing.T) {
	tests := []struct {
		name     string
		left     time.Duration
		wantKind connector.Kind
	}{
		{"expired", -time.Minute, connector.ErrFailedPrecondition},
		{"four minutes left", 4 * time.Minute, connector.ErrFailedPrecondition},
		{"an hour left", time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &mtGoogle{TokenFunc: func(_ context.Context, gr connector.Grant, _ connector.TokenRequest) (connector.Token, error) {
				return connector.Token{Value: gr.Secrets.Token, Expiry: gr.Connector.ExpiresAt}, nil
			}}
			s := mtService(g)
			c := mtSingle("tok", configschema.OAuth2Token, resourceid.GCPGeneric, "")
			c.ExpiresAt = mtNow.Add(tt.left)
			mtPut(t, s, c, connector.Secrets{Token: "ya29.stored"})
			cred, err := s.Mint(context.Background(), mtOwnerP, connector.MintRequest{Ref: "tok"})
			if k := connector.KindOf(err); k != tt.wantKind {
				t.Fatalf("Mint kind = %q (%v); want %q", k, err, tt.wantKind)
			}
			if err != nil {
				if g.tokenCalls.Load() != 0 {
					t.Errorf("token calls for a refused mint = %d; want 0", g.tokenCalls.Load())
				}
				return
			}
			if cred.AccessToken != "ya29.stored" || cred.Lifetime.Applied != tt.left {
				t.Errorf("credential = %q, lifetime %+v; want the stored token with %s applied", cred.AccessToken, cred.Lifetime, tt.left)
			}
		})
	}
}

func TestMintStoredJSON(t *testing.T) {
	no := false
	tests := []struct {
		name     string
		method   connector.AuthMethod
		rt       connector.ResourceType
		wantJSON bool
	}{
		{"service-account project", configschema.ServiceAccount, resourceid.GCPGeneric, true},
		{"service-account bucket", configschema.ServiceAccount, resourceid.GCSBucket, true},
		{"service-account docker still gets a token", configschema.ServiceAccount, resourceid.DockerRegistry, false},
		{"impersonation never hands out its key", configschema.Impersonation, resourceid.GCPGeneric, false},
		{"user-account project", configschema.UserAccount, resourceid.GCPGeneric, true},
		{"external-account bucket", configschema.ExternalAccount, resourceid.GCSBucket, true},
	}
	// Each method's secret, and a key the methods that do not hand it out must never show.
	stored := connector.Secrets{ServiceAccountJSON: mtSAKey.ServiceAccountJSON,
		UserAccountJSON: credjsontest.JSON(credjsontest.AuthorizedUser(nil)), ExternalAccountJSON: credjsontest.JSON(credjsontest.ExternalAccount(nil))}
	want := map[connector.AuthMethod]string{configschema.ServiceAccount: stored.ServiceAccountJSON,
		configschema.UserAccount: stored.UserAccountJSON, configschema.ExternalAccount: stored.ExternalAccountJSON}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &mtGoogle{}
			s := mtService(g)
			c := mtMulti("multi", tt.method)
			c.Config.GenerateTemporaryTokens = &no
			c.Config.TargetPrincipal = "target@zenml-core.iam.gserviceaccount.com"
			mtPut(t, s, c, stored)
			id := map[connector.ResourceType]string{resourceid.GCSBucket: "gs://bkt", resourceid.DockerRegistry: "europe-west1-docker.pkg.dev/zenml-core/r"}[tt.rt]
			cred, err := s.Mint(context.Background(), mtOwnerP, connector.MintRequest{Ref: "multi", ResourceType: tt.rt, ResourceID: id})
			if err != nil {
				t.Fatalf("Mint = %v", err)
			}
			if got := cred.CredentialsJSON != ""; got != tt.wantJSON {
				t.Fatalf("credentials JSON handed out = %v; want %v", got, tt.wantJSON)
			}
			if tt.wantJSON {
				if cred.CredentialsJSON != want[tt.method] || cred.AccessToken != "" || g.tokenCalls.Load() != 0 ||
					!strings.Contains(cred.Lifetime.Reason, "LONG-LIVED") {
					t.Errorf("stored-JSON credential = %+v after %d token calls; want the key, no token, a loud reason", cred.Lifetime, g.tokenCalls.Load())
				}
			} else if cred.AccessToken == "" {
				t.Errorf("access token is empty; want a minted token")
			}
		})
	}
}

func TestMintCache(t *testing.T) {
	g := &mtGoogle{}
	s := mtService(g)
	c := mtPut(t, s, mtSingle("bucket", configschema.ServiceAccount, resourceid.GCSBucket, "gs://bkt"), mtSAKey)
	ctx := context.Background()
	mint := func(r connector.MintRequest) *connector.Credential {
		t.Helper()
		r.Ref = "bucket"
		cred, err := s.Mint(ctx, mtOwnerP, r)
		if err != nil {
			t.Fatalf("Mint(%+v) = %v", r, err)
		}
		return cred
	}
	first := mint(connector.MintRequest{})
	second := mint(connector.MintRequest{})
	if first.CacheHit || !second.CacheHit || first.AccessToken != second.AccessToken || g.tokenCalls.Load() != 1 {
		t.Errorf("two mints: hits %v/%v, same token %v, upstream calls %d; want miss then hit, 1 call",
			first.CacheHit, second.CacheHit, first.AccessToken == second.AccessToken, g.tokenCalls.Load())
	}
	mint(connector.MintRequest{Downscope: &connector.Downscope{ReadOnly: true}})
	mint(connector.MintRequest{LifetimeSeconds: 900})
	if got := g.tokenCalls.Load(); got != 3 {
		t.Errorf("upstream calls after a read-only and a 15-minute mint = %d; want 3 (each its own key)", got)
	}
	s.Forget(c.ID)
	if cred := mint(connector.MintRequest{}); cred.CacheHit || g.tokenCalls.Load() != 4 {
		t.Errorf("mint after Forget: hit %v, calls %d; want a fresh mint", cred.CacheHit, g.tokenCalls.Load())
	}
}

// TestMintConcurrentColdRequestsShareOneUpstreamCall: 100 mints of one connector and resource
// arrive together. synctest.Wait returns when every one of them is blocked (one in Google's
// gated token call, the others waiting for it), so the call count is taken after all asked:
// without coalescing it is 100. Kubernetes mints share the cluster description the same way.
func TestMintConcurrentColdRequestsShareOneUpstreamCall(t *testing.T) {
	for _, rt := range []connector.ResourceType{resourceid.GCSBucket, resourceid.KubernetesCluster} {
		t.Run(string(rt), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { mintConcurrently(t, rt) })
		})
	}
}

func mintConcurrently(t *testing.T, rt connector.ResourceType) {
	tokenGate, clusterGate := make(chan struct{}), make(chan struct{})
	g := &mtGoogle{TokenFunc: func(_ context.Context, _ connector.Grant, req connector.TokenRequest) (connector.Token, error) {
		<-tokenGate
		return connector.Token{Value: "ya29.shared", Expiry: mtNow.Add(req.Lifetime)}, nil
	}}
	g.ClusterFunc = func(_ context.Context, _ connector.Grant, id string) (connector.ClusterInfo, error) {
		<-clusterGate
		return connector.ClusterInfo{ID: id, Server: "https://10.0.0.1"}, nil
	}
	s := mtService(g)
	id := map[connector.ResourceType]string{resourceid.GCSBucket: "gs://bkt", resourceid.KubernetesCluster: "us-east1/zenml-test-cluster"}[rt]
	mtPut(t, s, mtSingle("one", configschema.ServiceAccount, rt, id), mtSAKey)
	const n = 100
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			cred, err := s.Mint(context.Background(), mtOwnerP, connector.MintRequest{Ref: "one"})
			if err == nil && cred.AccessToken != "ya29.shared" {
				err = fmt.Errorf("token = %q; want ya29.shared", cred.AccessToken)
			}
			errs[i] = err
		})
	}
	synctest.Wait() // all n mints are blocked: in Google's token call or waiting for it
	if got := g.tokenCalls.Load(); got != 1 {
		t.Errorf("upstream token calls started by %d concurrent cold mints = %d; want 1", n, got)
	}
	close(tokenGate)
	synctest.Wait() // kubernetes-cluster: all n are blocked describing the cluster or waiting for it
	wantCluster := int64(0)
	if rt == resourceid.KubernetesCluster {
		wantCluster = 1
	}
	if got := g.clusterCalls.Load(); got != wantCluster {
		t.Errorf("cluster descriptions started by %d concurrent %s mints = %d; want %d", n, rt, got, wantCluster)
	}
	close(clusterGate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Mint = %v", err)
		}
	}
	if got := g.tokenCalls.Load(); got != 1 {
		t.Errorf("upstream token calls for %d concurrent cold mints = %d; want 1", n, got)
	}
	if got := g.clusterCalls.Load(); got != wantCluster {
		t.Errorf("cluster descriptions for %d concurrent %s mints = %d; want %d", n, rt, got, wantCluster)
	}
}

func TestMintRefusals(t *testing.T) {
	tests := []struct {
		name  string
		p     connector.Principal
		req   connector.MintRequest
		setup func(c *connector.Connector)
		pol   connector.Policy
		want  connector.Kind
	}{
		{"stranger", connector.Principal{Email: mtStranger}, connector.MintRequest{Ref: "c"}, nil, connector.Policy{}, connector.ErrNotFound},
		{"disabled", mtOwnerP, connector.MintRequest{Ref: "c"}, func(c *connector.Connector) {
			c.Status = connector.Status{State: connector.StateDisabled, Error: "secret version destroyed"}
		}, connector.Policy{}, connector.ErrFailedPrecondition},
		{"bad scope", mtOwnerP, connector.MintRequest{Ref: "c", Scopes: []string{"https://evil.example/scope"}}, nil, connector.Policy{}, connector.ErrInvalid},
		{"other bucket", mtOwnerP, connector.MintRequest{Ref: "c", ResourceID: "gs://other"}, nil, connector.Policy{}, connector.ErrPermission},
		{"implicit disabled after registration", mtOwnerP, connector.MintRequest{Ref: "c"}, func(c *connector.Connector) {
			c.AuthMethod = configschema.Implicit
		}, connector.Policy{AllowImplicit: false}, connector.ErrFailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &mtGoogle{}
			s := mtService(g)
			s.Policy = tt.pol
			c := mtSingle("c", configschema.ServiceAccount, resourceid.GCSBucket, "gs://bkt")
			sec := mtSAKey
			if tt.setup != nil {
				tt.setup(c)
				if c.AuthMethod == configschema.Implicit {
					sec = connector.Secrets{}
				}
			}
			mtPut(t, s, c, sec)
			_, err := s.Mint(context.Background(), tt.p, tt.req)
			if got := connector.KindOf(err); got != tt.want {
				t.Errorf("Mint kind = %q (%v); want %q", got, err, tt.want)
			}
			if g.tokenCalls.Load() != 0 {
				t.Errorf("upstream token calls for a refused mint = %d; want 0", g.tokenCalls.Load())
			}
		})
	}
}

func TestMintKubernetesReusesClusterInfo(t *testing.T) {
	g := &mtGoogle{}
	s := mtService(g)
	c := mtPut(t, s, mtSingle("gke", configschema.ServiceAccount, resourceid.KubernetesCluster, "us-east1/zenml-test-cluster"), mtSAKey)
	ctx := context.Background()
	for range 3 {
		if _, err := s.Mint(ctx, mtOwnerP, connector.MintRequest{Ref: "gke"}); err != nil {
			t.Fatalf("Mint = %v", err)
		}
	}
	if got := g.clusterCalls.Load(); got != 1 {
		t.Errorf("Cluster calls for 3 mints = %d; want 1 (endpoint and CA are cached)", got)
	}
	s.Forget(c.ID)
	if _, err := s.Mint(ctx, mtOwnerP, connector.MintRequest{Ref: "gke"}); err != nil {
		t.Fatal(err)
	}
	if got := g.clusterCalls.Load(); got != 2 {
		t.Errorf("Cluster calls after Forget = %d; want 2", got)
	}
}

func TestMintUpstreamErrorsKeepKindAndText(t *testing.T) {
	tests := []struct {
		name string
		err  *connector.Error
	}{
		{"denied", &connector.Error{Kind: connector.ErrUpstreamDenied, Message: "Permission 'iam.serviceAccounts.getAccessToken' denied"}},
		{"throttled", &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "Quota exceeded", RetryAfter: 7 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &mtGoogle{TokenFunc: func(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error) {
				return connector.Token{}, tt.err
			}}
			s := mtService(g)
			mtPut(t, s, mtSingle("proj", configschema.Impersonation, resourceid.GCPGeneric, ""), mtSAKey)
			_, err := s.Mint(context.Background(), mtOwnerP, connector.MintRequest{Ref: "proj"})
			var ce *connector.Error
			if !errors.As(err, &ce) || ce.Kind != tt.err.Kind || ce.RetryAfter != tt.err.RetryAfter ||
				!strings.Contains(ce.Message, tt.err.Message) || !strings.Contains(ce.Message, `"proj"`) {
				t.Errorf("Mint error = %#v; want kind %q, retry %s, Google's text and the connector's name", err, tt.err.Kind, tt.err.RetryAfter)
			}
		})
	}
}

func TestMintReportsRemainingLifetime(t *testing.T) {
	now := mtNow
	g := &mtGoogle{TokenFunc: func(_ context.Context, _ connector.Grant, req connector.TokenRequest) (connector.Token, error) {
		return connector.Token{Value: "ya29.x", Expiry: now.Add(req.Lifetime)}, nil
	}}
	s := mtService(g)
	s.Now = func() time.Time { return now }
	mtPut(t, s, mtSingle("proj", configschema.ServiceAccount, resourceid.GCPGeneric, ""), mtSAKey)
	if _, err := s.Mint(context.Background(), mtOwnerP, connector.MintRequest{Ref: "proj"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Minute)
	cred, err := s.Mint(context.Background(), mtOwnerP, connector.MintRequest{Ref: "proj"})
	if err != nil {
		t.Fatal(err)
	}
	if !cred.CacheHit || cred.Lifetime.Applied != 30*time.Minute || !strings.Contains(cred.Lifetime.Reason, "cached") {
		t.Errorf("mint 30 minutes after the first = hit %v, lifetime %+v; want a hit reporting 30m left", cred.CacheHit, cred.Lifetime)
	}
}
