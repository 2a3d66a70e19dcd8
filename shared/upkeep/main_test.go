package upkeep_test

import (
	"testing"

	"github.com/gcpconn/gcpconn/internal/testenv"
)

// TestMain keeps the Google libraries of this binary (the real adapter in the sweep test)
// off the real metadata server: tests that want one point GCE_METADATA_HOST at the fake.
func TestMain(m *testing.M) { testenv.Main(m) }
