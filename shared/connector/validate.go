package connector

import (
	"maps"
	"slices"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/credjson"
	"github.com/gcpconn/gcpconn/shared/internal/input"
	"github.com/gcpconn/gcpconn/shared/principal"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Registration rules: see the package documentation, section Registration rules.

// Registration limits.
const (
	maxLabels         = 64   // labels per connector
	maxUsers          = 100  // users per connector
	maxDescriptionLen = 1024 // bytes
	// maxTokenExpiry is how far ahead an oauth2-token's expires_at may be: Google access
	// tokens live at most 12 hours.
	maxTokenExpiry = 12 * time.Hour
)

// NewConnector validates a registration request against the type spec and the deployment's
// policy, and returns the connector to store (without ID, Owner, timestamps, Revision and
// SecretVersion) and its secret values. now is the registration time, for expires_at. Errors
// are *Error values naming the request field at fault ("configuration.project_id"): ErrInvalid
// for a malformed or rule-breaking request, ErrFailedPrecondition for an implicit
// configuration the policy does not allow.
func NewConnector(req RegisterRequest, pol Policy, now time.Time) (*Connector, Secrets, error) {
	return build(req, pol, now, true)
}

// build validates req and assembles the connector. checkExpiry enables the "at least
// MinTokenRemaining ahead" rule for expires_at (off for updates that keep the stored expiry).
func build(req RegisterRequest, pol Policy, now time.Time, checkExpiry bool) (*Connector, Secrets, error) {
	if err := validateName(req.Name); err != nil {
		return nil, Secrets{}, err
	}
	if req.Type != "" && req.Type != TypeGCP {
		return nil, Secrets{}, FieldErrorf("type", "unknown connector type %s; gcpconn serves only %q", input.Quote(req.Type), TypeGCP)
	}
	if req.AuthMethod == "" {
		return nil, Secrets{}, FieldErrorf("auth_method", "auth_method is required; one of: %s", methodList())
	}
	r := configschema.Lookup(req.AuthMethod)
	if r == nil {
		return nil, Secrets{}, FieldErrorf("auth_method", "unknown auth method %s; one of: %s", input.Quote(string(req.AuthMethod)), methodList())
	}
	cfg, sec, parsed, err := parseConfiguration(r, req.Configuration)
	if err != nil {
		return nil, Secrets{}, err
	}
	if err := checkPolicy(pol, req.AuthMethod, sec, parsed.External); err != nil {
		return nil, Secrets{}, err
	}
	types, id, instances, err := connectorShape(req.ResourceType, req.ResourceTypes, req.ResourceID, cfg.ProjectID)
	if err != nil {
		return nil, Secrets{}, err
	}
	expires, err := checkExpiresAt(req.AuthMethod, req.ExpiresAt, now, checkExpiry)
	if err != nil {
		return nil, Secrets{}, err
	}
	expSeconds, err := checkExpirationSeconds(r, req.ExpirationSeconds)
	if err != nil {
		return nil, Secrets{}, err
	}
	labels, err := checkLabels(req.Labels)
	if err != nil {
		return nil, Secrets{}, err
	}
	users, err := checkUsers(req.Users, pol.Issuers)
	if err != nil {
		return nil, Secrets{}, err
	}
	if err := checkDescription(req.Description); err != nil {
		return nil, Secrets{}, err
	}
	rot, err := newRotation(req.AuthMethod, req.RotationPeriod, parsed.Key, now)
	if err != nil {
		return nil, Secrets{}, err
	}
	secretFields := slices.Sorted(maps.Keys(sec.Fields()))
	return &Connector{
		Name:              req.Name,
		Type:              TypeGCP,
		AuthMethod:        req.AuthMethod,
		Description:       req.Description,
		Labels:            labels,
		ResourceTypes:     types,
		ResourceID:        id,
		SupportsInstances: instances,
		Config:            cfg,
		SecretFields:      secretFields,
		Users:             users,
		ExpiresAt:         expires,
		ExpirationSeconds: expSeconds,
		Rotation:          rot,
	}, sec, nil
}

// newRotation is the rotation state of a connector with method m and key (nil without one)
// stored at now, rotating every period (0: never). A period is refused, naming
// rotation_period, for connectors that hold no service-account key.
func newRotation(m AuthMethod, period time.Duration, key *credjson.ServiceAccountKey, now time.Time) (rotation.State, error) {
	if err := rotation.CheckPeriod(period); err != nil {
		return rotation.State{}, FieldErrorf("rotation_period", "%s", err)
	}
	if period != 0 {
		if err := canRotate(m, key != nil); err != nil {
			return rotation.State{}, FieldErrorf("rotation_period", "rotation_period cannot be set: %s", err)
		}
	}
	if key == nil {
		return rotation.State{}, nil
	}
	return rotation.State{Period: period, KeyID: key.PrivateKeyID, KeyCreatedAt: now}, nil
}

// checkExpiresAt applies the expires_at rules and returns the value to store (UTC).
func checkExpiresAt(m AuthMethod, at *time.Time, now time.Time, checkAhead bool) (time.Time, error) {
	set := at != nil && !at.IsZero()
	if m != configschema.OAuth2Token {
		if set {
			return time.Time{}, FieldErrorf("expires_at",
				"expires_at applies only to oauth2-token connectors (when their stored token expires); auth method %s mints fresh tokens", m)
		}
		return time.Time{}, nil
	}
	if !set {
		return time.Time{}, FieldErrorf("expires_at",
			"expires_at is required for oauth2-token connectors: say when the token expires (Google access tokens expire, usually after 1 hour)")
	}
	t := at.UTC()
	if checkAhead {
		left := t.Sub(now)
		switch {
		case left <= 0:
			return time.Time{}, FieldErrorf("expires_at", "expires_at %s is in the past; the token has expired", t.Format(time.RFC3339))
		case left < MinTokenRemaining:
			return time.Time{}, FieldErrorf("expires_at",
				"expires_at %s is only %s away; a token needs at least %s left to be handed out", t.Format(time.RFC3339), left.Truncate(time.Second), MinTokenRemaining)
		case left > maxTokenExpiry:
			return time.Time{}, FieldErrorf("expires_at",
				"expires_at %s is more than %s away; Google access tokens live at most 12 hours", t.Format(time.RFC3339), maxTokenExpiry)
		}
	}
	return t, nil
}

// checkExpirationSeconds checks expiration_seconds against the lifetimes of r's method
// (configschema.Method.CheckExpirationSeconds); 0 or nil means the method's default.
func checkExpirationSeconds(r *configschema.Method, p *int) (int, error) {
	if p == nil || *p == 0 {
		return 0, nil
	}
	if err := r.CheckExpirationSeconds(*p); err != nil {
		return 0, schemaError(err)
	}
	return *p, nil
}

// checkLabels validates Kubernetes-style labels and returns a copy (nil when empty).
func checkLabels(labels map[string]string) (map[string]string, error) {
	if len(labels) == 0 {
		return nil, nil
	}
	if len(labels) > maxLabels {
		return nil, FieldErrorf("labels", "a connector has at most %d labels; got %d", maxLabels, len(labels))
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if err := input.LabelKey(k); err != nil {
			return nil, FieldErrorf("labels", "invalid label key %s: %v", input.Quote(k), err)
		}
		if v := labels[k]; v != "" {
			if err := input.LabelName(v); err != nil {
				return nil, FieldErrorf("labels", "invalid value %s of label %q: %v", input.Quote(v), k, err)
			}
		}
	}
	return maps.Clone(labels), nil
}

// checkUsers validates the users (principal patterns, see principal.CheckPattern) and returns
// them normalised (emails lowercase, federated subjects as given), without duplicates.
func checkUsers(users []string, issuers []string) ([]string, error) {
	if len(users) == 0 {
		return nil, nil
	}
	if len(users) > maxUsers {
		return nil, FieldErrorf("users", "a connector has at most %d users; got %d", maxUsers, len(users))
	}
	out := make([]string, 0, len(users))
	for i, u := range users {
		u, err := principal.CheckPattern(u, issuers)
		if err != nil {
			return nil, FieldErrorf("users", "users[%d] %v", i, err)
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// checkDescription validates a connector description.
func checkDescription(d string) error {
	if err := input.Text(d, maxDescriptionLen); err != nil {
		return FieldErrorf("description", "description %v", err)
	}
	return nil
}
