package store_test

import (
	"os"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/store/storetest"
)

func TestMain(m *testing.M) {
	// No test here may reach Google's metadata server through ADC lookup.
	os.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	os.Exit(m.Run())
}

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) connector.Store { return store.NewMemory() })
}

func TestMemorySecrets(t *testing.T) {
	storetest.RunSecrets(t, func(t *testing.T) connector.SecretStore { return store.NewMemorySecrets() })
}
