package connector_test

import (
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/internal/standin"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Helpers of the tests that check connectors as sweep does (refresh, caller tokens, the
// registry's repairs), the same as shared/upkeep's tests use.

// keeper is the background work over s (sweep), as functions/app wires it.
func keeper(s *connector.Service) *upkeep.Keeper { return &upkeep.Keeper{Service: s} }

// swGoogle stands in for Google in sweep and refresh tests (package standin).
type swGoogle = standin.Google

func swKeyJSON(email string) map[string]any { return standin.KeyJSON(email) }

const swOwner = "owner@example.com"

func swService(t testing.TB, g connector.Google) (*connector.Service, *store.MemorySecrets) {
	t.Helper()
	sec := store.NewMemorySecrets()
	return &connector.Service{Store: store.NewMemory(), Secrets: sec, Google: g,
		Policy: connector.Policy{Admins: []string{"admin@example.com"}}}, sec
}

// swRegister registers n service-account connectors (without verification) named
// PREFIX-0..n-1 and returns their ids.
func swRegister(t testing.TB, s *connector.Service, prefix string, n int, keyJSON func(i int) map[string]any) []string {
	t.Helper()
	return standin.Register(t, s, swOwner, prefix, n, keyJSON)
}

func swDefaultKey(int) map[string]any { return swKeyJSON("sa@demo-project.iam.gserviceaccount.com") }
