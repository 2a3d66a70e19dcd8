package connector_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

const denial = "sa@zenml-core.iam.gserviceaccount.com does not have storage.buckets.list access to the Google Cloud project."

func result(t *testing.T, res *connector.Resources, rt connector.ResourceType) connector.ResourceResult {
	t.Helper()
	for _, r := range res.Results {
		if r.ResourceType == rt {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", rt, res.Results)
	return connector.ResourceResult{}
}

func TestVerifyMultiTypePerTypeErrors(t *testing.T) {
	g := &mtGoogle{ListFunc: func(_ context.Context, _ connector.Grant, rt connector.ResourceType, id string) ([]string, error) {
		switch rt {
		case resourceid.GCSBucket:
			return nil, connector.Errorf(connector.ErrUpstreamDenied, "%s", denial)
		case resourceid.KubernetesCluster:
			return []string{}, nil
		}
		return []string{"x-" + string(rt)}, nil
	}}
	s := mtService(g)
	mtPut(t, s, mtMulti("multi", configschema.ServiceAccount), mtSAKey)

	res, err := s.Verify(context.Background(), mtOwnerP, connector.VerifyRequest{Ref: "multi"})
	if err != nil {
		t.Fatalf("Verify = %v; want nil", err)
	}
	if res.Error != "" {
		t.Errorf("global error = %q; want none (one type failing does not fail a multi-type connector)", res.Error)
	}
	if got := len(res.Results); got != len(resourceid.Types) {
		t.Fatalf("results = %d; want %d", got, len(resourceid.Types))
	}
	if r := result(t, res, resourceid.GCSBucket); !strings.Contains(r.Error, denial) || r.ResourceIDs != nil {
		t.Errorf("gcs-bucket result = %+v; want Google's denial passed through and no ids", r)
	}
	if r := result(t, res, resourceid.KubernetesCluster); !strings.Contains(r.Error, "container.clusters.list") {
		t.Errorf("empty kubernetes-cluster result error = %q; want a hint naming container.clusters.list", r.Error)
	}
	if r := result(t, res, resourceid.GCPGeneric); r.Error != "" || len(r.ResourceIDs) != 1 {
		t.Errorf("gcp-generic result = %+v; want one id, no error", r)
	}
	if got := g.tokenCalls.Load(); got != 1 {
		t.Errorf("global token checks = %d; want 1", got)
	}
}

func TestVerifyGlobalFailureStops(t *testing.T) {
	g := &mtGoogle{TokenFunc: func(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error) {
		return connector.Token{}, connector.Errorf(connector.ErrUpstreamDenied, "invalid_grant: Invalid JWT Signature.")
	}}
	s := mtService(g)
	mtPut(t, s, mtMulti("multi", configschema.ServiceAccount), mtSAKey)
	res, err := s.Verify(context.Background(), mtOwnerP, connector.VerifyRequest{Ref: "multi"})
	if err != nil {
		t.Fatalf("Verify = %v; want nil", err)
	}
	if !strings.Contains(res.Error, "Invalid JWT Signature") || !strings.Contains(res.Error, "could not authenticate") {
		t.Errorf("global error = %q; want the authentication failure with Google's text", res.Error)
	}
	if got := g.listCalls.Load(); got != 0 {
		t.Errorf("list calls after a global failure = %d; want 0", got)
	}
}

func TestVerifySingleTypeErrorIsGlobal(t *testing.T) {
	g := &mtGoogle{ListFunc: func(context.Context, connector.Grant, connector.ResourceType, string) ([]string, error) {
		return nil, connector.Errorf(connector.ErrUpstreamDenied, "%s", denial)
	}}
	s := mtService(g)
	mtPut(t, s, &connector.Connector{Name: "buckets", AuthMethod: configschema.ServiceAccount,
		ResourceTypes: []connector.ResourceType{resourceid.GCSBucket}, SupportsInstances: true}, mtSAKey)
	res, err := s.Verify(context.Background(), mtOwnerP, connector.VerifyRequest{Ref: "buckets"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Error, denial) {
		t.Errorf("global error of a single-type connector = %q; want the type's error", res.Error)
	}
}

// TestVerifySlowTypeIsUnavailable: a type whose check does not answer (even one that
// ignores its context) makes the verification unavailable by the deadline, not a failed
// check: retrying can change it.
func TestVerifySlowTypeIsUnavailable(t *testing.T) {
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	g := &mtGoogle{ListFunc: func(_ context.Context, _ connector.Grant, rt connector.ResourceType, _ string) ([]string, error) {
		if rt == resourceid.DockerRegistry {
			<-stuck // ignores its context on purpose
		}
		return []string{"x-" + string(rt)}, nil
	}}
	s := mtService(g)
	mtPut(t, s, mtMulti("multi", configschema.ServiceAccount), mtSAKey)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := s.Verify(ctx, mtOwnerP, connector.VerifyRequest{Ref: "multi"})
	if connector.KindOf(err) != connector.ErrUpstreamUnavailable || res != nil {
		t.Fatalf("Verify = %+v, %v; want upstream_unavailable", res, err)
	}
}

// TestVerifyOutageIsNotAVerdict: Google answering 503 or 429 to a listing is
// upstream_unavailable with Google's retry hint, never a failed check.
func TestVerifyOutageIsNotAVerdict(t *testing.T) {
	g := &mtGoogle{ListFunc: func(context.Context, connector.Grant, connector.ResourceType, string) ([]string, error) {
		return nil, &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "Google is unavailable or throttling (HTTP 503)", RetryAfter: 7 * time.Second}
	}}
	s := mtService(g)
	mtPut(t, s, &connector.Connector{Name: "buckets", AuthMethod: configschema.ServiceAccount,
		ResourceTypes: []connector.ResourceType{resourceid.GCSBucket}, SupportsInstances: true}, mtSAKey)
	res, err := s.Verify(context.Background(), mtOwnerP, connector.VerifyRequest{Ref: "buckets"})
	var ce *connector.Error
	if connector.KindOf(err) != connector.ErrUpstreamUnavailable || !errors.As(err, &ce) || ce.RetryAfter != 7*time.Second || res != nil {
		t.Fatalf("Verify during an outage = %+v, %v; want upstream_unavailable with Retry-After 7s", res, err)
	}
}

func TestVerifyExpiredAndNoList(t *testing.T) {
	g := &mtGoogle{}
	s := mtService(g)
	c := mtSingle("tok", configschema.OAuth2Token, resourceid.GCPGeneric, "")
	c.ExpiresAt = mtNow.Add(-time.Minute)
	mtPut(t, s, c, connector.Secrets{Token: "ya29.stored"})
	res, err := s.Verify(context.Background(), mtOwnerP, connector.VerifyRequest{Ref: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Error, "expired") || g.tokenCalls.Load() != 0 {
		t.Errorf("expired connector: error %q after %d token calls; want an expiry error and no calls", res.Error, g.tokenCalls.Load())
	}

	mtPut(t, s, mtMulti("multi", configschema.ServiceAccount), mtSAKey)
	no := false
	res, err = s.Verify(context.Background(), mtOwnerP, connector.VerifyRequest{Ref: "multi", ListResources: &no})
	if err != nil || res.Error != "" {
		t.Fatalf("Verify(list=false) = %+v, %v; want success", res, err)
	}
	if got := g.listCalls.Load(); got != 0 {
		t.Errorf("list calls with list_resources=false = %d; want 0 (authentication check only)", got)
	}
}

func TestVerifyErrors(t *testing.T) {
	unavailable := &mtGoogle{TokenFunc: func(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error) {
		return connector.Token{}, &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "Google is unavailable", RetryAfter: 5 * time.Second}
	}}
	tests := []struct {
		name string
		g    *mtGoogle
		p    connector.Principal
		req  connector.VerifyRequest
		want connector.Kind
	}{
		{"stranger", &mtGoogle{}, connector.Principal{Email: mtStranger}, connector.VerifyRequest{Ref: "multi"}, connector.ErrNotFound},
		{"unauthenticated", &mtGoogle{}, connector.Principal{}, connector.VerifyRequest{Ref: "multi"}, connector.ErrUnauthenticated},
		{"unserved type", &mtGoogle{}, mtOwnerP, connector.VerifyRequest{Ref: "bucket-only", ResourceType: resourceid.DockerRegistry}, connector.ErrInvalid},
		{"google unavailable", unavailable, mtOwnerP, connector.VerifyRequest{Ref: "multi"}, connector.ErrUpstreamUnavailable},
		{"ref and spec", &mtGoogle{}, mtOwnerP, connector.VerifyRequest{Ref: "multi", Spec: &connector.RegisterRequest{}}, connector.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mtService(tt.g)
			mtPut(t, s, mtMulti("multi", configschema.ServiceAccount), mtSAKey)
			mtPut(t, s, &connector.Connector{Name: "bucket-only", AuthMethod: configschema.ServiceAccount,
				ResourceTypes: []connector.ResourceType{resourceid.GCSBucket}, SupportsInstances: true}, mtSAKey)
			_, err := s.Verify(context.Background(), tt.p, tt.req)
			if got := connector.KindOf(err); got != tt.want {
				t.Errorf("Verify(%+v) kind = %q (%v); want %q", tt.req, got, err, tt.want)
			}
		})
	}
}
