package certs

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestLeafVerifiesAgainstCA(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ca, err := NewCA("test CA", now)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	leaf, err := ca.Leaf(now, "server", "gke-1.us-east1.gke.goog", "10.0.0.1", "")
	if err != nil {
		t.Fatalf("Leaf: %v", err)
	}
	cert, err := x509.ParseCertificate(leaf.Certificate[0])
	if err != nil {
		t.Fatalf("parse leaf: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.CertPEM()) {
		t.Fatal("CertPEM() is not a PEM certificate")
	}
	other, err := NewCA("other CA", now)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	strangers := x509.NewCertPool()
	strangers.AppendCertsFromPEM(other.CertPEM())
	tests := []struct {
		name  string
		roots *x509.CertPool
		host  string
		at    time.Time
		ok    bool
	}{
		{name: "loopback IP", roots: roots, host: "127.0.0.1", at: now, ok: true},
		{name: "IPv6 loopback", roots: roots, host: "::1", at: now, ok: true},
		{name: "localhost", roots: roots, host: "localhost", at: now, ok: true},
		{name: "extra DNS name", roots: roots, host: "gke-1.us-east1.gke.goog", at: now, ok: true},
		{name: "extra IP", roots: roots, host: "10.0.0.1", at: now, ok: true},
		{name: "clock a little behind", roots: roots, host: "127.0.0.1", at: now.Add(-30 * time.Minute), ok: true},
		{name: "other host", roots: roots, host: "example.com", at: now, ok: false},
		{name: "other CA", roots: strangers, host: "127.0.0.1", at: now, ok: false},
		{name: "expired", roots: roots, host: "127.0.0.1", at: now.Add(LeafLifetime + time.Hour), ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cert.Verify(x509.VerifyOptions{Roots: tt.roots, DNSName: tt.host, CurrentTime: tt.at})
			if (err == nil) != tt.ok {
				t.Errorf("Verify(%s at %s) error = %v; want ok %v", tt.host, tt.at, err, tt.ok)
			}
		})
	}
}
