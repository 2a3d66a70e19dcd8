package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/compute/metadata"
	credentials "cloud.google.com/go/iam/credentials/apiv1"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google/externalaccount"
	"golang.org/x/oauth2/jwt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// jwtBearerLifetime is what Google's token endpoint grants to a JWT-bearer or refresh grant.
const jwtBearerLifetime = time.Hour

// Token mints an access token for g per its auth method, then down-scopes it when req has a
// Boundary.
func (g *Google) Token(ctx context.Context, gr connector.Grant, req connector.TokenRequest) (connector.Token, error) {
	if gr.Connector == nil {
		return connector.Token{}, connector.Errorf(connector.ErrInternal, "gcp: grant without a connector")
	}
	if len(req.Scopes) == 0 {
		req.Scopes = []string{resourcetype.ScopeCloudPlatform}
	}
	tok, err := g.token(ctx, gr, req)
	if err != nil {
		return connector.Token{}, err
	}
	g.remember(gr, req, tok)
	if req.Boundary != nil {
		return g.downscope(ctx, tok, *req.Boundary)
	}
	return tok, nil
}

func (g *Google) token(ctx context.Context, gr connector.Grant, req connector.TokenRequest) (connector.Token, error) {
	c := gr.Connector
	switch c.AuthMethod {
	case configschema.ServiceAccount:
		key, err := gr.Secrets.ServiceAccountKey()
		if err != nil {
			return connector.Token{}, err
		}
		if req.Lifetime > 0 && req.Lifetime < jwtBearerLifetime {
			// A JWT-bearer grant always lasts an hour: for less, the account impersonates itself.
			src, err := g.jwtToken(ctx, key, []string{resourcetype.ScopeCloudPlatform})
			if err != nil {
				return connector.Token{}, err
			}
			return g.generateAccessToken(ctx, src, key.ClientEmail, nil, req.Scopes, req.Lifetime)
		}
		return g.jwtToken(ctx, key, req.Scopes)
	case configschema.UserAccount:
		u, err := gr.Secrets.AuthorizedUser()
		if err != nil {
			return connector.Token{}, err
		}
		return g.refreshToken(ctx, u, req.Scopes)
	case configschema.ExternalAccount:
		x, err := gr.Secrets.ExternalAccount()
		if err != nil {
			return connector.Token{}, err
		}
		return g.externalToken(ctx, x, req)
	case configschema.OAuth2Token:
		if gr.Secrets.Token == "" {
			return connector.Token{}, connector.FieldErrorf("configuration.token", "the connector has no token")
		}
		return connector.Token{Value: gr.Secrets.Token, Expiry: c.ExpiresAt}, nil
	case configschema.Impersonation:
		if c.Config.TargetPrincipal == "" {
			return connector.Token{}, connector.FieldErrorf("configuration.target_principal", "impersonation needs a target_principal")
		}
		var src connector.Token
		var err error
		if gr.Secrets.ServiceAccountJSON != "" {
			key, derr := gr.Secrets.ServiceAccountKey()
			if derr != nil {
				return connector.Token{}, derr
			}
			src, err = g.jwtToken(ctx, key, []string{resourcetype.ScopeCloudPlatform})
		} else {
			src, err = g.metadataToken(ctx, []string{resourcetype.ScopeCloudPlatform})
		}
		if err != nil {
			return connector.Token{}, err
		}
		return g.generateAccessToken(ctx, src, c.Config.TargetPrincipal, c.Config.Delegates, req.Scopes, req.Lifetime)
	case configschema.Implicit:
		return g.metadataToken(ctx, req.Scopes)
	}
	return connector.Token{}, connector.Errorf(connector.ErrInvalid, "gcp: unknown auth method %q", c.AuthMethod)
}

// jwtToken signs a JWT-bearer assertion with the key and redeems it at the OAuth2 endpoint
// (never at the key's token_uri).
func (g *Google) jwtToken(ctx context.Context, key *credjson.ServiceAccountKey, scopes []string) (connector.Token, error) {
	cfg := &jwt.Config{
		Email:        key.ClientEmail,
		PrivateKey:   []byte(key.PrivateKey),
		PrivateKeyID: key.PrivateKeyID,
		Scopes:       scopes,
		TokenURL:     g.ep.OAuth2 + "/token",
	}
	t, err := retry(ctx, func(ctx context.Context) (*oauth2.Token, error) {
		return cfg.TokenSource(g.oauthCtx(ctx)).Token()
	})
	if err != nil {
		if strings.Contains(err.Error(), "private key") {
			return connector.Token{}, connector.FieldErrorf(configschema.FieldPath(configschema.FieldServiceAccountJSON),
				"the service account key's private_key cannot be used to sign")
		}
		return connector.Token{}, upstream("JWT-bearer grant for "+key.ClientEmail, err)
	}
	return fromOAuth2(t), nil
}

// refreshToken redeems a user's refresh token at the OAuth2 endpoint (never at the JSON's
// token_uri).
func (g *Google) refreshToken(ctx context.Context, u *credjson.AuthorizedUser, scopes []string) (connector.Token, error) {
	cfg := &oauth2.Config{
		ClientID:     u.ClientID,
		ClientSecret: u.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: g.ep.OAuth2 + "/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:       scopes,
	}
	t, err := retry(ctx, func(ctx context.Context) (*oauth2.Token, error) {
		return cfg.TokenSource(g.oauthCtx(ctx), &oauth2.Token{RefreshToken: u.RefreshToken}).Token()
	})
	if err != nil {
		return connector.Token{}, upstream("refresh grant", err)
	}
	return fromOAuth2(t), nil
}

// subjectToken supplies the caller's subject token to the STS exchange.
type subjectToken string

func (s subjectToken) SubjectToken(context.Context, externalaccount.SupplierOptions) (string, error) {
	return string(s), nil
}

// externalToken exchanges the caller's subject token at the configured STS endpoint (never at
// the config's token_url, and never reading its credential_source), then impersonates the
// service account the config names, if any, at the configured IAM Credentials endpoint.
func (g *Google) externalToken(ctx context.Context, x *credjson.ExternalAccountConfig, req connector.TokenRequest) (connector.Token, error) {
	field := configschema.FieldPath(configschema.FieldExternalAccountJSON)
	if req.SubjectToken == "" {
		return connector.Token{}, connector.FieldErrorf("subject_token",
			"external-account connectors need the caller's subject token (an OIDC token of the workload) with the request")
	}
	target := x.ImpersonatedServiceAccount()
	scopes := req.Scopes
	if target != "" {
		scopes = []string{resourcetype.ScopeCloudPlatform}
	}
	ts, err := externalaccount.NewTokenSource(g.oauthCtx(ctx), externalaccount.Config{
		Audience:                 x.Audience,
		SubjectTokenType:         x.SubjectTokenType,
		TokenURL:                 g.ep.STS + "/v1/token",
		Scopes:                   scopes,
		WorkforcePoolUserProject: x.WorkforcePoolUserProject,
		SubjectTokenSupplier:     subjectToken(req.SubjectToken),
	})
	if err != nil {
		return connector.Token{}, connector.FieldErrorf(field, "the external account JSON cannot be used: %s", err)
	}
	t, err := ts.Token()
	if err != nil {
		return connector.Token{}, upstream("STS token exchange", err)
	}
	fed := fromOAuth2(t)
	if target == "" {
		return fed, nil
	}
	return g.generateAccessToken(ctx, fed, target, nil, req.Scopes, req.Lifetime)
}

// metadataToken asks the metadata server (GCE_METADATA_HOST locally) for a token of the
// service's own identity.
func (g *Google) metadataToken(ctx context.Context, scopes []string) (connector.Token, error) {
	mc := metadata.NewClient(g.http)
	suffix := "instance/service-accounts/default/token"
	if len(scopes) > 0 {
		suffix += "?scopes=" + url.QueryEscape(strings.Join(scopes, ","))
	}
	body, err := mc.GetWithContext(ctx, suffix)
	if err != nil {
		return connector.Token{}, upstream("metadata server token", err)
	}
	var r struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.AccessToken == "" {
		return connector.Token{}, connector.Errorf(connector.ErrUpstreamUnavailable, "the metadata server answered without a token")
	}
	return connector.Token{Value: r.AccessToken, Expiry: g.now().Add(time.Duration(r.ExpiresIn) * time.Second)}, nil
}

// generateAccessToken calls IAM Credentials generateAccessToken on target as src.
func (g *Google) generateAccessToken(ctx context.Context, src connector.Token, target string, delegates, scopes []string, lifetime time.Duration) (connector.Token, error) {
	client, err := apiClient(ctx, credentials.NewIamCredentialsRESTClient, "IAM Credentials", g.ep.IAMCredentials, g.authed(src))
	if err != nil {
		return connector.Token{}, err
	}
	defer client.Close()
	req := &credentialspb.GenerateAccessTokenRequest{
		Name:  "projects/-/serviceAccounts/" + target,
		Scope: scopes,
	}
	for _, d := range delegates {
		req.Delegates = append(req.Delegates, "projects/-/serviceAccounts/"+d)
	}
	if lifetime > 0 {
		req.Lifetime = durationpb.New(lifetime.Truncate(time.Second))
	}
	resp, err := client.GenerateAccessToken(ctx, req, gaxRetry())
	if err != nil {
		return connector.Token{}, upstream(fmt.Sprintf("generateAccessToken for %s", target), err)
	}
	return connector.Token{Value: resp.GetAccessToken(), Expiry: resp.GetExpireTime().AsTime()}, nil
}
