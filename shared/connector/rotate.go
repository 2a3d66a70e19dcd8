package connector

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
)

// Key rotation state. A connector that holds a service-account key may have gcpconn replace
// the key every Rotation.Period; the rotation itself (the IAM keys API, the write-ahead
// entry, verification, pin, cleanup) is shared/upkeep's, which writes what it does into the
// Rotation recorded here. Register and Update check and schedule the period.

// Rotation is a connector's key-rotation state. The zero value means rotation is off and
// nothing is in flight.
type Rotation struct {
	Period       time.Duration // how often the key is replaced; 0 = not scheduled
	KeyID        string        // the pinned key's id (private_key_id); "" when unknown
	KeyCreatedAt time.Time     // when gcpconn created the pinned key, or stored it
	// KeyManaged is true when gcpconn created the pinned key (and so may delete it).
	KeyManaged bool
	// KeyTracked is true when every token minted from the pinned key was recorded
	// (Status.TokensUntil) since it was pinned: its retired record may then go early.
	KeyTracked bool
	Generation int64 // rotations completed
	// Pending is the write-ahead entry of a rotation in flight; nil when none is.
	Pending *PendingRotation
	// Retired are keys (and secret versions) that sweep removes once DeleteAfter has passed:
	// keys a rotation or an update replaced, and what a failed rotation created.
	Retired   []RetiredKey
	LastError string // why the last rotation failed; "" after a success
}

// Clone returns a deep copy of r.
func (r Rotation) Clone() Rotation {
	d := r
	d.Retired = slices.Clone(r.Retired)
	for i, k := range d.Retired {
		if k.Lost != nil {
			l := *k.Lost
			l.KnownKeys = slices.Clone(l.KnownKeys)
			d.Retired[i].Lost = &l
		}
	}
	if r.Pending != nil {
		p := *r.Pending
		p.KnownKeys = slices.Clone(r.Pending.KnownKeys)
		d.Pending = &p
	}
	return d
}

// PendingRotation is recorded before the IAM call and filled in as the rotation proceeds.
type PendingRotation struct {
	Generation  int64     // the generation this rotation will complete
	Claim       string    // random id of the claimant
	StartedAt   time.Time // just before the IAM call
	FromVersion string    // the secret version pinned when the rotation began
	KnownKeys   []string  // the account's key ids before the IAM call
	Email       string    // the service account the new key belongs to
	KeyID       string    // the new key, once created
	Version     string    // the new secret version, once added
	// VerifyBy is set with Version: the entry is then "verifying" and any later pass (rotate,
	// refresh, sweep) verifies the new key and pins it; a key that still does not work after
	// VerifyBy is deleted and the failure recorded.
	VerifyBy time.Time
}

// Pending rotation states (PendingRotation.State).
const (
	pendingCreating  = "creating"  // the key is being created and stored
	PendingVerifying = "verifying" // the key is stored and waits to be verified and pinned
)

// State is pendingCreating or PendingVerifying.
func (p *PendingRotation) State() string {
	if p.Version != "" && !p.VerifyBy.IsZero() {
		return PendingVerifying
	}
	return pendingCreating
}

// RetiredKey is a key (and secret version) that a rotation or an update replaced, or that a
// failed rotation created: sweep deletes it (and destroys the version) after DeleteAfter.
type RetiredKey struct {
	KeyID, Version string
	// Email is the service account the key belongs to; "" in records older than it (then
	// the account is read from Version's key file, or is the pinned key's).
	Email       string
	RetiredAt   time.Time // when it stopped being pinned (or was given up); zero when unknown
	DeleteAfter time.Time
	// Managed is true when gcpconn created the key; otherwise only the version is destroyed.
	Managed bool
	// TokensUntil, when TokensTracked, is when the last token minted from the key expires
	// (zero: none was minted); untracked, a token may live MaxLifetimeSeconds past RetiredAt.
	TokensUntil   time.Time
	TokensTracked bool
	// Lost is set for a key a failed rotation may have created without learning its id: sweep
	// looks for it among the account's keys once no late create can still land.
	Lost *LostKey
}

// LostKey says where to look for a key whose create call's answer never arrived: a key of
// the account that was not in KnownKeys, created between From and To, and that no connector
// records.
type LostKey struct {
	From, To  time.Time
	KnownKeys []string
}

// Rotation bounds.
const (
	minRotationPeriod = 24 * time.Hour
	maxRotationPeriod = 365 * 24 * time.Hour
	// RotationGrace is how long a replaced key stays: longer than any token minted from it
	// (MaxLifetimeSeconds, one hour) plus the time other instances may still serve the old
	// pin (the connector cache's revocation window, the secret cache's five minutes).
	RotationGrace = 2 * time.Hour
	// CreateKeyBudget bounds the IAM call, counted from the entry's StartedAt: a key created
	// by it is dated inside [StartedAt, StartedAt+CreateKeyBudget].
	CreateKeyBudget = 30 * time.Second
	// keyClockSkew widens that window for the difference between Google's clock and ours.
	keyClockSkew = 5 * time.Second
	// lateCreate is how long after the IAM call's own deadline Google may still create the
	// key of a call whose answer never arrived: the search for it waits that long.
	lateCreate = 2 * time.Minute
)

// CanRotate reports why a connector with method m cannot rotate its key, or "" when it can:
// only service-account connectors and impersonation connectors with a source key hold a key
// gcpconn can replace.
func CanRotate(m AuthMethod, hasKey bool) string {
	switch {
	case m == configschema.ServiceAccount:
		return ""
	case m == configschema.Impersonation && hasKey:
		return ""
	case m == configschema.Impersonation:
		return "keyless impersonation connectors hold no key to rotate"
	case m == configschema.UserAccount:
		return "user-account refresh tokens cannot be rotated through the IAM keys API; only service-account connectors and impersonation connectors with a source key can rotate"
	case m == configschema.ExternalAccount:
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
	return FieldErrorf("rotation_period", "rotation_period %s is out of range: give 1d to 365d (or 24h to 8760h), or \"\" for no rotation", FormatRotationPeriod(d))
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

// FormatRotationPeriod renders d as ParseRotationPeriod reads it: "30d" for whole days.
func FormatRotationPeriod(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
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
	if err := s.Secrets.SetRotation(ctx, c.ID, c.Rotation.Period, c.Rotation.NextRotation()); err != nil {
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

// NextRotation is when the key of c is due to be replaced; zero when rotation is off.
func (r Rotation) NextRotation() time.Time {
	if r.Period == 0 || r.KeyCreatedAt.IsZero() {
		return time.Time{}
	}
	return r.KeyCreatedAt.Add(r.Period)
}
