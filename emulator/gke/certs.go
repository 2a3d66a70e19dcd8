package gke

import (
	"crypto/tls"
	"time"

	"github.com/gcpconn/gcpconn/emulator/internal/certs"
)

// clusterCA is a cluster's own certificate authority, as every GKE cluster has;
// its certificate is the cluster's masterAuth.clusterCaCertificate.
type clusterCA struct {
	certPEM []byte
	leaf    tls.Certificate // the API server's serving certificate
}

// newClusterCA makes a CA and an API server certificate for 127.0.0.1,
// localhost, the in-cluster service names and the given DNS names.
func newClusterCA(commonName string, dnsNames []string, now time.Time) (*clusterCA, error) {
	ca, err := certs.NewCA(commonName, now)
	if err != nil {
		return nil, err
	}
	hosts := append([]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc"}, dnsNames...)
	leaf, err := ca.Leaf(now, "kube-apiserver", hosts...)
	if err != nil {
		return nil, err
	}
	return &clusterCA{certPEM: ca.CertPEM(), leaf: leaf}, nil
}
