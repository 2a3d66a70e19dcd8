package connector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/gcpconn/gcpconn/shared/internal/deadline"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// The write order of the registry. A connector lives in two stores: its metadata in Store,
// its secret values in SecretStore, pinned by Connector.SecretVersion. No store spans both,
// so every use case orders its writes so that a failure (or a crash) between them can leave
// at most an unreferenced secret or version behind, never a connector that points at a
// missing secret:
//
//   - Register writes the secret version first, then creates the connector that pins it. If
//     the create fails for certain (the name is taken, the request is invalid), the secret is
//     deleted at once; if the outcome is unknown (the store was unreachable), the connector is
//     read back, and a secret without a connector is left for sweep as an orphan.
//   - Update writes a new secret version first, then updates the connector to pin it (checked
//     against the revision it read), and only then destroys the old version. If the update
//     fails, the new version is destroyed, unless the connector turns out to pin it after all.
//   - Delete deletes the connector first, then its secret. A secret left behind is an orphan.
//
// Sweep (shared/upkeep) deletes the secrets that no connector owns (orphans). A registration in
// flight owns a secret for a moment before its connector exists, so only secrets older than
// OrphanGrace count, and Register abandons a create that has not finished within
// createBudget of its secret write, well inside that grace.

// OrphanGrace is how old a secret without a connector must be before sweep deletes it.
const OrphanGrace = 15 * time.Minute

// createBudget bounds the metadata write of a registration, counted from its secret write:
// after that the create is abandoned, so a secret older than OrphanGrace without a connector
// can no longer gain one.
const createBudget = OrphanGrace / 3

// cleanupTimeout bounds a best-effort cleanup write, which runs even when the caller's
// context is cancelled, when that context has no deadline (sweep, refresh). A request's
// cleanup is bounded by the request's deadline instead: it never makes the answer late.
const cleanupTimeout = 30 * time.Second

// Register validates and stores a new connector owned by p, after verifying it unless
// r.Verify is false. It returns the stored connector and, when verified, what it reaches.
// A taken name is ErrAlreadyExists; a connector that fails verification is ErrInvalid with
// Google's reason, and the returned Resources say what failed.
func (s *Service) Register(ctx context.Context, p Principal, r RegisterRequest) (*Connector, *Resources, error) {
	if err := authenticated(p); err != nil {
		return nil, nil, err
	}
	c, sec, err := NewConnector(r, s.Policy, s.now())
	if err != nil {
		return nil, nil, err
	}
	if err := s.rotationSupported(c.Rotation.Period); err != nil {
		return nil, nil, err
	}
	// Refuse a taken name before any write. Only Store.Create decides, also under races.
	if _, err := s.Store.GetByName(ctx, c.Name); err == nil {
		return nil, nil, nameTaken(c.Name)
	} else if KindOf(err) != ErrNotFound {
		return nil, nil, fmt.Errorf("register connector %q: %w", c.Name, err)
	}
	var res *Resources
	if r.Verify == nil || *r.Verify {
		vctx := withSubjectToken(ctx, r.SubjectToken)
		if res, err = s.verifyBeforeWrite(vctx, Grant{Connector: c, Secrets: sec}); err != nil {
			return nil, res, err
		}
		c.Status = statusOf(res, s.now())
		c.ResourceID = resolvedID(c, res)
	}
	c.ID = s.newID()
	c.Owner = p.String()
	if err := s.create(ctx, c, sec); err != nil {
		return nil, nil, err
	}
	s.forgetConnector(c.ID, c.Name) // the name may be cached as not found
	s.log().InfoContext(ctx, "connector registered", "connector_id", c.ID, "connector", c.Name,
		"auth_method", string(c.AuthMethod), "principal", p.String(), "issuer", p.IssuerName())
	return c, res, nil
}

func nameTaken(name string) error {
	return &Error{Kind: ErrAlreadyExists, Field: "name", Message: fmt.Sprintf("a connector named %q already exists", name)}
}

// verifyBeforeWrite verifies a connector about to be stored: Google refusing its credentials
// is ErrInvalid, since the caller supplied them.
func (s *Service) verifyBeforeWrite(ctx context.Context, g Grant) (*Resources, error) {
	if needsCallerToken(g) && SubjectTokenFrom(ctx) == "" {
		return nil, FieldErrorf("subject_token", "connector %q authenticates with a subject token that callers send: send one in subject_token to verify it, or set verify to false", g.Connector.Name)
	}
	res, err := s.verify(ctx, g, "", "", true)
	if err != nil {
		return nil, err
	}
	if res.Error != "" {
		return res, &Error{Kind: ErrInvalid,
			Message: fmt.Sprintf("connector %q failed verification: %s (set verify to false to store it anyway)", g.Connector.Name, res.Error)}
	}
	return res, nil
}

// resolvedID is the resource id a single-instance connector c stores after verification
// res: the one canonical id verification resolved c.ResourceID to (a bare cluster name
// becomes location/name), or c.ResourceID as it is when verification did not resolve it to
// exactly one resource.
func resolvedID(c *Connector, res *Resources) string {
	if c.ResourceID == "" || res == nil || len(c.ResourceTypes) != 1 {
		return c.ResourceID
	}
	for _, r := range res.Results {
		if r.ResourceType == c.ResourceTypes[0] && r.Error == "" && len(r.ResourceIDs) == 1 {
			return r.ResourceIDs[0]
		}
	}
	return c.ResourceID
}

// create writes sec, then c pinning it (see the write order above).
func (s *Service) create(ctx context.Context, c *Connector, sec Secrets) error {
	if !sec.IsZero() {
		v, err := s.Secrets.AddVersion(ctx, c.ID, sec)
		if err != nil {
			// The secret may exist without (or even with) the version: no connector can
			// point at it yet, so remove it.
			s.dropSecret(ctx, c.ID, "its secret write failed")
			return fmt.Errorf("register connector %q: store its secrets: %w", c.Name, err)
		}
		c.SecretVersion = v
		if c.Rotation.Period != 0 {
			if err := s.schedule(ctx, c); err != nil {
				s.dropSecret(ctx, c.ID, "its rotation schedule could not be set")
				return err
			}
		}
	}
	cctx, cancel := deadline.WriteContext(ctx, createBudget)
	err := s.Store.Create(cctx, c)
	cancel()
	if err == nil || c.SecretVersion == "" {
		return err
	}
	if definite(err) {
		s.dropSecret(ctx, c.ID, "its connector was not created")
		return err
	}
	// The outcome is unknown: the connector may have been created after all.
	rctx, cancel := cleanupContext(ctx)
	got, gerr := s.Store.Get(rctx, c.ID)
	cancel()
	if gerr == nil && got.SecretVersion == c.SecretVersion {
		*c = *got
		return nil
	}
	s.log().WarnContext(ctx, "connector create failed with an unknown outcome; its secret is left for sweep",
		"connector_id", c.ID, "connector", c.Name, "secret_version", c.SecretVersion, "error", MessageOf(err))
	return err
}

// definite reports whether a failed store write certainly changed nothing: the store
// refused it. Unavailable backends, internal errors and timeouts leave the outcome unknown.
func definite(err error) bool {
	switch KindOf(err) {
	case ErrInvalid, ErrAlreadyExists, ErrConflict, ErrNotFound, ErrFailedPrecondition, ErrPermission, ErrUnauthenticated:
		return true
	}
	return false
}

// cleanupContext returns a context for a cleanup write that must run even when the caller
// cancels ctx: it ends at ctx's deadline (a request's answer is never late for a cleanup;
// what it cannot finish is left for sweep), or after cleanupTimeout when ctx has none.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(ctx), d)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// dropSecret deletes a connector's secret, best effort: a failure leaves an orphan for sweep.
func (s *Service) dropSecret(ctx context.Context, id, why string) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := s.Secrets.Delete(cctx, id); err != nil {
		s.log().WarnContext(ctx, "could not delete the secret of a connector; it is left for sweep",
			"connector_id", id, "reason", why, "error", MessageOf(err))
	}
}

// dropVersion destroys one secret version, best effort: a failure leaves an unpinned
// version behind, which nothing reads and sweep destroys once it is past VersionGrace.
func (s *Service) dropVersion(ctx context.Context, id, version, why string) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := s.Secrets.DestroyVersion(cctx, id, version); err != nil {
		s.log().WarnContext(ctx, "could not destroy a secret version of a connector; it is left for sweep",
			"connector_id", id, "secret_version", version, "reason", why, "error", MessageOf(err))
	}
}

// Update changes the connector ref as u says; only its owner and admins may. A new
// configuration replaces the secrets as a new secret version and is verified unless
// u.Verify is false. A concurrent update of the same connector is ErrConflict.
func (s *Service) Update(ctx context.Context, p Principal, ref string, u UpdateRequest) (*Connector, error) {
	old, err := s.lookup(ctx, p, ref, actionAdmin)
	if err != nil {
		return nil, err
	}
	// applyUpdate keeps stored secret fields that a new configuration leaves out, so it needs
	// the stored values. A disabled or destroyed pinned version is no obstacle to replacing
	// the configuration (that is how such a connector is repaired); anything else is.
	var oldSec Secrets
	var oldSecErr error
	if old.SecretVersion != "" {
		g, err := s.grant(ctx, old, readFresh)
		if err != nil && KindOf(err) != ErrFailedPrecondition {
			return nil, err
		}
		oldSec, oldSecErr = g.Secrets, err
	}
	next, sec, changed, err := applyUpdate(old, oldSec, u, s.Policy, s.now())
	if err != nil {
		return nil, err
	}
	if changed && oldSecErr != nil && u.Configuration == nil {
		return nil, oldSecErr // would re-store secrets that could not be read
	}
	verified := (u.Verify == nil && u.Configuration != nil) || (u.Verify != nil && *u.Verify)
	var st Status
	if verified {
		res, err := s.verifyBeforeWrite(withSubjectToken(ctx, u.SubjectToken), Grant{Connector: next, Secrets: sec})
		if err != nil {
			return nil, err
		}
		st = statusOf(res, s.now())
		next.ResourceID = resolvedID(next, res)
	}
	newVersion := ""
	if changed {
		next.SecretVersion = ""
		if !sec.IsZero() {
			if old, err = s.markCleanup(ctx, old); err != nil {
				return nil, err
			}
			next.CleanupAfter = old.CleanupAfter
			if newVersion, err = s.Secrets.AddVersion(ctx, old.ID, sec); err != nil {
				return nil, fmt.Errorf("update connector %q: store its secrets: %w", old.Name, err)
			}
			next.SecretVersion = newVersion
		}
	}
	next.ID, next.Revision = old.ID, old.Revision
	if err := s.rescheduleOnUpdate(ctx, old, next); err != nil {
		if newVersion != "" {
			s.dropVersion(ctx, old.ID, newVersion, "its update failed")
		}
		return nil, err
	}
	// Bounded from the secret write, as a registration's create is: a version older than
	// VersionGrace can no longer be pinned, so sweep may destroy it. Sweep and refresh write
	// only the status, which does not change the revision this write is conditioned on.
	wctx, cancel := deadline.WriteContext(ctx, createBudget)
	err = s.Store.Update(wctx, next)
	cancel()
	if err != nil && !s.updateLanded(ctx, old, next, newVersion, err) {
		return nil, err
	}
	s.forgetConnector(old.ID, old.Name, next.Name)
	if changed && old.SecretVersion != "" && old.SecretVersion != next.SecretVersion && !retiredVersion(next, old.SecretVersion) {
		s.dropVersion(ctx, old.ID, old.SecretVersion, "replaced by an update")
	}
	s.log().InfoContext(ctx, "connector updated", "connector_id", old.ID, "connector", next.Name,
		"principal", p.String(), "issuer", p.IssuerName(), "secrets_changed", changed)
	if verified {
		if err := s.updatedStatus(ctx, next, st); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// retiredVersion reports whether version is kept for a retired key of c (whose key sweep
// deletes with it).
func retiredVersion(c *Connector, version string) bool {
	return slices.ContainsFunc(c.Rotation.Retired, func(r rotation.RetiredKey) bool { return r.Version == version })
}

// updatedStatus records st, the verification of the update that stored next, as next's
// status (and sets it on next), unless another update changed the connector meanwhile (its
// revision is no longer the one our update wrote).
func (s *Service) updatedStatus(ctx context.Context, next *Connector, st Status) error {
	stored, err := s.updateStatus(ctx, next.ID, func(cur *Connector) bool {
		if cur.Revision != next.Revision {
			return false
		}
		cur.Status = st.Keeping(cur.Status)
		return true
	})
	if err != nil {
		return fmt.Errorf("update connector %q: stored, but not its verification result (update it again to record it): %w", next.Name, err)
	}
	if stored {
		next.Status = st
	}
	return nil
}

// updateLanded decides what a failed Store.Update left behind. It reports true when the
// update was applied after all (next then holds the stored connector); otherwise it destroys
// newVersion unless a write still in flight could pin it.
// markCleanup records on the stored connector old, before a new version of its secret is
// added, that sweep should look at its secret's versions (Connector.CleanupAfter): the update
// may fail, or stop, once the version exists. The write is conditioned on the revision old
// was read at, as the update's own is (a conflict fails the update as that write would); it
// returns old as stored now, whose revision the update's write is conditioned on.
func (s *Service) markCleanup(ctx context.Context, old *Connector) (*Connector, error) {
	mark := old.Clone()
	mark.CleanupAfter = s.now()
	if err := s.Store.Update(ctx, mark); err != nil {
		return nil, fmt.Errorf("update connector %q: record its secret versions for cleanup: %w", old.Name, err)
	}
	s.forgetConnector(old.ID, old.Name)
	return mark, nil
}

func (s *Service) updateLanded(ctx context.Context, old, next *Connector, newVersion string, err error) bool {
	if definite(err) {
		if newVersion != "" {
			s.dropVersion(ctx, old.ID, newVersion, "its update failed")
		}
		return false
	}
	if newVersion == "" {
		return false // nothing to clean up, and no way to tell our write from another
	}
	rctx, cancel := cleanupContext(ctx)
	got, gerr := s.Store.Get(rctx, old.ID)
	cancel()
	switch {
	case gerr == nil && got.SecretVersion == newVersion:
		*next = *got // only our update pins the version we just added
		return true
	case KindOf(gerr) == ErrNotFound || (gerr == nil && got.Revision != old.Revision):
		// Gone, or another write won: nothing can pin newVersion any more.
		s.dropVersion(ctx, old.ID, newVersion, "its update failed")
	default:
		s.log().WarnContext(ctx, "connector update failed with an unknown outcome; its new secret version is left for sweep",
			"connector_id", old.ID, "secret_version", newVersion, "error", MessageOf(err))
	}
	return false
}

// Delete removes the connector ref and its secret; only its owner and admins may. Keys
// gcpconn created for it are deleted by sweep after their grace (KeyCleanup records), and the
// secret with them.
func (s *Service) Delete(ctx context.Context, p Principal, ref string) error {
	c, err := s.lookup(ctx, p, ref, actionAdmin)
	if err != nil {
		return err
	}
	// Keys gcpconn created for it are recorded first: sweep deletes them after their grace,
	// with the credentials in the connector's secret, which stays until then.
	cleanup, err := s.recordCleanup(ctx, c)
	if err != nil {
		return err
	}
	if err := s.Store.Delete(ctx, c.ID); err != nil {
		if KindOf(err) == ErrNotFound {
			return Errorf(ErrNotFound, "connector %q not found", ref)
		}
		return fmt.Errorf("delete connector %q: %w", c.Name, err)
	}
	s.forgetConnector(c.ID, c.Name)
	if !cleanup {
		s.dropSecret(ctx, c.ID, "its connector was deleted")
	}
	s.log().InfoContext(ctx, "connector deleted", "connector_id", c.ID, "connector", c.Name, "principal", p.String(), "issuer", p.IssuerName())
	return nil
}

// Get returns the connector ref (a name or an id) if p may read it; otherwise ErrNotFound.
// It reads the store, not the connector cache: describe is not the hot path, and in a
// deployment the function that changed a connector is rarely the one that describes it.
func (s *Service) Get(ctx context.Context, p Principal, ref string) (*Connector, error) {
	return s.lookup(ctx, p, ref, actionRead)
}

// List returns one page of the connectors that match f and that p may read, ordered by
// name. An empty next token means the last page; a page may come back short (or, rarely,
// empty) when the caller may not read every connector.
func (s *Service) List(ctx context.Context, p Principal, f Filter, pg Page) ([]*Connector, string, error) {
	if err := authenticated(p); err != nil {
		return nil, "", err
	}
	if s.isAdmin(p) {
		return s.Store.List(ctx, f, pg)
	}
	want := pg.Size
	switch {
	case want <= 0:
		want = DefaultPageSize
	case want > MaxPageSize:
		want = MaxPageSize
	}
	var out []*Connector
	tok := pg.Token
	for {
		// Asking for no more than the page still needs keeps the store's token exact: every
		// connector it returns is either on this page or unreadable by p.
		cs, next, err := s.Store.List(ctx, f, Page{Size: want - len(out), Token: tok})
		if err != nil {
			return nil, "", err
		}
		for _, c := range cs {
			if s.may(p, c, actionRead) {
				out = append(out, c)
			}
		}
		if next == "" || len(out) == want {
			return out, next, nil
		}
		tok = next
	}
}

// newID returns a fresh connector id.
func (s *Service) newID() string {
	if s.NewID != nil {
		return s.NewID()
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
