package main

import (
	"testing"

	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

// BenchmarkExecCredential measures what kubectl pays each time it asks the exec plugin for a
// token: one gcpconn process (start, dev ID token, mint served from the server's cache).
//
//	go test ./cmd/gcpconn -run '^$' -bench ExecCredential -benchtime 20x
func BenchmarkExecCredential(b *testing.B) {
	s := clienttest.Start(b)
	w := &world{t: b, stack: s, home: b.TempDir(), email: alice}
	key, err := s.Fake.KeyJSON(admin)
	if err != nil {
		b.Fatal(err)
	}
	p := w.writeFile("key.json", key)
	w.ok("register", "gcp-k8s", "--auth-method", "service-account", "--service_account_json=@"+p, "--resource-type", "kubernetes-cluster", "--no-verify")
	for b.Loop() {
		w.ok("token", "--exec-credential", "gcp-k8s", "--resource-type", "kubernetes-cluster", "--resource-id", "us-east1/zenml-test-cluster")
	}
}
