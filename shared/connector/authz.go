package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/internal/input"
)

// action is what a caller wants to do with a connector; authorization decides per action.
type action int

// The actions on a connector, from least to most privileged.
const (
	// actionRead describes a connector (never its secret values): get and list.
	actionRead action = iota + 1
	// actionUse verifies a connector and mints credentials from it.
	actionUse
	// actionAdmin updates or deletes a connector.
	actionAdmin
)

// verb says what a caller does with the action, for messages.
func (a action) verb() string {
	switch a {
	case actionRead:
		return "read"
	case actionUse:
		return "verify or mint from"
	case actionAdmin:
		return "update or delete"
	}
	return "act on"
}

// The authorization rules (README, Security by default), deny by default:
//   - an admin (Policy.Admins) may do everything with every connector;
//   - a connector's owner may read, use, update and delete it;
//   - its users may read and use it;
//   - anyone else may not even learn that it exists: lookups answer ErrNotFound, exactly as
//     for a missing connector, and listings leave it out;
//   - a user who asks to update or delete gets ErrPermission: they can see the connector, so
//     pretending it is missing would only mislead them.
//
// Principals (package principal) are emails, compared case-insensitively as Google's are, or
// NAME:SUBJECT of a trusted issuer, compared exactly; users and admins may also be
// NAME:PREFIX* globs. An owner matches exactly. A principal that is neither form is not
// authenticated.

// isAdmin reports whether p is one of the deployment's admins.
func (s *Service) isAdmin(p Principal) bool {
	return slices.ContainsFunc(s.Policy.Admins, p.Matches)
}

// may reports whether p may do need with c.
func (s *Service) may(p Principal, c *Connector, need action) bool {
	if !p.Valid() || c == nil {
		return false
	}
	if s.isAdmin(p) || p.Is(c.Owner) {
		return true
	}
	if need == actionRead || need == actionUse {
		return slices.ContainsFunc(c.Users, p.Matches)
	}
	return false
}

// authenticated returns ErrUnauthenticated for a principal that is neither an email nor a
// federated NAME:SUBJECT.
func authenticated(p Principal) error {
	if !p.Valid() {
		return Errorf(ErrUnauthenticated, "the caller is not authenticated")
	}
	return nil
}

// lookup finds the connector ref (an id or a name) in the store and checks that p may do
// need with it. A connector p may not see is reported exactly like a missing one
// (ErrNotFound), so callers cannot probe for names. Describe, update, delete and verify use
// it: what they decide on is read from the store itself.
func (s *Service) lookup(ctx context.Context, p Principal, ref string, need action) (*Connector, error) {
	return s.lookupIn(ctx, s.Store, p, ref, need)
}

// lookupCached is lookup for the path that may serve a connector up to one revocation
// window old (mint): through the connector cache.
func (s *Service) lookupCached(ctx context.Context, p Principal, ref string, need action) (*Connector, error) {
	return s.lookupIn(ctx, s.cached(), p, ref, need)
}

func (s *Service) lookupIn(ctx context.Context, r storeReader, p Principal, ref string, need action) (*Connector, error) {
	if err := authenticated(p); err != nil {
		return nil, err
	}
	if strings.TrimSpace(ref) == "" {
		return nil, FieldErrorf("connector", "name the connector by its name or id")
	}
	c, err := s.find(ctx, r, p, ref)
	if KindOf(err) == ErrNotFound || (err == nil && !s.may(p, c, actionRead)) {
		return nil, Errorf(ErrNotFound, "connector %q not found", ref)
	}
	if err != nil {
		return nil, err
	}
	if !s.may(p, c, need) {
		// The caller is a user of the connector and sees it, so hiding it would only confuse.
		return nil, Errorf(ErrPermission, "%s is a user of connector %q: users may verify it and mint from it, but only its owner and the deployment's admins may %s it",
			p, c.Name, need.verb())
	}
	return c, nil
}

// find reads the connector ref with one store read. Ids have a form no name may have (32
// lowercase hex digits, see validateName), so such a ref is read as an id and anything else
// as a name. Only a Service with its own NewID, whose ids may have other forms, tries a ref
// that no connector p may read is named by as an id too (a name then wins over an equal id,
// which the default ids make impossible).
func (s *Service) find(ctx context.Context, r storeReader, p Principal, ref string) (*Connector, error) {
	if isIDForm(ref) {
		return r.Get(ctx, ref)
	}
	c, err := r.GetByName(ctx, ref)
	if s.NewID != nil && (KindOf(err) == ErrNotFound || (err == nil && !s.may(p, c, actionRead))) {
		return r.Get(ctx, ref)
	}
	return c, err
}

// isIDForm reports whether ref has the form of the ids the Service assigns by default: 32
// lowercase hexadecimal digits, which validateName refuses as a name.
func isIDForm(ref string) bool {
	return len(ref) == 32 && input.All(ref, isHexLower)
}

// secretRead says where a grant's secret values may come from.
type secretRead bool

const (
	// readFresh reads the secret store's backend (SecretStore.AccessFresh), for what decides a state.
	readFresh secretRead = true
	// readCached may be served from the secret store's memory, for mints.
	readCached secretRead = false
)

// errSecretUnusable marks a grant that failed because the pinned version is disabled,
// destroyed or gone; sweep disables such a connector.
var errSecretUnusable = errors.New("the pinned secret version is unusable")

// grant loads the secret values pinned by c (the exact version, never "latest") and returns
// what adapters need to act as c. A disabled or destroyed pinned version is
// ErrFailedPrecondition.
func (s *Service) grant(ctx context.Context, c *Connector, how secretRead) (Grant, error) {
	if c.SecretVersion == "" {
		return Grant{Connector: c}, nil
	}
	sec, err := s.access(ctx, c.ID, c.SecretVersion, how)
	if err != nil {
		if KindOf(err) == ErrFailedPrecondition || KindOf(err) == ErrNotFound {
			return Grant{}, &Error{Kind: ErrFailedPrecondition, Err: fmt.Errorf("%w: %w", errSecretUnusable, err),
				Message: fmt.Sprintf("the credentials of connector %q were disabled or destroyed in the secret store: update the connector with new credentials", c.Name)}
		}
		return Grant{}, err
	}
	return Grant{Connector: c, Secrets: sec}, nil
}

// access reads one secret version, from the backend itself when how is readFresh.
func (s *Service) access(ctx context.Context, id, version string, how secretRead) (sec Secrets, err error) {
	ctx, span := startSpan(ctx, "secrets.access", "gcpconn.connector_id", id)
	defer func() { endSpan(span, err) }()
	if how == readFresh {
		return s.Secrets.AccessFresh(ctx, id, version)
	}
	return s.Secrets.Access(ctx, id, version)
}

// enabled refuses a disabled connector (a refresh saw its pinned secret version disabled,
// destroyed or deleted) with ErrFailedPrecondition: nothing is verified or minted from it
// until an update gives it new credentials.
func (c *Connector) enabled() error {
	if c.Status.State != StateDisabled {
		return nil
	}
	return Errorf(ErrFailedPrecondition, "connector %q is disabled (%s): update it with new credentials",
		c.Name, strings.TrimSuffix(c.Status.Error, "."))
}

// usableGrant is grant for a connector that is about to be used (verified or minted from):
// it also refuses a configuration the policy no longer allows (Policy.checkImplicit), so
// connectors registered while implicit methods were enabled stop working when they are not.
func (s *Service) usableGrant(ctx context.Context, c *Connector, how secretRead) (Grant, error) {
	g, err := s.grant(ctx, c, how)
	if err != nil {
		return Grant{}, err
	}
	if err := s.Policy.checkImplicit(c, g.Secrets); err != nil {
		return Grant{}, err
	}
	return g, nil
}

// needsCallerToken reports whether g's tokens come from a subject token that callers supply:
// every external-account connector. Ambient credential sources (AWS, Azure) pass validation
// behind the implicit gate, but the service does not read its own cloud identity yet, so
// those connectors too work only with callers' subject tokens.
func needsCallerToken(g Grant) bool {
	return g.Connector != nil && g.Connector.AuthMethod == configschema.ExternalAccount
}
