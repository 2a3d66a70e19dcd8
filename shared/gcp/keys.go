package gcp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

var _ upkeep.KeyManager = (*Google)(nil)

// Key rotation (upkeep.KeyManager): the IAM v1 service-account keys API at Endpoints.IAM,
// called as the adapter's RotationIdentity: the connector's own key (RotateAsConnector, the
// default: the key's account manages its own keys) or the service's own identity
// (RotateAsService: the metadata server's token, as the implicit auth method). That identity
// needs iam.serviceAccountKeys.create, .list and .delete on the connector's account
// (roles/iam.serviceAccountKeyAdmin granted on the account); Google's 403 becomes
// ErrFailedPrecondition naming the identity and the role.

// RotationIdentity is who calls the IAM keys API to create, list and delete a connector's
// service-account keys (GCPCONN_ROTATION_IDENTITY).
type RotationIdentity string

// The rotation identities.
const (
	// RotateAsConnector calls the keys API with the connector's own key (the default).
	RotateAsConnector RotationIdentity = "connector"
	// RotateAsService calls it as the service's own identity (the metadata server: the
	// runtime service account on Cloud Run, GCE_METADATA_HOST locally).
	RotateAsService RotationIdentity = "service"
)

// ParseRotationIdentity reads a rotation identity: "connector" or "service" ("" is connector).
func ParseRotationIdentity(s string) (RotationIdentity, error) {
	switch id := RotationIdentity(s); id {
	case "":
		return RotateAsConnector, nil
	case RotateAsConnector, RotateAsService:
		return id, nil
	}
	return "", fmt.Errorf("rotation identity %q is not %s or %s", s, RotateAsConnector, RotateAsService)
}

// WithRotationIdentity sets who calls the IAM keys API for key rotation (default
// RotateAsConnector).
func WithRotationIdentity(id RotationIdentity) Option {
	return func(g *Google) { g.rotation = id }
}

// RotationIdentity returns who calls the IAM keys API for key rotation.
func (g *Google) RotationIdentity() RotationIdentity {
	if g.rotation == RotateAsService {
		return RotateAsService
	}
	return RotateAsConnector
}

// CreateKey creates a Google-generated key for email and returns its id and its key file.
func (g *Google) CreateKey(ctx context.Context, gr connector.Grant, email string) (string, string, error) {
	keys, as, err := g.keysAPI(ctx, gr)
	if err != nil {
		return "", "", err
	}
	k, err := keys.Create(accountName(email), &iam.CreateServiceAccountKeyRequest{
		PrivateKeyType: "TYPE_GOOGLE_CREDENTIALS_FILE", KeyAlgorithm: "KEY_ALG_RSA_2048",
	}).Context(ctx).Do()
	if err != nil {
		return "", "", keysError("create a key for "+email, as, email, err)
	}
	file, err := base64.StdEncoding.DecodeString(k.PrivateKeyData)
	if err != nil {
		return "", "", connector.Errorf(connector.ErrUpstreamUnavailable, "Google returned a key for %s whose privateKeyData is not base64", email)
	}
	id := keyID(k.Name)
	parsed, err := credjson.ParseServiceAccountKey(file)
	if err != nil || parsed.PrivateKeyID != id || !strings.EqualFold(parsed.ClientEmail, email) {
		// Never store what we cannot use; the caller deletes the key by id.
		return id, "", connector.Errorf(connector.ErrUpstreamUnavailable, "Google returned a key file for %s that is not the key %s it created", email, id)
	}
	return id, string(file), nil
}

// ListKeys returns the account's user-managed keys with their creation times.
func (g *Google) ListKeys(ctx context.Context, gr connector.Grant, email string) ([]upkeep.KeyInfo, error) {
	keys, as, err := g.keysAPI(ctx, gr)
	if err != nil {
		return nil, err
	}
	resp, err := keys.List(accountName(email)).KeyTypes("USER_MANAGED").Context(ctx).Do()
	if err != nil {
		return nil, keysError("list the keys of "+email, as, email, err)
	}
	out := make([]upkeep.KeyInfo, 0, len(resp.Keys))
	for _, k := range resp.Keys {
		created, _ := time.Parse(time.RFC3339, k.ValidAfterTime)
		out = append(out, upkeep.KeyInfo{ID: keyID(k.Name), Created: created, Disabled: k.Disabled})
	}
	return out, nil
}

// DeleteKey deletes one key of email; a key that is already gone is not an error.
func (g *Google) DeleteKey(ctx context.Context, gr connector.Grant, email, id string) error {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return connector.Errorf(connector.ErrInternal, "gcp: delete key: bad key id %q", id)
	}
	keys, as, err := g.keysAPI(ctx, gr)
	if err != nil {
		return err
	}
	_, err = keys.Delete(accountName(email) + "/keys/" + id).Context(ctx).Do()
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		return nil
	}
	return keysError("delete key "+id+" of "+email, as, email, err)
}

// keysAPI returns the keys API acting as g's rotation identity: the grant's service-account
// key (the source key of an impersonation connector), or the service's own identity. as
// names that identity in errors.
func (g *Google) keysAPI(ctx context.Context, gr connector.Grant) (keys *iam.ProjectsServiceAccountsKeysService, as string, err error) {
	var tok connector.Token
	if g.RotationIdentity() == RotateAsService {
		as = "the service's own identity"
		tok, err = g.metadataToken(ctx, []string{resourcetype.ScopeCloudPlatform})
	} else {
		key, kerr := gr.Secrets.ServiceAccountKey()
		if kerr != nil {
			return nil, "", kerr
		}
		as = "the connector's key (" + key.ClientEmail + ")"
		tok, err = g.jwtToken(ctx, key, []string{resourcetype.ScopeCloudPlatform})
	}
	if err != nil {
		return nil, as, err
	}
	svc, err := apiClient(ctx, iam.NewService, "IAM", g.ep.IAM+"/", g.authed(tok))
	if err != nil {
		return nil, as, err
	}
	return svc.Projects.ServiceAccounts.Keys, as, nil
}

// keysError maps a keys API error of a call made as identity as on email's keys. Google's
// 400 FAILED_PRECONDITION becomes ErrFailedPrecondition: on a create, an organisation
// policy's refusal (iam.disableServiceAccountKeyCreation) wraps
// upkeep.ErrKeyCreationDisabled and Google's bare "Precondition check failed." (the
// account has its 10 keys) upkeep.ErrKeyLimit; any other keeps Google's message. Its 403
// (the identity may not manage the account's keys: a setup to fix, not an outage) becomes
// ErrFailedPrecondition naming the identity and the role it needs; the rest as every
// upstream error.
func keysError(what, as, email string, err error) error {
	if err == nil {
		return nil
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusBadRequest && failedPrecondition(ge) {
		msg := strings.TrimRight(strings.TrimSpace(ge.Message), ".")
		switch {
		case creating(what) && keyPolicy(ge):
			return &connector.Error{Kind: connector.ErrFailedPrecondition, Err: fmt.Errorf("%w: %w", upkeep.ErrKeyCreationDisabled, err),
				Message: fmt.Sprintf("an organisation policy (%s) forbids creating keys for %s: Google says %q; "+
					"ask for an exception for the project, or use keyless impersonation", keyPolicyConstraint, email, msg)}
		case creating(what) && ge.Message == "Precondition check failed.":
			return &connector.Error{Kind: connector.ErrFailedPrecondition, Err: fmt.Errorf("%w: %w", upkeep.ErrKeyLimit, err),
				Message: "Google refused (" + what + "): " + ge.Message}
		}
		return &connector.Error{Kind: connector.ErrFailedPrecondition, Err: err,
			Message: "Google refused (" + what + "): " + msg}
	}
	if errors.As(err, &ge) && ge.Code == http.StatusForbidden {
		return &connector.Error{Kind: connector.ErrFailedPrecondition, Err: fmt.Errorf("%s as %s: %w", what, as, err),
			Message: fmt.Sprintf("permission denied: Google refused to %s as %s: %s; key rotation needs "+
				"roles/iam.serviceAccountKeyAdmin on %s granted to %s", what, as, strings.TrimRight(strings.TrimSpace(ge.Message), "."), email, as)}
	}
	return upstream(what, err)
}

// keyPolicyConstraint is the organisation policy that forbids service-account key creation.
const keyPolicyConstraint = "constraints/iam.disableServiceAccountKeyCreation"

func creating(what string) bool { return strings.HasPrefix(what, "create a key") }

// keyPolicy reports whether Google's refusal names the key-creation policy: in its
// PreconditionFailure details, or in the message Google sends with it.
func keyPolicy(ge *googleapi.Error) bool {
	return strings.Contains(ge.Body, "iam.disableServiceAccountKeyCreation") ||
		strings.Contains(ge.Message, "iam.disableServiceAccountKeyCreation") ||
		strings.Contains(strings.ToLower(ge.Message), "key creation is not allowed")
}

func failedPrecondition(ge *googleapi.Error) bool {
	for _, e := range ge.Errors {
		if strings.EqualFold(e.Reason, "failedPrecondition") {
			return true
		}
	}
	return strings.Contains(ge.Body, "FAILED_PRECONDITION") || ge.Message == "Precondition check failed."
}

func accountName(email string) string { return "projects/-/serviceAccounts/" + email }

func keyID(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }
