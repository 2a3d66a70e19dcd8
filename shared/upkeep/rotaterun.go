package upkeep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/internal/deadline"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// One rotation run: claim (the write-ahead entry) → create the key → record its id → store it
// as a new secret version → record the version ("verifying") → verify → pin. A failure at
// any step is failRotation's: the entry is released in one write and what the run created
// becomes a retired record that sweep (and the failure path itself) deletes.

// rotateKey rotates the key of connector id. Unless force is set, it does nothing when
// rotation is off or the pinned key is younger than half the rotation period (a duplicate or
// late schedule event): one rotation period yields one key. It reports whether a new key was
// pinned. A rotation already in flight is carried on instead (a "verifying" one is verified
// and pinned, an abandoned one released); a young one, or one another instance claims first,
// is not an error: that one proceeds.
func (s *Keeper) rotateKey(ctx context.Context, id string, force bool) (bool, error) {
	return s.rotateIf(ctx, id, force, func(r rotation.State) bool {
		return r.Period != 0 && s.now().Sub(r.KeyCreatedAt) >= r.Period/2
	})
}

// RotateOnEvent rotates the key of connector id for Secret Manager's SECRET_ROTATE
// published at published: the schedule says the key is due, so it is rotated unless it was
// created after the event was published (a duplicate or late delivery of an event already
// acted on). Without a publish time it is rotateKey(ctx, id, false).
func (s *Keeper) RotateOnEvent(ctx context.Context, id string, published time.Time) (bool, error) {
	if published.IsZero() {
		return s.rotateKey(ctx, id, false)
	}
	return s.rotateIf(ctx, id, false, func(r rotation.State) bool {
		return r.Period != 0 && r.KeyCreatedAt.Before(published)
	})
}

// rotateIf is rotateKey with the test of a due key given: rotation runs when force is set or
// due(the connector's rotation) holds.
func (s *Keeper) rotateIf(ctx context.Context, id string, force bool, due func(rotation.State) bool) (bool, error) {
	if s.Keys == nil {
		return false, connector.Errorf(connector.ErrFailedPrecondition, "key rotation is not configured on this deployment")
	}
	c, err := s.Store.Get(ctx, id)
	if err != nil {
		return false, err
	}
	if p := c.Rotation.Pending; p != nil {
		pinned, err := s.resumePending(ctx, c, *p)
		if pinned || err != nil || !force {
			return pinned, err
		}
		if c, err = s.Store.Get(ctx, id); err != nil || c.Rotation.Pending != nil {
			return false, err // still in flight: that one proceeds
		}
	}
	if !force && !due(c.Rotation) {
		return false, nil
	}
	return s.startRotation(ctx, c)
}

// startRotation checks that c can rotate, makes room under Google's key limit, claims the
// rotation and runs it.
func (s *Keeper) startRotation(ctx context.Context, c *connector.Connector) (bool, error) {
	g, email, err := s.RotationSource(ctx, c)
	if err != nil {
		return false, err
	}
	known, err := s.Keys.ListKeys(ctx, g, email)
	if err != nil && connector.KindOf(err) == connector.ErrFailedPrecondition {
		// Google refused (the rotation identity may not manage the account's keys): recorded
		// like a failed rotation, so describe and status say why keys do not rotate.
		return false, s.recordRotationFailure(ctx, c, connector.MessageOf(err), nil)
	}
	if err != nil {
		return false, s.recordRotationFailure(ctx, c, "the keys of "+email+" could not be listed: "+connector.MessageOf(err), err)
	}
	if len(known) >= MaxKeysPerAccount {
		if known, err = s.makeRoom(ctx, c, g, email, known); err != nil {
			return false, err
		}
	}
	p, err := s.claimRotation(ctx, c, email, known)
	if err != nil {
		return false, s.recordRotationFailure(ctx, c, "the rotation could not be recorded: "+connector.MessageOf(err), err)
	}
	if p == nil {
		return false, nil // another claim won: that rotation proceeds
	}
	rctx, cancel := context.WithDeadline(ctx, p.StartedAt.Add(RotationBudget-time.Minute))
	defer cancel()
	return s.runRotation(rctx, g, *p)
}

// claimRotation records the write-ahead entry; nil when another claim won.
func (s *Keeper) claimRotation(ctx context.Context, c *connector.Connector, email string, known []KeyInfo) (*rotation.Pending, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	p := &rotation.Pending{Generation: c.Rotation.Generation + 1, Claim: hex.EncodeToString(b[:]),
		StartedAt: s.now(), FromVersion: c.SecretVersion, Email: email}
	for _, k := range known {
		p.KnownKeys = append(p.KnownKeys, k.ID)
	}
	ok, err := s.UpdateConnector(ctx, c.ID, func(cur *connector.Connector) bool {
		if cur.Rotation.Pending != nil || cur.Rotation.Generation != c.Rotation.Generation || cur.SecretVersion != c.SecretVersion {
			return false
		}
		pc := *p
		pc.KnownKeys = slices.Clone(p.KnownKeys)
		cur.Rotation.Pending = &pc
		cur.CleanupAfter = p.StartedAt // a version the run adds but cannot record is sweep's
		return true
	})
	if err != nil || !ok {
		return nil, err
	}
	return p, nil
}

// recordPending stores fn's change to our pending entry; false when the claim was lost.
func (s *Keeper) recordPending(ctx context.Context, id, claim string, fn func(p *rotation.Pending)) (bool, error) {
	return s.UpdateConnector(ctx, id, func(cur *connector.Connector) bool {
		if cur.Rotation.Pending == nil || cur.Rotation.Pending.Claim != claim {
			return false
		}
		fn(cur.Rotation.Pending)
		return true
	})
}

// runRotation creates the key, stores it, records it as verifying and verifies and pins it.
func (s *Keeper) runRotation(ctx context.Context, old connector.Grant, p rotation.Pending) (bool, error) {
	c := old.Connector
	cctx, cancel := context.WithDeadline(ctx, p.StartedAt.Add(rotation.CreateKeyBudget))
	keyID, keyJSON, err := s.Keys.CreateKey(cctx, old, p.Email)
	cancel()
	if err != nil && keyID == "" {
		// An answer that never arrived may hide a created key: sweep looks for it.
		return false, s.failRotation(ctx, c, p, !connector.Definite(err), createKeyProblem(p.Email, err), err)
	}
	p.KeyID = keyID
	if ok, rerr := s.recordPending(ctx, c.ID, p.Claim, func(q *rotation.Pending) { q.KeyID = keyID }); rerr != nil || !ok {
		return false, s.failRotation(ctx, c, p, false, lostClaim(rerr), rerr)
	}
	if err != nil {
		return false, s.failRotation(ctx, c, p, false, createKeyProblem(p.Email, err), nil)
	}
	newSec := old.Secrets
	newSec.ServiceAccountJSON = keyJSON
	version, err := s.Secrets.AddVersion(ctx, c.ID, newSec)
	if err != nil {
		// The version may exist; an unpinned version is never read, and sweep destroys it.
		return false, s.failRotation(ctx, c, p, false, "the new key could not be stored: "+connector.MessageOf(err), err)
	}
	p.Version, p.VerifyBy = version, s.now().Add(VerifyWindow)
	if ok, err := s.recordPending(ctx, c.ID, p.Claim, func(q *rotation.Pending) { q.Version, q.VerifyBy = p.Version, p.VerifyBy }); err != nil || !ok {
		return false, s.failRotation(ctx, c, p, false, lostClaim(err), err)
	}
	return s.verifyAndPin(ctx, c, p, newSec)
}

// lostClaim is why a rotation stopped when its entry could not be written (err) or was
// taken over (err nil).
func lostClaim(err error) string {
	if err != nil {
		return "the rotation could not record its progress: " + connector.MessageOf(err)
	}
	return "the rotation lost its claim (the connector changed meanwhile)"
}

// verifyAndPin verifies the new key of the verifying entry p and pins it. A key that does
// not work yet stays "verifying" until p.VerifyBy (a later pass carries on); after it, it is
// deleted and the failure recorded. A key is never pinned unverified.
func (s *Keeper) verifyAndPin(ctx context.Context, c *connector.Connector, p rotation.Pending, sec connector.Secrets) (bool, error) {
	// Verification stops early enough to record the outcome and answer within ctx.
	vctx, cancel := deadline.WriteContext(ctx, VerifyWindow)
	why, err := s.verifyNewKey(vctx, connector.Grant{Connector: c, Secrets: sec})
	outOfTime := vctx.Err() != nil
	cancel()
	if err == nil && why == "" {
		return s.pinRotation(ctx, c, p)
	}
	if why == "" {
		why = "the new key could not be verified: " + connector.MessageOf(err)
	}
	if s.now().Before(p.VerifyBy) {
		s.log().InfoContext(ctx, "rotation: the new key does not work yet; a later pass verifies it", "connector_id", c.ID,
			"key_id", p.KeyID, "verify_by", p.VerifyBy, "reason", why)
		if err != nil && connector.Retryable(err) != nil && !outOfTime {
			return false, err
		}
		return false, nil
	}
	return false, s.failRotation(ctx, c, p, false, why+" (still refused "+VerifyWindow.String()+" after it was created)", nil)
}

// resumePending carries on the rotation entry p of c found in flight: a verifying one is
// verified and pinned, one abandoned past RotationBudget is released (failRotation). It
// reports whether it pinned a key.
func (s *Keeper) resumePending(ctx context.Context, c *connector.Connector, p rotation.Pending) (bool, error) {
	if p.State() == rotation.Verifying {
		sec, err := s.Secrets.Access(ctx, c.ID, p.Version)
		if err != nil {
			if connector.KindOf(err) == connector.ErrNotFound || connector.KindOf(err) == connector.ErrFailedPrecondition {
				return false, s.failRotation(ctx, c, p, false, "the new key's secret version is gone: "+connector.MessageOf(err), nil)
			}
			return false, err
		}
		return s.verifyAndPin(ctx, c, p, sec)
	}
	if s.now().Sub(p.StartedAt) < RotationBudget {
		return false, nil // in flight elsewhere
	}
	err := s.failRotation(ctx, c, p, p.KeyID == "", "a rotation was interrupted before its key was stored; what it created is deleted", nil)
	if connector.KindOf(err) == connector.ErrFailedPrecondition {
		return false, nil // recorded; the caller may start a new rotation
	}
	return false, err
}

// verifyNewKey checks that the new key authenticates, trying again with backoff while Google
// refuses it (a new key can take seconds to work). why says why it did not authenticate; err
// is for what could not be decided (ctx done).
func (s *Keeper) verifyNewKey(ctx context.Context, g connector.Grant) (why string, err error) {
	wait := verifyBackoff
	for attempt := 1; ; attempt++ {
		_, err := s.Google.Token(ctx, g, connector.TokenRequest{Scopes: []string{resourcetype.ScopeCloudPlatform}})
		if err == nil {
			return "", nil
		}
		switch connector.KindOf(err) {
		case connector.ErrUpstreamDenied, connector.ErrUpstreamNotFound, connector.ErrInvalid, connector.ErrUpstreamUnavailable:
		default:
			return "", err
		}
		why = "the new key failed verification: " + connector.MessageOf(err)
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

// pinRotation pins the verified new version and key of the verifying entry p, retires the
// old ones and clears the entry. It refuses an entry that is no longer p (released, rolled
// back or taken over). An update that replaced the credentials meanwhile wins: the rotation
// is released and its key deleted.
func (s *Keeper) pinRotation(ctx context.Context, c *connector.Connector, p rotation.Pending) (bool, error) {
	now := s.now()
	superseded, eligible := false, false
	ok, err := s.UpdateConnector(ctx, c.ID, func(cur *connector.Connector) bool {
		r := &cur.Rotation
		if r.Pending == nil || r.Pending.Claim != p.Claim || r.Pending.State() != rotation.Verifying || r.Pending.Version != p.Version {
			return false
		}
		if cur.SecretVersion != p.FromVersion && cur.SecretVersion != p.Version {
			superseded = true
			return false
		}
		if cur.SecretVersion == p.FromVersion {
			r.Retired = append(r.Retired, retiredByPin(cur, p, now))
			eligible = r.KeyManaged && r.KeyTracked && !cur.HandsOutKey()
		}
		cur.SecretVersion = p.Version
		r.KeyID, r.KeyCreatedAt, r.KeyManaged, r.KeyTracked = p.KeyID, now, true, true
		r.Generation, r.Pending, r.LastError = p.Generation, nil, ""
		return true
	})
	if err != nil {
		return false, err // the entry stays verifying: a later pass pins it
	}
	if superseded {
		return false, s.failRotation(ctx, c, p, false, "an update replaced the credentials during the rotation", nil)
	}
	s.Forget(c.ID)
	if ok {
		s.settleTokens(ctx, c.ID, p.FromVersion, eligible)
		s.log().InfoContext(ctx, "key rotated", "event", EventRotation, "outcome", OutcomeRotated, "connector_id", c.ID, "connector", c.Name, "key_id", p.KeyID, "secret_version", p.Version, "generation", p.Generation)
		s.clearRotationStatus(ctx, c.ID, p.Version)
		if cur, err := s.Store.Get(ctx, c.ID); err == nil {
			if err := s.Secrets.SetRotation(ctx, cur.ID, cur.Rotation.Period, cur.Rotation.Due()); err != nil {
				s.log().WarnContext(ctx, "rotation: schedule not moved", "connector_id", c.ID, "error", connector.MessageOf(err))
			}
		}
	}
	return ok, nil
}

// clearRotationStatus clears what the status says about rotation (due, or a failed
// rotation) once the rotation pinned version. A failure is logged: the key is rotated, and
// the next rotation or status write of sweep clears it.
func (s *Keeper) clearRotationStatus(ctx context.Context, id, version string) {
	_, err := s.UpdateStatus(ctx, id, func(cur *connector.Connector) bool {
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
		s.log().WarnContext(ctx, "rotation: status not updated", "connector_id", id, "error", connector.MessageOf(err))
	}
}
