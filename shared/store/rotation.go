package store

import (
	"context"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// SetRotation sets the connector secret's Secret Manager rotation schedule (rotation_period
// and next_rotation_time), so that Secret Manager publishes SECRET_ROTATE to the configured
// topic when it is due; a zero period removes the schedule. Secret Manager wants a topic on
// every secret with a schedule, so without SecretManagerOptions.Topic it is refused.
func (m *SecretManager) SetRotation(ctx context.Context, connectorID string, period time.Duration, next time.Time) error {
	if err := checkSecretID(connectorID); err != nil {
		return err
	}
	sec := &secretmanagerpb.Secret{Name: m.secretName(connectorID)}
	paths := []string{"rotation"}
	if period > 0 {
		if m.opts.Topic == "" {
			return connector.FieldErrorf("rotation_period", "key rotation needs Secret Manager notifications: this deployment has no topic (GCPCONN_SECRET_TOPIC)")
		}
		sec.Topics = []*secretmanagerpb.Topic{{Name: m.opts.Topic}}
		sec.Rotation = &secretmanagerpb.Rotation{RotationPeriod: durationpb.New(period), NextRotationTime: timestamppb.New(next)}
		paths = append(paths, "topics")
	}
	_, err := m.client.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{Secret: sec, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	if err != nil {
		return smError("set the rotation schedule of the secret of connector "+connectorID, err)
	}
	return nil
}

// Schedule is a rotation schedule of MemorySecrets.
type Schedule struct {
	Period time.Duration
	Next   time.Time
}

// SetRotation records the connector secret's rotation schedule (see Schedule); a zero period
// removes it. The secret must exist.
func (m *MemorySecrets) SetRotation(ctx context.Context, connectorID string, period time.Duration, next time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sec, ok := m.secrets[connectorID]
	if !ok {
		return connector.Errorf(connector.ErrNotFound, "store: no secret for connector %q", connectorID)
	}
	sec.schedule = Schedule{}
	if period > 0 {
		sec.schedule = Schedule{Period: period, Next: next.UTC()}
	}
	return nil
}

// Rotation returns the connector secret's rotation schedule (zero when it has none).
func (m *MemorySecrets) Rotation(connectorID string) Schedule {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sec, ok := m.secrets[connectorID]; ok {
		return sec.schedule
	}
	return Schedule{}
}
