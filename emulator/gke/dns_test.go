package gke

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// allowAll authenticates every request as one account.
type allowAll struct{}

func (allowAll) Check(*http.Request, string, string) (tokens.Token, *googleerr.Error) {
	return tokens.Token{Email: "a@p.iam.gserviceaccount.com"}, nil
}

// TestDNSEndpointCertificate checks that the API server presents the
// DNSCert certificate for the DNS endpoint name (SNI) and the cluster CA's
// certificate for the IP endpoint.
func TestDNSEndpointCertificate(t *testing.T) {
	w, err := world.Parse([]byte("projects: [{id: p1, number: 101}]\nclusters: [{name: c1, project: p1, location: us-east1, dns_endpoint: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var public *clusterCA
	s, err := New(Options{World: w, Auth: allowAll{}, DNSCert: func(host string) (tls.Certificate, error) {
		ca, err := newClusterCA("public", []string{host}, time.Now())
		public = ca
		if err != nil {
			return tls.Certificate{}, err
		}
		return ca.leaf, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr, clusterPEM, err := s.Endpoint("p1", "us-east1", "c1")
	if err != nil {
		t.Fatalf("Endpoint: %v", err)
	}
	var dnsName string
	for name := range s.DNSEndpoints() {
		dnsName = name
	}
	get := func(pemCert []byte, serverName string) error {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pemCert)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName}}}
		req, _ := http.NewRequestWithContext(context.Background(), "GET", "https://"+addr+"/version", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	tests := []struct {
		name       string
		ca         []byte
		serverName string
		wantOK     bool
	}{
		{"DNS name, public CA", public.certPEM, dnsName, true},
		{"DNS name, cluster CA", clusterPEM, dnsName, false},
		{"IP, cluster CA", clusterPEM, "127.0.0.1", true},
		{"IP, public CA", public.certPEM, "127.0.0.1", false},
	}
	for _, tt := range tests {
		if err := get(tt.ca, tt.serverName); (err == nil) != tt.wantOK {
			t.Errorf("%s: GET /version error = %v; want success %v", tt.name, err, tt.wantOK)
		}
	}
}
