package secrets_test

import (
	"context"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
)

// BenchmarkAccessSecretVersion measures one access of the latest version
// through the real REST client over loopback HTTP (token check, IAM check,
// protojson).
func BenchmarkAccessSecretVersion(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	c := f.client(b, admin)
	if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p1", SecretId: "bench", Secret: newSecret(nil)}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p1/secrets/bench", Payload: &secretmanagerpb.SecretPayload{Data: make([]byte, 2048)}}); err != nil {
		b.Fatal(err)
	}
	req := &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p1/secrets/bench/versions/latest"}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.AccessSecretVersion(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
