package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/internal/testenv"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) connector.Store { return store.NewMemory() })
}

func TestMemorySecrets(t *testing.T) {
	storetest.RunSecrets(t, func(t *testing.T) connector.SecretStore { return store.NewMemorySecrets() })
}

// TestMemorySecretsRotationSchedule: MemorySecrets keeps the schedule SetRotation sets.
func TestMemorySecretsRotationSchedule(t *testing.T) {
	m := store.NewMemorySecrets()
	ctx := context.Background()
	if _, err := m.AddVersion(ctx, "c1", connector.Secrets{Token: "t"}); err != nil {
		t.Fatal(err)
	}
	next := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	if err := m.SetRotation(ctx, "c1", 48*time.Hour, next); err != nil {
		t.Fatal(err)
	}
	if got := m.Rotation("c1"); got != (store.Schedule{Period: 48 * time.Hour, Next: next}) {
		t.Errorf("Rotation = %+v; want 48h from %v", got, next)
	}
	_ = m.SetRotation(ctx, "c1", 0, time.Time{})
	if got := m.Rotation("c1"); got != (store.Schedule{}) {
		t.Errorf("Rotation after SetRotation(0) = %+v; want none", got)
	}
}
