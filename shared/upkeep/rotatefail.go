package upkeep

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Failed rotations and cleanup. A rotation that fails at any step is released by one write
// conditioned on its claim (and on the connector's revision, as every write): the entry is
// cleared, rotation.last_error says why, and what the run created (its key, its secret
// version, or the window to search for a key whose id was never learnt) becomes a retired
// record due at once. Retired records are deleted only by deleteRetired, which reads the
// connector again first; a key is never pinned from a retired record, so a record can never
// name the pinned key, and pin refuses an entry that was released. Sweep releases entries
// abandoned past RotationBudget the same way (repairRotation), from a fresh read.

// failRotation releases the rotation entry p of c that failed for why, with a context of its
// own (failureBudget; ctx may be done): lost says the IAM create may have made a key whose id
// is unknown. It records why in rotation.last_error and the status, deletes what the run
// created (what it cannot delete is left for sweep) and returns the error to answer: of
// cause's kind when retrying may help, otherwise ErrFailedPrecondition.
func (s *Keeper) failRotation(ctx context.Context, c *connector.Connector, p rotation.Pending, lost bool, why string, cause error) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failureBudget)
	defer cancel()
	s.log().WarnContext(ctx, "rotation failed; the previous key stays pinned", "event", EventRotation, "outcome", OutcomeFailed, "connector_id", c.ID, "connector", c.Name, "reason", why)
	now := s.now()
	released, err := s.UpdateConnector(fctx, c.ID, func(cur *connector.Connector) bool {
		q := cur.Rotation.Pending
		if q == nil || q.Claim != p.Claim {
			// Released or taken over meanwhile (a sweep found the entry abandoned): what this
			// run created after that is still recorded, so that it is deleted.
			return recordStray(cur, p, now)
		}
		merged := *q // as recorded, with what this run learnt but could not record
		merged.KeyID = cmpOr(merged.KeyID, p.KeyID)
		merged.Version = cmpOr(merged.Version, p.Version)
		if rk, ok := merged.Leftover(lost, now); ok {
			cur.Rotation.Retired = append(cur.Rotation.Retired, rk)
		}
		cur.Rotation.Pending, cur.Rotation.LastError = nil, why
		return true
	})
	if err != nil {
		s.log().ErrorContext(ctx, "rotation: the failure could not be recorded; a later pass releases the entry", "connector_id", c.ID, "error", connector.MessageOf(err))
		return rotationError(c, why+" (the failure could not be recorded yet: "+connector.MessageOf(err)+")", cmpErr(cause, err))
	}
	if released {
		s.setRotationError(fctx, c.ID, p.FromVersion, why)
		if _, err := s.deleteRetired(fctx, c.ID); err != nil {
			s.log().WarnContext(ctx, "rotation: what the failed rotation created is left for sweep", "connector_id", c.ID, "error", connector.MessageOf(err))
		}
	}
	return rotationError(c, why, cause)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// recordStray records, as a retired record due at once, the key and version that the run
// of entry p created after its entry was released; false when there is none or it is
// already recorded.
func recordStray(cur *connector.Connector, p rotation.Pending, now time.Time) bool {
	rk, ok := p.Leftover(false, now)
	if !ok || (p.KeyID != "" && (p.KeyID == cur.Rotation.KeyID || pendingKey(cur, p.KeyID))) ||
		slices.ContainsFunc(cur.Rotation.Retired, func(r rotation.RetiredKey) bool { return r.KeyID == p.KeyID && r.Version == p.Version }) {
		return false
	}
	cur.Rotation.Retired = append(cur.Rotation.Retired, rk)
	return true
}

// setRotationError records a failed rotation in the status (whose state it keeps: the
// previous key stays pinned and works), unless the connector was re-configured meanwhile.
func (s *Keeper) setRotationError(ctx context.Context, id, from, why string) {
	now := s.now()
	_, err := s.UpdateStatus(ctx, id, func(cur *connector.Connector) bool {
		if cur.SecretVersion != from || cur.Status.Error == rotationErrPrefix+why {
			return false
		}
		cur.Status.Error, cur.Status.CheckedAt = rotationErrPrefix+why, now
		return true
	})
	if err != nil {
		s.log().WarnContext(ctx, "rotation: status not updated", "connector_id", id, "error", connector.MessageOf(err))
	}
}

// recordRotationFailure records why a rotation of c that never claimed failed (cause: the
// error behind it, if any), in the rotation state and the status, while no rotation is
// pending and c's version is pinned; with a context of its own, as failRotation. It returns
// the error to answer, as failRotation does.
func (s *Keeper) recordRotationFailure(ctx context.Context, c *connector.Connector, why string, cause error) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failureBudget)
	defer cancel()
	s.log().WarnContext(ctx, "rotation failed; the previous key stays pinned", "event", EventRotation, "outcome", OutcomeFailed, "connector_id", c.ID, "connector", c.Name, "reason", why)
	_, err := s.UpdateConnector(fctx, c.ID, func(cur *connector.Connector) bool {
		if cur.Rotation.Pending != nil || cur.SecretVersion != c.SecretVersion || cur.Rotation.LastError == why {
			return false
		}
		cur.Rotation.LastError = why
		return true
	})
	if err == nil {
		s.setRotationError(fctx, c.ID, c.SecretVersion, why)
	} else {
		s.log().WarnContext(ctx, "rotation: the failure could not be recorded", "connector_id", c.ID, "error", connector.MessageOf(err))
	}
	return rotationError(c, why, cause)
}

// rotationError is the error a failed rotation of c answers: of cause's kind when retrying
// may help, otherwise ErrFailedPrecondition.
func rotationError(c *connector.Connector, why string, cause error) error {
	msg := fmt.Sprintf("connector %q: key rotation failed: %s; the previous key stays pinned", c.Name, why)
	if cause != nil && connector.Retryable(cause) != nil {
		kind := connector.KindOf(cause)
		if kind == connector.ErrInternal {
			kind = connector.ErrUpstreamUnavailable
		}
		return &connector.Error{Kind: kind, Message: msg, Err: cause}
	}
	return &connector.Error{Kind: connector.ErrFailedPrecondition, Message: msg}
}

// repairRotation finishes what rotations of connector c left behind, as sweep does, from a
// fresh read of it (c may be a stale listing): a verifying entry is verified and pinned (or,
// past its VerifyBy, released), an entry abandoned past RotationBudget is released; then
// retired keys whose time has come are deleted with their versions (keys gcpconn did not
// create only lose their version). It reports how many keys it deleted.
func (s *Keeper) repairRotation(ctx context.Context, c *connector.Connector) (int, error) {
	if s.Keys == nil || (c.Rotation.Pending == nil && len(c.Rotation.Retired) == 0) {
		return 0, nil
	}
	cur, err := s.Store.Get(ctx, c.ID)
	if errors.Is(err, connector.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if p := cur.Rotation.Pending; p != nil {
		if _, err := s.resumePending(ctx, cur, *p); err != nil && connector.KindOf(err) != connector.ErrFailedPrecondition {
			return 0, err
		}
	}
	return s.deleteRetired(ctx, c.ID)
}

// deleteRetired deletes the due retired keys of connector id (read afresh) and destroys
// their versions, then drops their records. It never deletes the pinned key or the key of a
// rotation in flight.
func (s *Keeper) deleteRetired(ctx context.Context, id string) (int, error) {
	c, err := s.Store.Get(ctx, id)
	if errors.Is(err, connector.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	now := s.now()
	var due []rotation.RetiredKey
	for _, r := range c.Rotation.Retired {
		if !now.Before(r.DeleteAfter) && (r.Lost == nil || c.Rotation.Pending == nil) {
			due = append(due, r)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	var recorded map[string]bool
	if slices.ContainsFunc(due, func(r rotation.RetiredKey) bool { return r.Lost != nil }) {
		if recorded, err = s.recordedKeys(ctx); err != nil {
			return 0, err
		}
	}
	n := 0
	var errs []error
	var done []rotation.RetiredKey
	for _, r := range due {
		k, err := s.removeRetired(ctx, c, r, recorded)
		n += k
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, r)
	}
	if len(done) > 0 {
		_, err := s.UpdateConnector(ctx, id, func(cur *connector.Connector) bool {
			n := len(cur.Rotation.Retired)
			cur.Rotation.Retired = slices.DeleteFunc(slices.Clone(cur.Rotation.Retired), func(r rotation.RetiredKey) bool {
				return slices.ContainsFunc(done, func(d rotation.RetiredKey) bool { return sameRetired(d, r) })
			})
			return len(cur.Rotation.Retired) != n
		})
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

func sameRetired(a, b rotation.RetiredKey) bool {
	return a.KeyID == b.KeyID && a.Version == b.Version && a.Email == b.Email && (a.Lost == nil) == (b.Lost == nil) &&
		(a.Lost == nil || a.Lost.From.Equal(b.Lost.From))
}

// removeRetired deletes the key(s) of one due record r of c (a lost key searched for) and
// destroys its version; it reports how many keys it deleted.
func (s *Keeper) removeRetired(ctx context.Context, c *connector.Connector, r rotation.RetiredKey, recorded map[string]bool) (int, error) {
	ids := []string{}
	if r.Managed && r.KeyID != "" && r.KeyID != c.Rotation.KeyID && !pendingKey(c, r.KeyID) {
		ids = append(ids, r.KeyID)
	} else if r.KeyID != "" && !r.Managed {
		s.log().InfoContext(ctx, "rotation: a replaced key that gcpconn did not create is left in place", "connector_id", c.ID, "key_id", r.KeyID)
	}
	if len(ids) > 0 || r.Lost != nil {
		g, email, err := s.retiredGrant(ctx, c, r)
		if err != nil {
			return 0, fmt.Errorf("delete retired key %s: %w", r.KeyID, err)
		}
		if r.Lost != nil {
			if ids, err = s.lostKeys(ctx, g, email, *r.Lost, recorded); err != nil {
				return 0, err
			}
		}
		for i, id := range ids {
			if err := s.Keys.DeleteKey(ctx, g, email, id); err != nil {
				return i, fmt.Errorf("delete key %s of %s: %w", id, email, err)
			}
			s.log().InfoContext(ctx, "rotation: deleted a key gcpconn created", "connector_id", c.ID, "key_id", id, "account", email)
		}
	}
	if r.Version != "" && r.Version != c.SecretVersion && (c.Rotation.Pending == nil || c.Rotation.Pending.Version != r.Version) {
		if err := s.Secrets.DestroyVersion(ctx, c.ID, r.Version); err != nil {
			return len(ids), err
		}
	}
	return len(ids), nil
}

func pendingKey(c *connector.Connector, id string) bool {
	return c.Rotation.Pending != nil && c.Rotation.Pending.KeyID == id
}

// sourceGrant returns the grant that manages c's service-account keys (FreshGrant) and the
// account they belong to.
func (s *Keeper) sourceGrant(ctx context.Context, c *connector.Connector) (connector.Grant, string, error) {
	g, err := s.FreshGrant(ctx, c)
	if err != nil {
		return connector.Grant{}, "", err
	}
	key, err := g.Secrets.ServiceAccountKey()
	if err != nil {
		return connector.Grant{}, "", err
	}
	return g, key.ClientEmail, nil
}

// retiredGrant returns the grant that may delete the keys of record r of c and the account
// they belong to: the pinned credentials when they are of r's account, otherwise the
// credentials r's own version holds (the account's key that manages its own keys).
func (s *Keeper) retiredGrant(ctx context.Context, c *connector.Connector, r rotation.RetiredKey) (connector.Grant, string, error) {
	g, email, gerr := s.sourceGrant(ctx, c)
	if gerr == nil && (r.Email == "" || r.Email == email) {
		return g, email, nil
	}
	if r.Version != "" {
		sec, err := s.Secrets.Access(ctx, c.ID, r.Version)
		if err == nil {
			if key, err := sec.ServiceAccountKey(); err == nil && (r.Email == "" || key.ClientEmail == r.Email) {
				return connector.Grant{Connector: c, Secrets: sec}, key.ClientEmail, nil
			}
		}
	}
	if r.Email == "" {
		return connector.Grant{}, "", cmpErr(gerr, connector.Errorf(connector.ErrFailedPrecondition, "the account of the key is unknown"))
	}
	// Only a rotation identity of the service can act on another account without its key.
	return connector.Grant{Connector: c, Secrets: g.Secrets}, r.Email, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// lostKeys finds the key a failed rotation created without learning its id: a key of the
// account not in l.KnownKeys, created within [l.From, l.To], that no connector records.
func (s *Keeper) lostKeys(ctx context.Context, g connector.Grant, email string, l rotation.LostKey, recorded map[string]bool) ([]string, error) {
	keys, err := s.Keys.ListKeys(ctx, g, email)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range keys {
		if slices.Contains(l.KnownKeys, k.ID) || recorded[k.ID] || k.Created.Before(l.From) || k.Created.After(l.To) {
			continue
		}
		ids = append(ids, k.ID)
	}
	return ids, nil
}

// recordedKeys returns the ids of every key a connector records (pinned, in flight or
// retired) or a deleted connector's cleanup record names: a lost-key search never takes one
// of them.
func (s *Keeper) recordedKeys(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	token := ""
	for {
		cs, next, err := s.Store.List(ctx, connector.Filter{}, connector.Page{Size: connector.MaxPageSize, Token: token})
		if err != nil {
			return nil, fmt.Errorf("list connectors: %w", err)
		}
		for _, c := range cs {
			out[c.Rotation.KeyID] = true
			if p := c.Rotation.Pending; p != nil {
				out[p.KeyID] = true
			}
			for _, r := range c.Rotation.Retired {
				out[r.KeyID] = true
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	recs, err := s.Store.ListCleanups(ctx) // and the keys deleted connectors left for sweep
	if err != nil {
		return nil, fmt.Errorf("list key cleanups: %w", err)
	}
	for _, rec := range recs {
		for _, r := range rec.Keys {
			out[r.KeyID] = true
		}
	}
	delete(out, "")
	return out, nil
}

func keyLimitProblem(email string) string {
	return fmt.Sprintf("Google refused a new key for %s: a service account has at most %d keys and it has them all; delete keys it no longer needs (gcpconn deletes only keys it created)", email, MaxKeysPerAccount)
}

// createKeyProblem says why Google refused a new key, in the caller's terms.
func createKeyProblem(email string, err error) string {
	if errors.Is(err, ErrKeyLimit) {
		return keyLimitProblem(email)
	}
	if !connector.Definite(err) {
		return fmt.Sprintf("Google did not create a new key for %s: %s", email, connector.MessageOf(err))
	}
	return fmt.Sprintf("Google refused a new key for %s: %s", email, connector.MessageOf(err))
}
