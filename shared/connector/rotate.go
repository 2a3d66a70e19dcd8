package connector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Key rotation (DESIGN §8 "Rotation"). A connector that holds a service-account key may have
// gcpconn replace the key every Rotation.Period: a new key through the IAM keys API → a new
// secret version → verified → pinned → the replaced key deleted after RotationGrace, by sweep.
// Every step is recorded on the connector first (Rotation.Pending, a write-ahead entry claimed
// with the store's revision precondition), so one claim yields one key, and whatever a crash
// or a fault leaves behind (a key created but never stored, a version never pinned) is found
// and removed by RepairRotation, which sweep runs.
//
// gcpconn deletes only keys it created: the write-ahead entry lists the account's keys before
// the IAM call (KnownKeys), records the new key's id as soon as the call returns, and a key
// that gcpconn did not create (the registered one, say) is never deleted, only its secret
// version. The one residual case: a crash between the IAM call's return and the write of its
// id. Then the key is found as the account's key that is not in KnownKeys and was created
// during the IAM call (at most CreateKeyBudget after StartedAt, keyClockSkew either side);
// only a key someone else created on the same account inside that window could be taken
// for it. Google's keys carry no label that would let gcpconn mark its own.

// KeyManager is the port to Google's IAM service-account keys API that rotation needs. It acts
// with the grant's service-account key (the source key of an impersonation connector) or, as
// the deployment configures it, with the service's own identity. Errors carry this package's
// kinds; ErrFailedPrecondition when the account has reached Google's limit of keys or when
// Google refuses the identity (its message names the identity and the role it needs; a
// refused ListKeys is recorded on the connector like a failed rotation). shared/gcp
// implements it.
type KeyManager interface {
	// CreateKey creates a key for email and returns its id and its key file JSON. When Google
	// created a key but its answer is unusable, the id is returned with the error.
	CreateKey(ctx context.Context, g Grant, email string) (keyID, keyJSON string, err error)
	// ListKeys returns the account's user-managed keys.
	ListKeys(ctx context.Context, g Grant, email string) ([]KeyInfo, error)
	// DeleteKey deletes one key; a key that is already gone is not an error.
	DeleteKey(ctx context.Context, g Grant, email, keyID string) error
}

// KeyInfo describes one service-account key (never its material).
type KeyInfo struct {
	ID       string
	Created  time.Time // Google's validAfterTime
	Disabled bool
}

// Rotation is a connector's key-rotation state. The zero value means rotation is off and
// nothing is in flight.
type Rotation struct {
	Period       time.Duration // how often the key is replaced; 0 = not scheduled
	KeyID        string        // the pinned key's id (private_key_id); "" when unknown
	KeyCreatedAt time.Time     // when gcpconn created the pinned key, or stored it
	// KeyManaged is true when gcpconn created the pinned key (and so may delete it).
	KeyManaged bool
	Generation int64 // rotations completed
	// Pending is the write-ahead entry of a rotation in flight; nil when none is.
	Pending *PendingRotation
	// Retired are replaced keys (and their secret versions) that sweep removes once
	// DeleteAfter has passed.
	Retired   []RetiredKey
	LastError string // why the last rotation failed; "" after a success
}

// Clone returns a deep copy of r.
func (r Rotation) Clone() Rotation {
	d := r
	d.Retired = slices.Clone(r.Retired)
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
	KeyID       string    // the new key, once created
	Version     string    // the new secret version, once added
}

// RetiredKey is a key (and secret version) that a rotation replaced.
type RetiredKey struct {
	KeyID, Version string
	DeleteAfter    time.Time
	// Managed is true when gcpconn created the key; otherwise only the version is destroyed.
	Managed bool
}

// Rotation bounds.
const (
	MinRotationPeriod = 24 * time.Hour
	MaxRotationPeriod = 365 * 24 * time.Hour
	// RotationGrace is how long a replaced key stays: longer than any token minted from it
	// (MaxLifetimeSeconds, one hour) plus the time other instances may still serve the old
	// pin (the connector cache's revocation window, the secret cache's five minutes).
	RotationGrace = 2 * time.Hour
	// RotationBudget bounds one rotation run; a pending entry older than this was abandoned
	// (a crash, a lost instance) and RepairRotation undoes it.
	RotationBudget = 5 * time.Minute
	// CreateKeyBudget bounds the IAM call, counted from the entry's StartedAt: a key created
	// by it is dated inside [StartedAt, StartedAt+CreateKeyBudget].
	CreateKeyBudget = 30 * time.Second
	// MaxKeysPerAccount is Google's limit of user-managed keys per service account.
	MaxKeysPerAccount = 10
	// keyClockSkew widens that window for the difference between Google's clock and ours.
	keyClockSkew = 5 * time.Second
	// verifyBackoff is the first wait before a new key is verified again (doubling, at most
	// verifyAttempts tries): Google's new keys can take seconds to work.
	verifyBackoff  = time.Second
	verifyAttempts = 6
)

// rotationErrPrefix starts the status error that a failed rotation records.
const rotationErrPrefix = "key rotation failed: "

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

// CheckRotationPeriod checks a rotation period for the field rotation_period: 0 (off) or
// between MinRotationPeriod and MaxRotationPeriod.
func CheckRotationPeriod(d time.Duration) error {
	if d == 0 || (d >= MinRotationPeriod && d <= MaxRotationPeriod) {
		return nil
	}
	return FieldErrorf("rotation_period", "rotation_period %s is out of range: give 1d to 365d (or 24h to 8760h), or \"\" for no rotation", FormatRotationPeriod(d))
}

// ParseRotationPeriod parses the wire form of rotation_period: "Nd" (days) or a Go duration
// ("720h"); "" means no rotation. The bounds are CheckRotationPeriod's.
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
	return d, CheckRotationPeriod(d)
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
	if s.Keys == nil {
		return FieldErrorf("rotation_period", "key rotation is not available on this deployment")
	}
	if _, ok := s.Secrets.(RotationSchedules); !ok {
		return FieldErrorf("rotation_period", "key rotation is not available on this deployment: its secret store cannot schedule rotation")
	}
	return nil
}

// schedule sets (or, for a zero period, removes) the rotation schedule of c's secret.
func (s *Service) schedule(ctx context.Context, c *Connector) error {
	rs, ok := s.Secrets.(RotationSchedules)
	if !ok {
		return nil
	}
	if err := rs.SetRotation(ctx, c.ID, c.Rotation.Period, c.Rotation.NextRotation()); err != nil {
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

// Rotate replaces the key of connector ref now, for its owner or an admin (gcpconn rotate,
// POST /rotate). It reports whether a new key was pinned; false with no error means another
// rotation of the connector is in flight and will pin its key.
func (s *Service) Rotate(ctx context.Context, p Principal, ref string) (*Connector, bool, error) {
	c, err := s.lookup(ctx, p, ref, ActionAdmin)
	if err != nil {
		return nil, false, err
	}
	rotated, err := s.RotateKey(ctx, c.ID, true)
	if err != nil {
		return nil, false, err
	}
	c, err = s.Store.Get(ctx, c.ID)
	if err != nil {
		return nil, false, err
	}
	s.log().InfoContext(ctx, "connector key rotation requested", "connector_id", c.ID, "connector", c.Name,
		"principal", p.String(), "issuer", p.IssuerName(), "rotated", rotated)
	return c, rotated, nil
}

// RotateKey rotates the key of connector id. Unless force is set, it does nothing when
// rotation is off or the pinned key is younger than half the rotation period (a duplicate or
// late schedule event): one rotation period yields one key. It reports whether a new key was
// pinned. A rotation already in flight, or one another instance claims first, is not an
// error: that one proceeds.
func (s *Service) RotateKey(ctx context.Context, id string, force bool) (bool, error) {
	if s.Keys == nil {
		return false, Errorf(ErrFailedPrecondition, "key rotation is not configured on this deployment")
	}
	c, err := s.Store.Get(ctx, id)
	if err != nil {
		return false, err
	}
	r := c.Rotation
	if r.Pending != nil || (!force && (r.Period == 0 || s.now().Sub(r.KeyCreatedAt) < r.Period/2)) {
		return false, nil
	}
	if err := c.enabled(); err != nil {
		return false, err
	}
	g, err := s.grant(ctx, c, readFresh)
	if err != nil {
		return false, err
	}
	if why := CanRotate(c.AuthMethod, g.Secrets.ServiceAccountJSON != ""); why != "" {
		return false, Errorf(ErrFailedPrecondition, "connector %q cannot rotate its key: %s", c.Name, why)
	}
	key, err := g.Secrets.ServiceAccountKey()
	if err != nil {
		return false, err
	}
	known, err := s.Keys.ListKeys(ctx, g, key.ClientEmail)
	if err != nil && KindOf(err) == ErrFailedPrecondition {
		// Google refused (the rotation identity may not manage the account's keys): recorded
		// like a failed rotation, so describe and status say why keys do not rotate.
		return false, s.recordRotationFailure(ctx, c, nil, MessageOf(err))
	}
	if err != nil {
		return false, fmt.Errorf("rotate key of connector %q: list the keys of %s: %w", c.Name, key.ClientEmail, err)
	}
	p, err := s.claimRotation(ctx, c, known)
	if err != nil || p == nil {
		return false, err
	}
	if len(known) >= MaxKeysPerAccount {
		return false, s.abandonRotation(ctx, c, *p, keyLimitProblem(key.ClientEmail))
	}
	rctx, cancel := context.WithDeadline(ctx, p.StartedAt.Add(RotationBudget-time.Minute))
	defer cancel()
	return s.runRotation(rctx, g, key.ClientEmail, *p)
}

// claimRotation records the write-ahead entry; nil when another claim won.
func (s *Service) claimRotation(ctx context.Context, c *Connector, known []KeyInfo) (*PendingRotation, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	p := &PendingRotation{Generation: c.Rotation.Generation + 1, Claim: hex.EncodeToString(b[:]),
		StartedAt: s.now(), FromVersion: c.SecretVersion}
	for _, k := range known {
		p.KnownKeys = append(p.KnownKeys, k.ID)
	}
	ok, err := s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
		if cur.Rotation.Pending != nil || cur.Rotation.Generation != c.Rotation.Generation || cur.SecretVersion != c.SecretVersion {
			return false
		}
		pc := *p
		pc.KnownKeys = slices.Clone(p.KnownKeys)
		cur.Rotation.Pending = &pc
		return true
	})
	if err != nil || !ok {
		return nil, err
	}
	return p, nil
}

// recordPending stores fn's change to our pending entry; false when the claim was lost.
func (s *Service) recordPending(ctx context.Context, id, claim string, fn func(p *PendingRotation)) (bool, error) {
	return s.updateConnector(ctx, id, func(cur *Connector) bool {
		if cur.Rotation.Pending == nil || cur.Rotation.Pending.Claim != claim {
			return false
		}
		fn(cur.Rotation.Pending)
		return true
	})
}

// runRotation creates the key, stores it, verifies it and pins it (see the file comment).
func (s *Service) runRotation(ctx context.Context, old Grant, email string, p PendingRotation) (bool, error) {
	c := old.Connector
	cctx, cancel := context.WithDeadline(ctx, p.StartedAt.Add(CreateKeyBudget))
	keyID, keyJSON, err := s.Keys.CreateKey(cctx, old, email)
	cancel()
	if err != nil && keyID == "" {
		if definite(err) {
			return false, s.abandonRotation(ctx, c, p, createKeyProblem(email, err))
		}
		return false, err // a key may exist: the pending entry lets sweep find it
	}
	if ok, rerr := s.recordPending(ctx, c.ID, p.Claim, func(q *PendingRotation) { q.KeyID = keyID }); rerr != nil || !ok {
		return false, s.rollBack(ctx, old, email, keyID, "", p, "the rotation lost its claim", rerr)
	}
	p.KeyID = keyID
	if err != nil {
		return false, s.rollBack(ctx, old, email, keyID, "", p, createKeyProblem(email, err), nil)
	}
	newSec := old.Secrets
	newSec.ServiceAccountJSON = keyJSON
	version, err := s.Secrets.AddVersion(ctx, c.ID, newSec)
	if err != nil {
		// The version may exist; an unpinned version is never read.
		return false, s.rollBack(ctx, old, email, keyID, "", p, "the new key could not be stored: "+MessageOf(err), err)
	}
	if ok, err := s.recordPending(ctx, c.ID, p.Claim, func(q *PendingRotation) { q.Version = version }); err != nil || !ok {
		return false, s.rollBack(ctx, old, email, keyID, version, p, "the rotation lost its claim", err)
	}
	p.Version = version
	if why, err := s.verifyNewKey(ctx, Grant{Connector: c, Secrets: newSec}); err != nil || why != "" {
		if why == "" {
			why = "the new key could not be verified: " + MessageOf(err)
		}
		return false, s.rollBack(ctx, old, email, keyID, version, p, why, err)
	}
	return s.pinRotation(ctx, c, p)
}

// verifyNewKey checks that the new key authenticates, trying again with backoff while Google
// refuses it (a new key can take seconds to work). why says why it did not authenticate; err
// is for what could not be decided (ctx done).
func (s *Service) verifyNewKey(ctx context.Context, g Grant) (why string, err error) {
	wait := verifyBackoff
	for attempt := 1; ; attempt++ {
		_, err := s.Google.Token(ctx, g, TokenRequest{Scopes: []string{ScopeCloudPlatform}})
		if err == nil {
			return "", nil
		}
		switch KindOf(err) {
		case ErrUpstreamDenied, ErrUpstreamNotFound, ErrInvalid, ErrUpstreamUnavailable:
		default:
			return "", err
		}
		why = "the new key failed verification: " + MessageOf(err)
		if attempt == verifyAttempts {
			return why, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return why, nil
		}
		wait *= 2
	}
}

// pinRotation pins the new version and key, retires the old ones and clears the entry. An
// update that replaced the credentials meanwhile wins: the rotation is rolled back.
func (s *Service) pinRotation(ctx context.Context, c *Connector, p PendingRotation) (bool, error) {
	now := s.now()
	superseded := false
	ok, err := s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
		r := &cur.Rotation
		if r.Pending == nil || r.Pending.Claim != p.Claim {
			return false
		}
		if cur.SecretVersion != p.FromVersion && cur.SecretVersion != p.Version {
			superseded = true
			return false
		}
		r.Retired = append(r.Retired, RetiredKey{KeyID: r.KeyID, Version: p.FromVersion, Managed: r.KeyManaged, DeleteAfter: now.Add(RotationGrace)})
		cur.SecretVersion = p.Version
		r.KeyID, r.KeyCreatedAt, r.KeyManaged = p.KeyID, now, true
		r.Generation, r.Pending, r.LastError = p.Generation, nil, ""
		return true
	})
	if err != nil {
		return false, err // the entry stays: sweep rolls it forward or back
	}
	if superseded {
		return false, s.repairAbandoned(ctx, c, p, "an update replaced the credentials during the rotation")
	}
	s.Forget(c.ID)
	if ok {
		s.log().InfoContext(ctx, "key rotated", "event", EventRotation, "outcome", OutcomeRotated, "connector_id", c.ID, "connector", c.Name, "key_id", p.KeyID, "secret_version", p.Version, "generation", p.Generation)
		s.clearRotationStatus(ctx, c.ID, p.Version)
	}
	return ok, nil
}

// clearRotationStatus clears what the status says about rotation (due, or a failed
// rotation) once the rotation pinned version. A failure is logged: the key is rotated, and
// the next rotation or status write of sweep clears it.
func (s *Service) clearRotationStatus(ctx context.Context, id, version string) {
	_, err := s.updateStatus(ctx, id, func(cur *Connector) bool {
		failed := strings.HasPrefix(cur.Status.Error, rotationErrPrefix)
		if cur.SecretVersion != version || (!cur.Status.RotationDue && !failed) {
			return false
		}
		cur.Status.RotationDue = false
		if failed {
			cur.Status.Error = ""
		}
		return true
	})
	if err != nil {
		s.log().WarnContext(ctx, "rotation: status not updated", "connector_id", id, "error", MessageOf(err))
	}
}

func keyLimitProblem(email string) string {
	return fmt.Sprintf("Google refused a new key for %s: a service account has at most %d keys and it has them all; delete keys it no longer needs (gcpconn deletes only keys it created)", email, MaxKeysPerAccount)
}

// createKeyProblem says why Google refused a new key, in the caller's terms.
func createKeyProblem(email string, err error) string {
	if KindOf(err) == ErrFailedPrecondition {
		return keyLimitProblem(email)
	}
	return fmt.Sprintf("Google refused a new key for %s: %s", email, MessageOf(err))
}

// rollBack deletes what a failed rotation created (with the old, still pinned credentials)
// and clears its entry with the reason. A cleanup that fails leaves the entry for sweep.
func (s *Service) rollBack(ctx context.Context, old Grant, email, keyID, version string, p PendingRotation, why string, cause error) error {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	c := old.Connector
	if err := s.Keys.DeleteKey(cctx, old, email, keyID); err != nil {
		s.log().WarnContext(ctx, "rotation: could not delete the new key; left for sweep", "connector_id", c.ID, "key_id", keyID, "error", MessageOf(err))
		return fmt.Errorf("rotate key of connector %q: %s; its new key is left for sweep: %w", c.Name, why, err)
	}
	if version != "" {
		if err := s.Secrets.DestroyVersion(cctx, c.ID, version); err != nil {
			s.log().WarnContext(ctx, "rotation: could not destroy the new secret version; left for sweep", "connector_id", c.ID, "error", MessageOf(err))
			return fmt.Errorf("rotate key of connector %q: %s: %w", c.Name, why, err)
		}
	}
	aerr := s.abandonRotation(cctx, c, p, why)
	if cause != nil && retryable(cause) != nil {
		return cause
	}
	return aerr
}

// abandonRotation clears the pending entry p and records why in the rotation state and the
// status (whose state it keeps: the previous key stays pinned and works).
func (s *Service) abandonRotation(ctx context.Context, c *Connector, p PendingRotation, why string) error {
	return s.recordRotationFailure(ctx, c, &p, why)
}

// recordRotationFailure records why a rotation of c failed in the rotation state and the
// status (whose state it keeps: the previous key stays pinned and works), clearing the
// pending entry p; with p nil (the rotation never claimed), only while no rotation is pending
// and c's version is pinned.
func (s *Service) recordRotationFailure(ctx context.Context, c *Connector, p *PendingRotation, why string) error {
	s.log().WarnContext(ctx, "rotation failed; the previous key stays pinned", "event", EventRotation, "outcome", OutcomeFailed, "connector_id", c.ID, "connector", c.Name, "reason", why)
	now := s.now()
	from := c.SecretVersion
	if p != nil {
		from = p.FromVersion
	}
	cleared, err := s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
		if p == nil && (cur.Rotation.Pending != nil || cur.SecretVersion != from || cur.Rotation.LastError == why) {
			return false
		}
		if p != nil && (cur.Rotation.Pending == nil || cur.Rotation.Pending.Claim != p.Claim) {
			return false
		}
		cur.Rotation.Pending, cur.Rotation.LastError = nil, why
		return true
	})
	if err != nil {
		return err
	}
	if cleared || p == nil {
		_, err = s.updateStatus(ctx, c.ID, func(cur *Connector) bool {
			if cur.SecretVersion != from || (p == nil && cur.Status.Error == rotationErrPrefix+why) {
				return false // re-configured meanwhile: this failure is not its status
			}
			cur.Status.Error, cur.Status.CheckedAt = rotationErrPrefix+why, now
			return true
		})
		if err != nil {
			return err
		}
	}
	return Errorf(ErrFailedPrecondition, "connector %q: key rotation failed: %s; the previous key stays pinned", c.Name, why)
}

// RepairRotation finishes what rotations of c left behind, as sweep does: a pending entry
// older than RotationBudget is rolled forward when its version is pinned, otherwise rolled
// back (its key and version deleted); retired keys whose grace has passed are deleted with
// their versions (keys gcpconn did not create only lose their version). It reports how many
// keys it deleted.
func (s *Service) RepairRotation(ctx context.Context, c *Connector) (int, error) {
	if s.Keys == nil || (c.Rotation.Pending == nil && len(c.Rotation.Retired) == 0) {
		return 0, nil
	}
	now := s.now()
	n := 0
	if p := c.Rotation.Pending; p != nil && now.Sub(p.StartedAt) >= RotationBudget {
		if p.Version != "" && c.SecretVersion == p.Version {
			if _, err := s.pinRotation(ctx, c, *p); err != nil {
				return 0, err
			}
		} else {
			if err := s.repairAbandoned(ctx, c, *p, "a rotation was interrupted; sweep removed what it had created"); err != nil {
				return 0, err
			}
			n++
		}
		cur, err := s.Store.Get(ctx, c.ID)
		if err != nil {
			return n, err
		}
		c = cur
	}
	d, err := s.deleteRetired(ctx, c, now)
	return n + d, err
}

// sourceGrant returns the grant that manages c's keys, and the account they belong to.
func (s *Service) sourceGrant(ctx context.Context, c *Connector) (Grant, string, error) {
	g, err := s.grant(ctx, c, readFresh)
	if err != nil {
		return Grant{}, "", err
	}
	key, err := g.Secrets.ServiceAccountKey()
	if err != nil {
		return Grant{}, "", err
	}
	return g, key.ClientEmail, nil
}

// repairAbandoned rolls back the pending entry p of c: it deletes p's key (found by id or, if
// the crash came before the id was written, as the account's key that was not there before
// and was created during the IAM call) and its version, then clears the entry with why.
func (s *Service) repairAbandoned(ctx context.Context, c *Connector, p PendingRotation, why string) error {
	g, email, err := s.sourceGrant(ctx, c)
	if err != nil {
		return err
	}
	ids := []string{p.KeyID}
	if p.KeyID == "" {
		if ids, err = s.abandonedKeys(ctx, g, email, p); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if err := s.Keys.DeleteKey(ctx, g, email, id); err != nil {
			return fmt.Errorf("delete the key %s of an interrupted rotation: %w", id, err)
		}
	}
	if p.Version != "" && p.Version != c.SecretVersion {
		if err := s.Secrets.DestroyVersion(ctx, c.ID, p.Version); err != nil {
			return err
		}
	}
	s.log().InfoContext(ctx, "rolled back a key rotation", "connector_id", c.ID, "keys_deleted", ids, "reason", why)
	_, err = s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
		if cur.Rotation.Pending == nil || cur.Rotation.Pending.Claim != p.Claim {
			return false
		}
		cur.Rotation.Pending, cur.Rotation.LastError = nil, why
		return true
	})
	return err
}

// abandonedKeys finds the key an interrupted rotation created before it could record its id:
// a key of the account not in p.KnownKeys, created within the IAM call's window.
func (s *Service) abandonedKeys(ctx context.Context, g Grant, email string, p PendingRotation) ([]string, error) {
	keys, err := s.Keys.ListKeys(ctx, g, email)
	if err != nil {
		return nil, err
	}
	from, to := p.StartedAt.Add(-keyClockSkew), p.StartedAt.Add(CreateKeyBudget+keyClockSkew)
	var ids []string
	for _, k := range keys {
		if slices.Contains(p.KnownKeys, k.ID) || k.Created.Before(from) || k.Created.After(to) {
			continue
		}
		ids = append(ids, k.ID)
	}
	return ids, nil
}

// deleteRetired removes retired keys and versions whose grace has passed.
func (s *Service) deleteRetired(ctx context.Context, c *Connector, now time.Time) (int, error) {
	var due []RetiredKey
	for _, r := range c.Rotation.Retired {
		if !now.Before(r.DeleteAfter) {
			due = append(due, r)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	g, email, err := s.sourceGrant(ctx, c)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	var done []RetiredKey
	for _, r := range due {
		if r.Managed && r.KeyID != "" && r.KeyID != c.Rotation.KeyID {
			if err := s.Keys.DeleteKey(ctx, g, email, r.KeyID); err != nil {
				errs = append(errs, fmt.Errorf("delete retired key %s: %w", r.KeyID, err))
				continue
			}
			n++
		} else if r.KeyID != "" {
			s.log().InfoContext(ctx, "rotation: a replaced key that gcpconn did not create is left in place", "connector_id", c.ID, "key_id", r.KeyID, "account", email)
		}
		if r.Version != "" && r.Version != c.SecretVersion {
			if err := s.Secrets.DestroyVersion(ctx, c.ID, r.Version); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		done = append(done, r)
	}
	if len(done) > 0 {
		_, err := s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
			n := len(cur.Rotation.Retired)
			cur.Rotation.Retired = slices.DeleteFunc(slices.Clone(cur.Rotation.Retired), func(r RetiredKey) bool {
				return slices.ContainsFunc(done, func(d RetiredKey) bool { return d.KeyID == r.KeyID && d.Version == r.Version })
			})
			return len(cur.Rotation.Retired) != n
		})
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// rotationOverdue is how long past its due time sweep lets a rotation wait for its
// SECRET_ROTATE event before it rotates the key itself.
const rotationOverdue = time.Hour

// sweepKeys is sweep's part in key rotation for c, within o.Timeout: RepairRotation, a
// rotation that is overdue (its event lost, or a failed one) and the report of keys older
// than o.MaxKeyAge.
func (s *Service) sweepKeys(ctx context.Context, c *Connector, o SweepOptions, note func(func(r *SweepReport))) {
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	fail := func(what string, err error) {
		s.log().ErrorContext(ctx, "sweep: "+what, "connector_id", c.ID, "error", err)
		note(func(r *SweepReport) {
			if len(r.Errors) < maxSweepErrors {
				r.Errors = append(r.Errors, fmt.Sprintf("connector %s (%s): %s: %s", c.ID, c.Name, what, MessageOf(err)))
			}
		})
	}
	n, err := s.RepairRotation(cctx, c)
	note(func(r *SweepReport) { r.KeysDeleted += n })
	if err != nil {
		fail("key rotation repair", err)
	}
	now := s.now()
	if next := c.Rotation.NextRotation(); s.Keys != nil && !next.IsZero() && now.After(next.Add(rotationOverdue)) && c.Status.State != StateDisabled {
		rotated, err := s.RotateKey(cctx, c.ID, false)
		if rotated {
			note(func(r *SweepReport) { r.KeysRotated++ })
			return
		}
		if err != nil && KindOf(err) != ErrFailedPrecondition {
			fail("overdue key rotation", err)
		}
		s.logRotationOverdue(ctx, c, next, err)
	}
	if age := now.Sub(c.Rotation.KeyCreatedAt); o.MaxKeyAge > 0 && !c.Rotation.KeyCreatedAt.IsZero() && c.Rotation.KeyID != "" && age > o.MaxKeyAge {
		msg := fmt.Sprintf("connector %q: key %s is %s old (more than %s)", c.Name, c.Rotation.KeyID, FormatAge(age), FormatAge(o.MaxKeyAge))
		s.log().WarnContext(ctx, "sweep: old service-account key", "event", EventOldKey, "connector_id", c.ID, "connector", c.Name, "key_id", c.Rotation.KeyID, "age_days", int(age.Hours()/24))
		note(func(r *SweepReport) {
			if len(r.OldKeys) < maxSweepErrors {
				r.OldKeys = append(r.OldKeys, msg)
			}
		})
	}
}

// FormatAge renders an age in whole days ("400d"), or hours below a day ("5h").
func FormatAge(d time.Duration) string {
	if d >= 24*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return strconv.Itoa(int(d/time.Hour)) + "h"
}
