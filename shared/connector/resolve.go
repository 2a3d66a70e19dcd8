package connector

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gcpconn/gcpconn/shared/internal/input"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

// resolveResource checks a runtime request (verify or mint) for resource type rt and resource
// id (any accepted spelling; "" for the default) against c's shape, and returns the type and
// the canonical id to use:
//
//   - rt may be "" only for a single-type connector; a multi-type connector needs it, also
//     when an id is given.
//   - rt must be one of c.ResourceTypes.
//   - gcp-generic has no instances: the id is the connector's project, and may be left out.
//   - a single-instance connector serves only its own resource id, which is the default; any
//     spelling of it is accepted (a bare GKE cluster name matches location/name).
//   - a multi-instance or multi-type connector needs an id for types with instances; it must
//     lie in the connector's project. A bare GKE cluster name is returned as is: minting
//     resolves it with MatchCluster.
//
// Errors are ErrInvalid for a malformed or incomplete request, and ErrPermission (with a
// message saying what the connector allows) for a well-formed request of a resource the
// connector does not give access to. Both name the field at fault (resource_type or
// resource_id).
func (c *Connector) resolveResource(rt ResourceType, id string) (ResourceType, string, error) {
	if rt == "" {
		if len(c.ResourceTypes) != 1 {
			if id != "" {
				return "", "", FieldErrorf("resource_type",
					"connector %q serves several resource types (%s), but only a resource id was given; give its resource_type too",
					c.Name, joinTypes(c.ResourceTypes))
			}
			return "", "", FieldErrorf("resource_type",
				"connector %q serves several resource types (%s); give resource_type to say which one", c.Name, joinTypes(c.ResourceTypes))
		}
		rt = c.ResourceTypes[0]
	} else {
		if _, ok := resourcetype.Of(rt); !ok {
			return "", "", FieldErrorf("resource_type", "unknown resource type %s; known types: %s", input.Quote(string(rt)), joinTypes(resourceid.Types))
		}
		if !slices.Contains(c.ResourceTypes, rt) {
			msg := fmt.Sprintf("connector %q gives access to %s resources only, but %s was requested", c.Name, joinTypes(c.ResourceTypes), rt)
			if len(c.ResourceTypes) == 1 {
				msg = fmt.Sprintf("connector %q is configured for %s resources only, but a %s resource was requested", c.Name, c.ResourceTypes[0], rt)
			}
			return "", "", &Error{Kind: ErrPermission, Field: "resource_type", Message: msg}
		}
	}
	project := c.Config.ProjectID
	info, _ := resourcetype.Of(rt)
	title := info.Name
	if !info.Instances {
		if id == "" {
			return rt, project, nil
		}
		r, err := resourceid.Parse(rt, id)
		if err != nil {
			return "", "", err
		}
		if r.String() != project {
			return "", "", &Error{Kind: ErrPermission, Field: "resource_id", Message: fmt.Sprintf(
				"connector %q gives access to its project %q only, but %s was requested", c.Name, project, input.Quote(id))}
		}
		return rt, project, nil
	}
	if c.ResourceID != "" {
		if id == "" {
			return rt, c.ResourceID, nil
		}
		canon, err := resourceid.Canonical(rt, id, project)
		if err != nil {
			return "", "", err
		}
		if !sameResource(rt, canon, c.ResourceID) {
			return "", "", &Error{Kind: ErrPermission, Field: "resource_id", Message: fmt.Sprintf(
				"connector %q gives access to a single %s, %q, but %s was requested", c.Name, title, c.ResourceID, input.Quote(id))}
		}
		return rt, c.ResourceID, nil
	}
	if id == "" {
		return "", "", FieldErrorf("resource_id",
			"connector %q serves any %s (%s) of project %q, so resource_id must name one; accepted formats: %s",
			c.Name, title, rt, project, strings.Join(resourceid.Formats(rt), " | "))
	}
	canon, err := resourceid.Canonical(rt, id, project)
	if err != nil {
		return "", "", err
	}
	return rt, canon, nil
}

// sameResource reports whether the canonical id got names the stored canonical id want. A
// bare GKE cluster name matches a stored location/name with that name.
func sameResource(rt ResourceType, got, want string) bool {
	if got == want {
		return true
	}
	if rt != resourceid.KubernetesCluster {
		return false
	}
	g, err1 := resourceid.Parse(rt, got)
	w, err2 := resourceid.Parse(rt, want)
	return err1 == nil && err2 == nil && g.Location == "" && g.Name == w.Name
}
