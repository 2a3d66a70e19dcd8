package gcp

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson"
)

var _ connector.KeyManager = (*Google)(nil)

// Key rotation (connector.KeyManager): the IAM v1 service-account keys API at Endpoints.IAM,
// called with the connector's own key. The key's account manages its own keys, so it needs
// iam.serviceAccountKeys.create, .list and .delete on itself (roles/iam.serviceAccountKeyAdmin
// granted on the account).

// CreateKey creates a Google-generated key for email and returns its id and its key file.
func (g *Google) CreateKey(ctx context.Context, gr connector.Grant, email string) (string, string, error) {
	keys, err := g.keysAPI(ctx, gr)
	if err != nil {
		return "", "", err
	}
	k, err := keys.Create(accountName(email), &iam.CreateServiceAccountKeyRequest{
		PrivateKeyType: "TYPE_GOOGLE_CREDENTIALS_FILE", KeyAlgorithm: "KEY_ALG_RSA_2048",
	}).Context(ctx).Do()
	if err != nil {
		return "", "", keysError("create a key for "+email, err)
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
func (g *Google) ListKeys(ctx context.Context, gr connector.Grant, email string) ([]connector.KeyInfo, error) {
	keys, err := g.keysAPI(ctx, gr)
	if err != nil {
		return nil, err
	}
	resp, err := keys.List(accountName(email)).KeyTypes("USER_MANAGED").Context(ctx).Do()
	if err != nil {
		return nil, keysError("list the keys of "+email, err)
	}
	out := make([]connector.KeyInfo, 0, len(resp.Keys))
	for _, k := range resp.Keys {
		created, _ := time.Parse(time.RFC3339, k.ValidAfterTime)
		out = append(out, connector.KeyInfo{ID: keyID(k.Name), Created: created, Disabled: k.Disabled})
	}
	return out, nil
}

// DeleteKey deletes one key of email; a key that is already gone is not an error.
func (g *Google) DeleteKey(ctx context.Context, gr connector.Grant, email, id string) error {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return connector.Errorf(connector.ErrInternal, "gcp: delete key: bad key id %q", id)
	}
	keys, err := g.keysAPI(ctx, gr)
	if err != nil {
		return err
	}
	_, err = keys.Delete(accountName(email) + "/keys/" + id).Context(ctx).Do()
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		return nil
	}
	return keysError("delete key "+id+" of "+email, err)
}

// keysAPI returns the keys API acting as the grant's service-account key (the source key of
// an impersonation connector).
func (g *Google) keysAPI(ctx context.Context, gr connector.Grant) (*iam.ProjectsServiceAccountsKeysService, error) {
	key, err := gr.Secrets.ServiceAccountKey()
	if err != nil {
		return nil, err
	}
	tok, err := g.jwtToken(ctx, key, []string{connector.ScopeCloudPlatform})
	if err != nil {
		return nil, err
	}
	svc, err := iam.NewService(ctx, option.WithHTTPClient(g.authed(tok)), option.WithEndpoint(g.ep.IAM+"/"))
	if err != nil {
		return nil, connector.Errorf(connector.ErrInternal, "gcp: IAM client: %v", err)
	}
	return svc.Projects.ServiceAccounts.Keys, nil
}

// keysError maps a keys API error: Google's 400 FAILED_PRECONDITION (the account has its 10
// keys) becomes ErrFailedPrecondition; the rest as every upstream error.
func keysError(what string, err error) error {
	if err == nil {
		return nil
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusBadRequest && failedPrecondition(ge) {
		return &connector.Error{Kind: connector.ErrFailedPrecondition, Err: err,
			Message: "Google refused (" + what + "): " + ge.Message}
	}
	return upstream(what, err)
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
