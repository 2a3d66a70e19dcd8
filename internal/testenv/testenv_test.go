package testenv

import (
	"os"
	"testing"
)

func TestGuard(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"", ClosedMetadataHost},
		{"169.254.169.254", ClosedMetadataHost},
		{"metadata.google.internal:80", ClosedMetadataHost},
		{"10.0.0.1:80", ClosedMetadataHost},
		{"127.0.0.1:4242", "127.0.0.1:4242"},
		{"[::1]:4242", "[::1]:4242"},
		{"localhost:4242", "localhost:4242"},
	} {
		t.Setenv("GCE_METADATA_HOST", tc.set)
		Guard()
		if got := os.Getenv("GCE_METADATA_HOST"); got != tc.want {
			t.Errorf("GCE_METADATA_HOST %q: after Guard %q; want %q", tc.set, got, tc.want)
		}
	}
}
