package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// verifyTypeTimeout bounds the check of one resource type during verification. Types are
// checked concurrently; a type that has not answered by then is reported as timed out while
// the others keep their results.
const verifyTypeTimeout = 20 * time.Second

// verifyScopes are the scopes of the token that proves a connector can authenticate.
var verifyScopes = []string{resourcetype.ScopeCloudPlatform}

// verify finds out what the grant reaches: first whether it can authenticate at all (the
// global check), then, concurrently and each within verifyTypeTimeout, every resource type
// in scope. rt narrows the check to one type ("" = every type the connector serves); id,
// canonical, checks one resource instead of listing (only with a single type; a
// single-instance connector's own id is the default); list=false with no id runs only the
// global check.
//
// What Google refuses is reported inside Resources: Error for the global check (and for the
// only type of a single-type connector), ResourceResult.Error per type, with Google's text
// passed through. The returned error is for what verification could not decide: bad
// arguments, Google unavailable (or throttling, or too slow) during any check, a cancelled
// context: ErrUpstreamUnavailable is never reported as a failed check (ARCHITECTURE.md, production rules).
func (s *Service) verify(ctx context.Context, g Grant, rt ResourceType, id string, list bool) (*Resources, error) {
	c := g.Connector
	if c == nil {
		return nil, Errorf(ErrInternal, "verify: grant without a connector")
	}
	types := c.ResourceTypes
	if rt != "" {
		if !slices.Contains(c.ResourceTypes, rt) {
			return nil, &Error{Kind: ErrInvalid, Field: "resource_type",
				Message: fmt.Sprintf("connector %q does not serve resource type %q; it serves %s", c.Name, rt, quoteList(c.ResourceTypes))}
		}
		types = []ResourceType{rt}
	}
	if len(types) == 0 {
		return nil, Errorf(ErrInternal, "verify: connector %q serves no resource types", c.Name)
	}
	if id == "" && len(types) == 1 && c.ResourceID != "" {
		id = c.ResourceID
	}
	if id != "" && len(types) > 1 {
		return nil, &Error{Kind: ErrInvalid, Field: "resource_id",
			Message: fmt.Sprintf("connector %q serves several resource types; name one with resource_type to check resource id %q", c.Name, id)}
	}

	res := &Resources{Results: make([]ResourceResult, len(types))}
	for i, t := range types {
		res.Results[i].ResourceType = t
	}
	if !c.ExpiresAt.IsZero() && !s.now().Before(c.ExpiresAt) {
		res.Error = fmt.Sprintf("connector %q: its credentials expired at %s; update it with fresh credentials",
			c.Name, c.ExpiresAt.UTC().Format(time.RFC3339))
		return res, nil
	}

	// Global check: can the credentials authenticate at all?
	gctx, cancel := context.WithTimeout(ctx, verifyTypeTimeout)
	_, err := s.googleToken(gctx, g, TokenRequest{Scopes: verifyScopes, Lifetime: time.Hour, SubjectToken: SubjectTokenFrom(ctx)})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("verify connector %q: %w", c.Name, ctx.Err())
		}
		if k := KindOf(err); k == ErrUpstreamUnavailable || k == ErrInternal {
			return nil, err
		}
		res.Error = fmt.Sprintf("connector %q could not authenticate to Google Cloud: %s", c.Name, upstreamMessage(err))
		return res, nil
	}
	if !list && id == "" {
		return res, nil
	}

	if err := s.checkTypes(ctx, g, res.Results, id); err != nil {
		return nil, err // an outage is not a verdict: retrying can change it
	}
	if len(res.Results) == 1 && res.Results[0].Error != "" {
		res.Error = res.Results[0].Error
	}
	return res, nil
}

// checkTypes fills results (one per type) concurrently; each type gets verifyTypeTimeout.
// It returns ErrUpstreamUnavailable when any type could not be checked: Google unavailable or
// throttling, or no answer by the deadline (even if the adapter ignores its context: results
// never wait past the deadline).
func (s *Service) checkTypes(ctx context.Context, g Grant, results []ResourceResult, id string) error {
	tctx, cancel := context.WithTimeout(ctx, verifyTypeTimeout)
	defer cancel()
	type answer struct {
		i   int
		r   ResourceResult
		err error
	}
	answers := make(chan answer, len(results)) // buffered: late answers never block
	for i := range results {
		rt := results[i].ResourceType
		go func() {
			r, err := s.checkType(tctx, g, rt, id)
			answers <- answer{i, r, err}
		}()
	}
	var unavailable error
	for range results {
		select {
		case a := <-answers:
			results[a.i] = a.r
			if unavailable == nil {
				unavailable = a.err
			}
		case <-tctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("verify connector %q: %w", g.Connector.Name, ctx.Err())
			}
			return &Error{Kind: ErrUpstreamUnavailable, Err: tctx.Err(),
				Message: fmt.Sprintf("connector %q: Google did not answer the check within %s; try again", g.Connector.Name, verifyTypeTimeout)}
		}
	}
	return unavailable
}

// checkType lists (id == "") or checks one resource of type rt. The error is for a check
// that could not be made (ErrUpstreamUnavailable: Google unavailable, throttling or too
// slow); what Google refused is in the result.
func (s *Service) checkType(ctx context.Context, g Grant, rt ResourceType, id string) (ResourceResult, error) {
	r := ResourceResult{ResourceType: rt}
	name := g.Connector.Name
	info, _ := resourcetype.Of(rt)
	ids, err := s.googleList(ctx, g, rt, id)
	switch {
	case err != nil && (KindOf(err) == ErrUpstreamUnavailable || ctx.Err() != nil):
		return r, &Error{Kind: ErrUpstreamUnavailable, RetryAfter: retryAfterOf(err), Err: err,
			Message: fmt.Sprintf("connector %q: %s could not be checked: %s", name, info.Noun, upstreamMessage(err))}
	case err != nil && id != "":
		r.Error = fmt.Sprintf("connector %q cannot access %s resource %q: %s", name, rt, id, upstreamMessage(err))
	case err != nil:
		r.Error = fmt.Sprintf("connector %q cannot list %s: %s", name, info.Noun, upstreamMessage(err))
	case len(ids) == 0 && id != "":
		r.Error = fmt.Sprintf("connector %q cannot access %s resource %q: Google returned nothing", name, rt, id)
	case len(ids) == 0:
		r.Error = fmt.Sprintf("connector %q found no %s in project %q: there are none, or the credentials lack %s",
			name, info.Noun, g.Connector.Config.ProjectID, info.ListPermission)
	default:
		r.ResourceIDs = ids
	}
	if rt == resourceid.GCSBucket && id != "" && r.Error == "" {
		warning, err := s.bucketProject(ctx, g, id)
		if err != nil && (KindOf(err) == ErrUpstreamUnavailable || ctx.Err() != nil) {
			return ResourceResult{ResourceType: rt}, &Error{Kind: ErrUpstreamUnavailable, RetryAfter: retryAfterOf(err), Err: err,
				Message: fmt.Sprintf("connector %q: %s resource %q could not be checked: %s", name, rt, id, upstreamMessage(err))}
		}
		if err != nil {
			r.ResourceIDs = nil
			r.Error = fmt.Sprintf("connector %q cannot access %s resource %q: %s", name, rt, id, upstreamMessage(err))
		}
		r.Warning = warning
	}
	return r, nil
}

// retryAfterOf is the RetryAfter hint of err's first *Error, or zero.
func retryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// upstreamMessage is the caller-safe text of an error from the Google port: Google's own
// message for upstream kinds, a generic text for anything unexpected.
func upstreamMessage(err error) string {
	switch KindOf(err) {
	case ErrInternal:
		return "an unexpected error occurred (see the service logs)"
	default:
		return MessageOf(err)
	}
}

func quoteList[T ~string](xs []T) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", x)
	}
	return s
}

// Verify reports what a connector reaches: a stored one (r.Ref, which p must be allowed to
// use) or one not yet stored (r.Spec, validated like a registration; p must be
// authenticated). r.ResourceType narrows the check to one type and r.ResourceID (any
// accepted spelling) checks one resource; r.ListResources=false with no id only checks that
// the credentials authenticate. See verify for how outcomes are reported.
func (s *Service) Verify(ctx context.Context, p Principal, r VerifyRequest) (*Resources, error) {
	var g Grant
	switch {
	case r.Spec != nil && r.Ref != "":
		return nil, FieldErrorf("connector", "name a stored connector or give a spec, not both")
	case r.Spec != nil:
		if err := authenticated(p); err != nil {
			return nil, err
		}
		c, sec, err := NewConnector(*r.Spec, s.Policy, s.now())
		if err != nil {
			return nil, err
		}
		g = Grant{Connector: c, Secrets: sec}
	default:
		c, err := s.lookup(ctx, p, r.Ref, actionUse)
		if err != nil {
			return nil, err
		}
		if err := c.enabled(); err != nil {
			return nil, err
		}
		if g, err = s.usableGrant(ctx, c, readFresh); err != nil {
			return nil, err
		}
	}
	rt, id := r.ResourceType, r.ResourceID
	if id != "" { // verify checks a type given without an id
		var err error
		if rt, id, err = g.Connector.resolveResource(rt, id); err != nil {
			return nil, err
		}
	}
	list := r.ListResources == nil || *r.ListResources
	res, err := s.verify(withSubjectToken(ctx, r.SubjectToken), g, rt, id, list)
	if err == nil && r.Spec == nil && rt == "" && r.ResourceID == "" && list {
		s.recordStatus(ctx, g.Connector, statusOf(res, s.now()))
	}
	return res, err
}

// recordStatus stores st as the status of the stored connector c after a full verification
// (every type it serves), as sweep would, unless c was re-configured or disabled meanwhile.
// A failed write is logged: the caller has its answer, and sweep records the status later.
func (s *Service) recordStatus(ctx context.Context, c *Connector, st Status) {
	_, err := s.updateStatus(ctx, c.ID, func(cur *Connector) bool {
		if !sameCredentials(cur, c) || cur.Status.State == StateDisabled {
			return false
		}
		st.RotationDue = cur.Status.RotationDue
		st = st.Keeping(cur.Status)
		if cur.Status.Equal(st) {
			return false
		}
		cur.Status = st
		return true
	})
	if err != nil {
		s.log().WarnContext(ctx, "verify: status not recorded", "connector_id", c.ID, "error", err)
	}
}

// VerifyVersion checks that secret version of the stored connector c authenticates, as a
// refresh does before it pins a new version. The version is read from the secret store's
// backend, never a cache: a read that fails (a disabled or destroyed version is
// ErrFailedPrecondition) or a verification that a retry could change is returned as err;
// otherwise reason says why the version does not work, "" when it does.
func (s *Service) VerifyVersion(ctx context.Context, c *Connector, version string) (reason string, err error) {
	sec, err := s.access(ctx, c.ID, version, readFresh)
	if err != nil {
		return "", err
	}
	res, err := s.verify(ctx, Grant{Connector: c, Secrets: sec}, "", "", false)
	if err != nil {
		if Retryable(err) != nil {
			return "", err
		}
		return MessageOf(err), nil
	}
	return res.Error, nil
}
