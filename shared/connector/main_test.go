package connector_test

import (
	"os"
	"testing"
)

// TestMain keeps the Google libraries of this binary (the real adapter in the sweep test)
// off the real metadata server: tests that want one point GCE_METADATA_HOST at the fake.
func TestMain(m *testing.M) {
	os.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	os.Exit(m.Run())
}
