package connector

import (
	"context"
	"errors"
)

// What the background work (shared/upkeep: sweep, key rotation, refresh) needs of the core,
// beyond its use cases: conditioned writes of a connector, the credentials it holds (and,
// for a key rotation, whether it holds a key gcpconn can rotate), and how an error decides a
// retry.

// UpdateConnector applies mutate to the stored connector id and writes its configuration
// back (Store.Update) if mutate reports a change, retrying on fresh data when a concurrent
// write wins; the change drops the connector from this instance's cache. It returns whether
// a change was stored; a connector that is gone is (false, nil).
func (s *Service) UpdateConnector(ctx context.Context, id string, mutate func(c *Connector) bool) (bool, error) {
	return s.updateConnector(ctx, id, mutate)
}

// UpdateStatus is UpdateConnector for a change of the connector's Status only, written with
// Store.SetStatus (it does not change the revision, so a user's update never conflicts).
func (s *Service) UpdateStatus(ctx context.Context, id string, mutate func(c *Connector) bool) (bool, error) {
	return s.updateStatus(ctx, id, mutate)
}

// FreshGrant loads the secret values c pins, read from the secret store's backend (never a
// cache), for what decides a state. A disabled or destroyed pinned version is
// ErrFailedPrecondition.
func (s *Service) FreshGrant(ctx context.Context, c *Connector) (Grant, error) {
	return s.grant(ctx, c, readFresh)
}

// Administered returns connector ref (a name or an id) if p may administer it, as Update
// and Delete require: its owner or an admin.
func (s *Service) Administered(ctx context.Context, p Principal, ref string) (*Connector, error) {
	return s.lookup(ctx, p, ref, actionAdmin)
}

// RotationSource returns the grant whose service-account key a rotation of c replaces, read
// fresh (as FreshGrant), and the account the key belongs to. It is ErrFailedPrecondition
// when c is disabled or holds no key gcpconn can rotate (see canRotate).
func (s *Service) RotationSource(ctx context.Context, c *Connector) (Grant, string, error) {
	if err := c.enabled(); err != nil {
		return Grant{}, "", err
	}
	g, err := s.grant(ctx, c, readFresh)
	if err != nil {
		return Grant{}, "", err
	}
	if err := canRotate(c.AuthMethod, g.Secrets.ServiceAccountJSON != ""); err != nil {
		return Grant{}, "", Errorf(ErrFailedPrecondition, "connector %q cannot rotate its key: %s", c.Name, err)
	}
	key, err := g.Secrets.ServiceAccountKey()
	if err != nil {
		return Grant{}, "", err
	}
	return g, key.ClientEmail, nil
}

// Retryable returns err if trying again could help (Google or a store unavailable, a lost
// write race, ctx done), else nil.
func Retryable(err error) error {
	switch KindOf(err) {
	case ErrUpstreamUnavailable, ErrConflict, ErrInternal:
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Definite reports whether err is an answer that trying again would not change (a refusal,
// not an outage).
func Definite(err error) bool { return definite(err) }
