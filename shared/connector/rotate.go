package connector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Key rotation (DESIGN §8 "Rotation"). A connector that holds a service-account key may have
// gcpconn replace the key: a new key through the IAM keys API → a new secret version →
// verified → pinned → the old key deleted after RotationGrace, by sweep. Every step is
// recorded on the connector first (Rotation.Pending, a write-ahead entry claimed with the
// store's revision precondition), so one claim yields one key, and whatever a crash or a
// fault leaves behind (a key created but never stored, a version never pinned) is found and
// removed by RepairRotation, which sweep runs.
//
// This file holds the use case; the registration field, the schedule in Secret Manager and
// the edges (refresh, sweep, HTTP, CLI) are wired separately.

// KeyManager is the port to Google's IAM service-account keys API that rotation needs. It acts
// with the grant's credentials. Errors carry this package's kinds; CreateKey returns
// ErrFailedPrecondition when the account has reached Google's limit of keys.
type KeyManager interface {
	// CreateKey creates a key for email and returns its id and its key file JSON.
	CreateKey(ctx context.Context, g Grant, email string) (keyID, keyJSON string, err error)
	// ListKeys returns the account's user-managed keys.
	ListKeys(ctx context.Context, g Grant, email string) ([]KeyInfo, error)
	// DeleteKey deletes one key; a key that is already gone is not an error.
	DeleteKey(ctx context.Context, g Grant, email, keyID string) error
}

// KeyInfo describes one service-account key (never its material).
type KeyInfo struct {
	ID      string
	Created time.Time
}

// Rotation is a connector's key-rotation state. The zero value means rotation is off and
// nothing is in flight.
type Rotation struct {
	Period       time.Duration // how often the key is replaced; 0 = not scheduled
	KeyID        string        // the pinned key's id (private_key_id)
	KeyCreatedAt time.Time     // when the pinned key was created (or registered)
	Generation   int64         // rotations completed
	// Pending is the write-ahead entry of a rotation in flight; nil when none is.
	Pending *PendingRotation
	// Retired are replaced keys (and their secret versions) that sweep deletes once
	// DeleteAfter has passed.
	Retired   []RetiredKey
	LastError string // why the last rotation failed; "" after a success
}

// PendingRotation is recorded before the IAM call and filled in as the rotation proceeds.
type PendingRotation struct {
	Generation int64     // the generation this rotation will complete
	Claim      string    // random id of the claimant
	StartedAt  time.Time // just before the IAM call
	KeyID      string    // the new key, once created
	Version    string    // the new secret version, once added
}

// RetiredKey is a key gcpconn replaced and will delete.
type RetiredKey struct {
	KeyID, Version string
	DeleteAfter    time.Time
}

// Rotation bounds.
const (
	MinRotationPeriod = 24 * time.Hour
	MaxRotationPeriod = 365 * 24 * time.Hour
	// RotationGrace is how long a replaced key stays: longer than any token minted from it
	// (at most 12 h with an extended lifetime).
	RotationGrace = 13 * time.Hour
	// RotationBudget bounds one rotation run; a pending entry older than this was abandoned
	// (a crash, a lost instance) and RepairRotation undoes it.
	RotationBudget = 5 * time.Minute
	// keyClockSkew widens the window in which a key created by an abandoned rotation is
	// looked for.
	keyClockSkew = time.Minute
)

// CanRotate reports why c cannot rotate its key, or "" when it can: only service-account
// connectors and impersonation connectors with a source key hold a key gcpconn can replace.
func CanRotate(c *Connector, hasKey bool) string {
	switch {
	case c.AuthMethod == ServiceAccount:
		return ""
	case c.AuthMethod == Impersonation && hasKey:
		return ""
	case c.AuthMethod == Impersonation:
		return "keyless impersonation connectors hold no key to rotate"
	}
	return fmt.Sprintf("%s connectors hold no service-account key; only service-account connectors and impersonation connectors with a source key can rotate", c.AuthMethod)
}

// RotateKey rotates the key of connector id now. Unless force is set, it does nothing when
// the pinned key is younger than half the rotation period (a duplicate or late schedule
// event). It reports whether a new key was pinned. A rotation already in flight, or one
// another instance claims first, is not an error: that one proceeds.
func (s *Service) RotateKey(ctx context.Context, id string, force bool) (bool, error) {
	if s.Keys == nil {
		return false, Errorf(ErrFailedPrecondition, "key rotation is not configured on this deployment")
	}
	c, err := s.Store.Get(ctx, id)
	if err != nil {
		return false, err
	}
	g, err := s.grant(ctx, c, readFresh)
	if err != nil {
		return false, err
	}
	if why := CanRotate(c, g.Secrets.ServiceAccountJSON != ""); why != "" {
		return false, Errorf(ErrFailedPrecondition, "connector %q cannot rotate its key: %s", c.Name, why)
	}
	if err := c.enabled(); err != nil {
		return false, err
	}
	r := c.Rotation
	if r.Pending != nil || (!force && (r.Period == 0 || s.now().Sub(r.KeyCreatedAt) < r.Period/2)) {
		return false, nil
	}
	p, err := s.claimRotation(ctx, c)
	if err != nil || p == nil {
		return false, err
	}
	return s.runRotation(ctx, g, *p)
}

// claimRotation records the write-ahead entry; nil when another claim won.
func (s *Service) claimRotation(ctx context.Context, c *Connector) (*PendingRotation, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	p := &PendingRotation{Generation: c.Rotation.Generation + 1, Claim: hex.EncodeToString(b[:]), StartedAt: s.now()}
	ok, err := s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
		if cur.Rotation.Pending != nil || cur.Rotation.Generation != c.Rotation.Generation || cur.SecretVersion != c.SecretVersion {
			return false
		}
		pc := *p
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
func (s *Service) runRotation(ctx context.Context, old Grant, p PendingRotation) (bool, error) {
	c := old.Connector
	key, err := old.Secrets.ServiceAccountKey()
	if err != nil {
		return false, s.abandonRotation(ctx, old, p, "the stored key cannot be read: "+MessageOf(err))
	}
	keyID, keyJSON, err := s.Keys.CreateKey(ctx, old, key.ClientEmail)
	if err != nil {
		if definite(err) {
			return false, s.abandonRotation(ctx, old, p, createKeyProblem(key.ClientEmail, err))
		}
		return false, err // a key may exist: the pending entry lets sweep find it
	}
	if ok, err := s.recordPending(ctx, c.ID, p.Claim, func(q *PendingRotation) { q.KeyID = keyID }); err != nil || !ok {
		return false, s.rollBack(ctx, old, key.ClientEmail, keyID, "", p, "the rotation lost its claim", err)
	}
	p.KeyID = keyID
	newSec := old.Secrets
	newSec.ServiceAccountJSON = keyJSON
	version, err := s.Secrets.AddVersion(ctx, c.ID, newSec)
	if err != nil {
		return false, s.rollBack(ctx, old, key.ClientEmail, keyID, "", p, "the new key could not be stored: "+MessageOf(err), err)
	}
	if ok, err := s.recordPending(ctx, c.ID, p.Claim, func(q *PendingRotation) { q.Version = version }); err != nil || !ok {
		return false, s.rollBack(ctx, old, key.ClientEmail, keyID, version, p, "the rotation lost its claim", err)
	}
	p.Version = version
	res, err := s.verify(ctx, Grant{Connector: c, Secrets: newSec}, "", "", false)
	if err == nil && res.Error != "" {
		err = Errorf(ErrInvalid, "%s", res.Error)
	}
	if err != nil {
		return false, s.rollBack(ctx, old, key.ClientEmail, keyID, version, p, "the new key failed verification: "+MessageOf(err), nil)
	}
	return s.pinRotation(ctx, c, p)
}

// pinRotation pins the new version and key, retires the old ones and clears the entry.
func (s *Service) pinRotation(ctx context.Context, c *Connector, p PendingRotation) (bool, error) {
	now := s.now()
	ok, err := s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
		if cur.Rotation.Pending == nil || cur.Rotation.Pending.Claim != p.Claim {
			return false
		}
		if cur.SecretVersion != p.Version {
			cur.Rotation.Retired = append(cur.Rotation.Retired, RetiredKey{KeyID: cur.Rotation.KeyID, Version: cur.SecretVersion, DeleteAfter: now.Add(RotationGrace)})
			cur.SecretVersion = p.Version
		}
		cur.Rotation.KeyID, cur.Rotation.KeyCreatedAt = p.KeyID, now
		cur.Rotation.Generation, cur.Rotation.Pending, cur.Rotation.LastError = p.Generation, nil, ""
		cur.Status = Status{State: StateOK, CheckedAt: now}
		return true
	})
	if err != nil {
		return false, err // the entry stays: sweep rolls it forward or back
	}
	s.Forget(c.ID)
	if ok {
		s.log().InfoContext(ctx, "key rotated", "connector_id", c.ID, "key_id", p.KeyID, "secret_version", p.Version, "generation", p.Generation)
	}
	return ok, nil
}

// createKeyProblem says why Google refused a new key, in the caller's terms.
func createKeyProblem(email string, err error) string {
	if KindOf(err) == ErrFailedPrecondition {
		return fmt.Sprintf("Google refused a new key for %s: a service account has at most 10 keys; delete keys it no longer needs (gcpconn deletes only keys it created)", email)
	}
	return fmt.Sprintf("Google refused a new key for %s: %s", email, MessageOf(err))
}

// rollBack deletes what a failed rotation created (with the old, still pinned credentials)
// and clears its entry with the reason. A cleanup that fails leaves the entry for sweep.
func (s *Service) rollBack(ctx context.Context, old Grant, email, keyID, version string, p PendingRotation, why string, cause error) error {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := s.Keys.DeleteKey(cctx, old, email, keyID); err != nil {
		s.log().WarnContext(ctx, "rotation: could not delete the new key; left for sweep", "connector_id", old.Connector.ID, "key_id", keyID, "error", MessageOf(err))
		return fmt.Errorf("rotate key of connector %q: %s; its new key is left for sweep: %w", old.Connector.Name, why, err)
	}
	if version != "" {
		if err := s.Secrets.DestroyVersion(cctx, old.Connector.ID, version); err != nil {
			s.log().WarnContext(ctx, "rotation: could not destroy the new secret version; left for sweep", "connector_id", old.Connector.ID, "error", MessageOf(err))
			return fmt.Errorf("rotate key of connector %q: %s: %w", old.Connector.Name, why, err)
		}
	}
	if err := s.abandonRotation(cctx, old, p, why); err != nil {
		return err
	}
	if cause != nil {
		return cause
	}
	return Errorf(ErrFailedPrecondition, "connector %q: key rotation failed: %s; the previous key stays pinned", old.Connector.Name, why)
}

// abandonRotation clears the pending entry p and records why.
func (s *Service) abandonRotation(ctx context.Context, g Grant, p PendingRotation, why string) error {
	s.log().WarnContext(ctx, "rotation failed; the previous key stays pinned", "connector_id", g.Connector.ID, "reason", why)
	now := s.now()
	_, err := s.updateConnector(ctx, g.Connector.ID, func(cur *Connector) bool {
		if cur.Rotation.Pending == nil || cur.Rotation.Pending.Claim != p.Claim {
			return false
		}
		cur.Rotation.Pending, cur.Rotation.LastError = nil, why
		cur.Status.Error, cur.Status.CheckedAt = "key rotation failed: "+why, now
		return true
	})
	if err != nil {
		return err
	}
	return Errorf(ErrFailedPrecondition, "connector %q: key rotation failed: %s; the previous key stays pinned", g.Connector.Name, why)
}

// RepairRotation finishes what rotations of c left behind, as sweep does: a pending entry
// older than RotationBudget is rolled forward when its version is pinned, otherwise rolled
// back (its key, found by id or, if the crash came before the id was recorded, as the key of
// the account created within the entry's window, and its version are deleted); retired keys
// whose grace has passed are deleted with their versions. Keys gcpconn did not create are
// never touched.
func (s *Service) RepairRotation(ctx context.Context, c *Connector) error {
	if s.Keys == nil || (c.Rotation.Pending == nil && len(c.Rotation.Retired) == 0) {
		return nil
	}
	g, err := s.grant(ctx, c, readFresh)
	if err != nil {
		return err
	}
	key, err := g.Secrets.ServiceAccountKey()
	if err != nil {
		return err
	}
	now := s.now()
	if p := c.Rotation.Pending; p != nil && now.Sub(p.StartedAt) >= RotationBudget {
		if p.Version != "" && c.SecretVersion == p.Version {
			if _, err := s.pinRotation(ctx, c, *p); err != nil {
				return err
			}
		} else if err := s.repairAbandoned(ctx, g, key.ClientEmail, *p); err != nil {
			return err
		}
	}
	return s.deleteRetired(ctx, g, key.ClientEmail, now)
}

// repairAbandoned rolls back an abandoned pending entry.
func (s *Service) repairAbandoned(ctx context.Context, g Grant, email string, p PendingRotation) error {
	c := g.Connector
	ids := []string{p.KeyID}
	if p.KeyID == "" {
		keys, err := s.Keys.ListKeys(ctx, g, email)
		if err != nil {
			return err
		}
		ids = nil
		from, to := p.StartedAt.Add(-keyClockSkew), p.StartedAt.Add(RotationBudget+keyClockSkew)
		for _, k := range keys {
			if k.ID != c.Rotation.KeyID && !k.Created.Before(from) && !k.Created.After(to) && !slices.ContainsFunc(c.Rotation.Retired, func(r RetiredKey) bool { return r.KeyID == k.ID }) {
				ids = append(ids, k.ID)
			}
		}
	}
	for _, id := range ids {
		if err := s.Keys.DeleteKey(ctx, g, email, id); err != nil {
			return err
		}
	}
	if p.Version != "" && p.Version != c.SecretVersion {
		if err := s.Secrets.DestroyVersion(ctx, c.ID, p.Version); err != nil {
			return err
		}
	}
	s.log().InfoContext(ctx, "sweep: rolled back an abandoned key rotation", "connector_id", c.ID, "keys_deleted", len(ids))
	_, err := s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
		if cur.Rotation.Pending == nil || cur.Rotation.Pending.Claim != p.Claim {
			return false
		}
		cur.Rotation.Pending, cur.Rotation.LastError = nil, "a rotation was interrupted; sweep removed what it had created"
		return true
	})
	return err
}

// deleteRetired deletes retired keys and versions whose grace has passed.
func (s *Service) deleteRetired(ctx context.Context, g Grant, email string, now time.Time) error {
	c := g.Connector
	var done []string
	for _, r := range c.Rotation.Retired {
		if now.Before(r.DeleteAfter) {
			continue
		}
		if r.KeyID != "" {
			if err := s.Keys.DeleteKey(ctx, g, email, r.KeyID); err != nil {
				return err
			}
		}
		if r.Version != "" && r.Version != c.SecretVersion {
			if err := s.Secrets.DestroyVersion(ctx, c.ID, r.Version); err != nil {
				return err
			}
		}
		done = append(done, r.KeyID+"/"+r.Version)
	}
	if len(done) == 0 {
		return nil
	}
	_, err := s.updateConnector(ctx, c.ID, func(cur *Connector) bool {
		n := len(cur.Rotation.Retired)
		cur.Rotation.Retired = slices.DeleteFunc(slices.Clone(cur.Rotation.Retired), func(r RetiredKey) bool {
			return slices.Contains(done, r.KeyID+"/"+r.Version)
		})
		return len(cur.Rotation.Retired) != n
	})
	return err
}
