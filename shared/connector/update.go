package connector

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// applyUpdate applies u to c and validates the result like a registration. c is not
// modified; next is a copy that keeps c's identity (ID, Owner, timestamps, Revision,
// SecretVersion, Status). sec holds the secret values of next and secretsChanged reports
// whether they differ from old, the stored ones.
//
// A nil field of u keeps the stored value. A non-nil Configuration replaces the configuration:
// with the auth method unchanged, a secret field it leaves out keeps its stored value and a
// secret field set to null is removed (keyless impersonation); with a new auth method it must
// be complete. Changing the resource types of a connector that has a resource id needs a
// resource id too ("" to serve every resource of the new type). A new oauth2 token needs a new
// expires_at. Changing the auth method drops expires_at and expiration_seconds unless u sets
// them.
func applyUpdate(c *Connector, old Secrets, u UpdateRequest, pol Policy, now time.Time) (next *Connector, sec Secrets, secretsChanged bool, err error) {
	if c == nil {
		return nil, Secrets{}, false, Errorf(ErrInternal, "connector: applyUpdate of a nil connector")
	}
	req, err := updatedResources(c, u)
	if err != nil {
		return nil, Secrets{}, false, err
	}
	methodChanged, err := updatedConfiguration(&req, c, old, u)
	if err != nil {
		return nil, Secrets{}, false, err
	}
	checkExpiry := updatedExpiry(&req, c, u, methodChanged)
	req.RotationPeriod = *cmp.Or(u.RotationPeriod, &c.Rotation.Period)
	next, sec, err = build(req, pol, now, checkExpiry)
	if err != nil {
		return nil, Secrets{}, false, err
	}
	next.Rotation = updatedRotation(c.Rotation, next.Rotation, sec.ServiceAccountJSON != old.ServiceAccountJSON, retiring(c, old, now))
	if next.AuthMethod == configschema.OAuth2Token && sec.Token != old.Token && u.ExpiresAt == nil {
		return nil, Secrets{}, false, FieldErrorf("expires_at",
			"a new oauth2 token needs its expires_at: the stored expiry belongs to the old token")
	}
	next.ID, next.Owner, next.CreatedAt, next.UpdatedAt = c.ID, c.Owner, c.CreatedAt, c.UpdatedAt
	next.Revision, next.SecretVersion, next.Status = c.Revision, c.SecretVersion, c.Status
	return next, sec, sec != old, nil
}

// updatedResources starts the registration request that an update u of c amounts to: c's
// name, description, labels, users, type, auth method and resources, with u's changes to them.
func updatedResources(c *Connector, u UpdateRequest) (RegisterRequest, error) {
	req := RegisterRequest{
		Name:          *cmp.Or(u.Name, &c.Name),
		Type:          c.Type,
		AuthMethod:    c.AuthMethod,
		ResourceTypes: slices.Clone(c.ResourceTypes),
		ResourceID:    c.ResourceID,
		Labels:        c.Labels,
		Description:   c.Description,
		Users:         c.Users,
	}
	if len(c.ResourceTypes) == 1 && !supportsInstances(c.ResourceTypes[0]) {
		req.ResourceID = "" // the project, which the update may change
	}
	if u.Description != nil {
		req.Description = *u.Description
	}
	if u.Labels != nil {
		req.Labels = u.Labels
	}
	if u.Users != nil {
		req.Users = u.Users
	}
	if u.ResourceType != nil || u.ResourceTypes != nil {
		req.ResourceType, req.ResourceTypes = "", u.ResourceTypes
		if u.ResourceType != nil {
			req.ResourceType = *u.ResourceType
		}
		if u.ResourceID == nil && req.ResourceID != "" && !slices.Equal(wantedTypes(req.ResourceType, req.ResourceTypes), c.ResourceTypes) {
			return req, FieldErrorf("resource_id",
				"the resource types change from %s to %s: give resource_id too (\"\" to serve every resource of the new types)",
				joinTypes(c.ResourceTypes), joinTypes(wantedTypes(req.ResourceType, req.ResourceTypes)))
		}
	}
	if u.ResourceID != nil {
		req.ResourceID = *u.ResourceID
	}
	return req, nil
}

// updatedConfiguration sets the auth method and configuration of req, the registration an
// update u of c amounts to (old holds c's secrets), and reports whether the method changes.
func updatedConfiguration(req *RegisterRequest, c *Connector, old Secrets, u UpdateRequest) (methodChanged bool, err error) {
	methodChanged = u.AuthMethod != nil && *u.AuthMethod != c.AuthMethod
	if methodChanged {
		req.AuthMethod = *u.AuthMethod
		if u.Configuration == nil {
			return true, FieldErrorf("configuration",
				"changing auth_method from %s to %s needs the new method's configuration", c.AuthMethod, *u.AuthMethod)
		}
	}
	if u.Configuration == nil {
		req.Configuration = configMap(c, old)
		return methodChanged, nil
	}
	m := maps.Clone(u.Configuration)
	if r := configschema.Lookup(req.AuthMethod); r != nil && !methodChanged {
		stored := old.Fields()
		for _, name := range r.SecretFields() {
			if v, ok := m[name]; !ok && stored[name] != "" {
				m[name] = stored[name]
			} else if ok && v == nil {
				delete(m, name)
			}
		}
	}
	req.Configuration = m
	return methodChanged, nil
}

// updatedExpiry sets expires_at and expiration_seconds of req, the registration an update u
// of c amounts to, and reports whether expires_at is to be checked (u sets it).
func updatedExpiry(req *RegisterRequest, c *Connector, u UpdateRequest, methodChanged bool) (checkExpiry bool) {
	switch {
	case u.ExpiresAt != nil:
		checkExpiry = true
		if !u.ExpiresAt.IsZero() {
			req.ExpiresAt = u.ExpiresAt
		}
	case !methodChanged && !c.ExpiresAt.IsZero():
		t := c.ExpiresAt
		req.ExpiresAt = &t
	}
	switch {
	case u.ExpirationSeconds != nil:
		req.ExpirationSeconds = u.ExpirationSeconds
	case !methodChanged && c.ExpirationSeconds != 0:
		n := c.ExpirationSeconds
		req.ExpirationSeconds = &n
	}
	return checkExpiry
}

// updatedRotation is the rotation state after an update: the stored one with the new period,
// and the new key's id when the update replaced the key (built holds both); a replaced key
// that gcpconn created is retired (old describes it), so that sweep deletes it after the grace.
func updatedRotation(stored, built rotation.State, newKey bool, old rotation.RetiredKey) rotation.State {
	r := stored.Clone()
	r.Period = built.Period
	if newKey || built.KeyID == "" && built.KeyCreatedAt.IsZero() {
		if stored.KeyManaged && stored.KeyID != "" && stored.KeyID != built.KeyID {
			r.Retired = append(r.Retired, old)
		}
		r.KeyID, r.KeyCreatedAt, r.KeyManaged, r.KeyTracked = built.KeyID, built.KeyCreatedAt, false, false
	}
	return r
}

// retiring is the retired record of c's pinned key (whose secrets are old) if an update
// replaces it at now: its secret version stays until sweep has deleted the key with it.
func retiring(c *Connector, old Secrets, now time.Time) rotation.RetiredKey {
	r := rotation.RetiredKey{KeyID: c.Rotation.KeyID, Version: c.SecretVersion, Managed: true, RetiredAt: now, DeleteAfter: now.Add(rotation.Grace)}
	if key, err := old.ServiceAccountKey(); err == nil {
		r.Email = key.ClientEmail
	}
	return r
}

// configMap renders a stored configuration and its secrets as a configuration map, so that an
// update without a new configuration is validated like one.
func configMap(c *Connector, s Secrets) map[string]any {
	m := c.Config.Fields()
	if c.Config.GenerateTemporaryTokens == nil {
		delete(m, configschema.FieldGenerateTemporaryTokens) // unset stays unset: oauth2-token has no such field
	}
	for k, v := range s.Fields() {
		m[k] = v
	}
	return m
}
