package connector

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Key rotation state (package rotation, shared/rotation) on a connector: Register and Update
// check and schedule the period; the rotation itself (the IAM keys API, the write-ahead
// entry, verification, pin, cleanup) is shared/upkeep's, which writes what it does into the
// connector's rotation.State.

// Rotation period bounds.
const (
	minRotationPeriod = 24 * time.Hour
	maxRotationPeriod = 365 * 24 * time.Hour
)

// CanRotate reports why a connector with method m cannot rotate its key, or "" when it can:
// only service-account connectors and impersonation connectors with a source key hold a key
// gcpconn can replace.
func CanRotate(m AuthMethod, hasKey bool) string {
	switch {
	case m == ServiceAccount:
		return ""
	case m == Impersonation && hasKey:
		return ""
	case m == Impersonation:
		return "keyless impersonation connectors hold no key to rotate"
	case m == UserAccount:
		return "user-account refresh tokens cannot be rotated through the IAM keys API; only service-account connectors and impersonation connectors with a source key can rotate"
	case m == ExternalAccount:
		return "external-account configurations hold no key to rotate; only service-account connectors and impersonation connectors with a source key can rotate"
	}
	return fmt.Sprintf("%s connectors hold no service-account key; only service-account connectors and impersonation connectors with a source key can rotate", m)
}

// checkRotationPeriod checks a rotation period for the field rotation_period: 0 (off) or
// between minRotationPeriod and maxRotationPeriod (1 to 365 days).
func checkRotationPeriod(d time.Duration) error {
	if d == 0 || (d >= minRotationPeriod && d <= maxRotationPeriod) {
		return nil
	}
	return FieldErrorf("rotation_period", "rotation_period %s is out of range: give 1d to 365d (or 24h to 8760h), or \"\" for no rotation", rotation.FormatPeriod(d))
}

// ParseRotationPeriod parses the wire form of rotation_period: "Nd" (days) or a Go duration
// ("720h"); "" means no rotation. The bounds are checkRotationPeriod's.
func ParseRotationPeriod(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 10000 {
			return 0, FieldErrorf("rotation_period", "rotation_period %q is not a number of days such as \"30d\"", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 0 {
			return 0, FieldErrorf("rotation_period", "rotation_period %q is not a duration: give days (\"30d\") or hours (\"720h\")", s)
		}
	}
	if d == 0 {
		return 0, FieldErrorf("rotation_period", "rotation_period %q is zero: give 1d to 365d, or \"\" for no rotation", s)
	}
	return d, checkRotationPeriod(d)
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
