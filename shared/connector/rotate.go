package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
)

// Key rotation state (package rotation, shared/rotation) on a connector: Register and Update
// check and schedule the period; the rotation itself (the IAM keys API, the write-ahead
// entry, verification, pin, cleanup) is shared/upkeep's, which writes what it does into the
// connector's rotation.State.

// canRotate says why a connector with method m cannot rotate its key (nil when it can): only
// service-account connectors and impersonation connectors with a source key hold a key
// gcpconn can replace.
func canRotate(m AuthMethod, hasKey bool) error {
	const only = "only service-account connectors and impersonation connectors with a source key can rotate"
	switch {
	case m == configschema.ServiceAccount, m == configschema.Impersonation && hasKey:
		return nil
	case m == configschema.Impersonation:
		return errors.New("keyless impersonation connectors hold no key to rotate")
	case m == configschema.UserAccount:
		return errors.New("user-account refresh tokens cannot be rotated through the IAM keys API; " + only)
	case m == configschema.ExternalAccount:
		return errors.New("external-account configurations hold no key to rotate; " + only)
	}
	return fmt.Errorf("%s connectors hold no service-account key; %s", m, only)
}

// rotationSupported refuses a rotation period on a deployment that cannot rotate keys.
func (s *Service) rotationSupported(period time.Duration) error {
	if period == 0 {
		return nil
	}
	if s.Rotator == nil {
		return FieldErrorf("rotation_period", "key rotation is not available on this deployment")
	}
	return nil
}

// schedule sets (or, for a zero period, removes) the rotation schedule of c's secret.
func (s *Service) schedule(ctx context.Context, c *Connector) error {
	if err := s.Secrets.SetRotation(ctx, c.ID, c.Rotation.Period, c.Rotation.Due()); err != nil {
		return fmt.Errorf("connector %q: set the rotation schedule of its secret: %w", c.Name, err)
	}
	return nil
}

// rescheduleOnUpdate moves the rotation schedule of an updated connector: a new period, or a
// new key (whose period starts now). Nothing changes for a connector that never rotated.
func (s *Service) rescheduleOnUpdate(ctx context.Context, old, next *Connector) error {
	a, b := old.Rotation, next.Rotation
	if next.SecretVersion == "" || (a.Period == b.Period && (b.Period == 0 || a.KeyCreatedAt.Equal(b.KeyCreatedAt))) {
		return nil
	}
	if err := s.rotationSupported(b.Period); err != nil {
		return err
	}
	return s.schedule(ctx, next)
}
