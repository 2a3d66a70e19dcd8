package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Down-scoping is done here rather than with golang.org/x/oauth2/google/downscope: in
// v0.37.0 that package posts to the hard-coded https://sts.UNIVERSE_DOMAIN/v1/token and has
// no endpoint option. The wire format below is the same: an RFC 8693 token exchange with the
// boundary in the options parameter, no Authorization header.

// Roles of a Credential Access Boundary rule.
const (
	roleObjectViewer = "inRole:roles/storage.objectViewer"
	roleObjectAdmin  = "inRole:roles/storage.objectAdmin"
)

type accessBoundaryRule struct {
	AvailableResource    string                 `json:"availableResource"`
	AvailablePermissions []string               `json:"availablePermissions"`
	Condition            *availabilityCondition `json:"availabilityCondition,omitempty"`
}

type availabilityCondition struct {
	Expression  string `json:"expression"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// boundaryRules returns the Credential Access Boundary for b: the bucket, objectViewer or
// objectAdmin, and with a prefix a condition on object names.
func boundaryRules(b connector.Boundary) []accessBoundaryRule {
	role := roleObjectAdmin
	if b.ReadOnly {
		role = roleObjectViewer
	}
	rule := accessBoundaryRule{
		AvailableResource:    "//storage.googleapis.com/projects/_/buckets/" + b.Bucket,
		AvailablePermissions: []string{role},
	}
	if b.Prefix != "" {
		rule.Condition = &availabilityCondition{
			Title: "objects under " + b.Prefix,
			// Objects under the prefix, and listings whose prefix lies under it.
			Expression: fmt.Sprintf("resource.name.startsWith('projects/_/buckets/%s/objects/%s') || "+
				"api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('%s')", b.Bucket, b.Prefix, b.Prefix),
		}
	}
	return []accessBoundaryRule{rule}
}

// stsError is a failed STS answer.
type stsError struct {
	code        int
	oauthCode   string
	description string
	body        []byte
	retryAfter  time.Duration
}

func (e *stsError) Error() string { return fmt.Sprintf("sts: HTTP %d: %s", e.code, e.message()) }

func (e *stsError) message() string { return tokenErrorMessage(e.oauthCode, e.description, e.body) }

// downscope exchanges tok at STS for a token limited by b. The result never outlives tok.
func (g *Google) downscope(ctx context.Context, tok connector.Token, b connector.Boundary) (connector.Token, error) {
	if b.Bucket == "" {
		return connector.Token{}, connector.Errorf(connector.ErrInternal, "gcp: boundary without a bucket")
	}
	opts, err := json.Marshal(map[string]any{"accessBoundary": map[string]any{"accessBoundaryRules": boundaryRules(b)}})
	if err != nil {
		return connector.Token{}, connector.Errorf(connector.ErrInternal, "gcp: marshal boundary: %v", err)
	}
	form := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:access_token"},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"subject_token":        {tok.Value},
		"options":              {string(opts)},
	}
	type answer struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	a, err := retry(ctx, func(ctx context.Context) (answer, error) {
		var a answer
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.ep.STS+"/v1/token", strings.NewReader(form.Encode()))
		if err != nil {
			return a, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := g.http.Do(req)
		if err != nil {
			return a, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return a, err
		}
		if resp.StatusCode != http.StatusOK {
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			_ = json.Unmarshal(body, &e)
			return a, &stsError{code: resp.StatusCode, oauthCode: e.Error, description: e.Description, body: body,
				retryAfter: retryAfterOf(resp.Header)}
		}
		if err := json.Unmarshal(body, &a); err != nil || a.AccessToken == "" {
			return a, &stsError{code: http.StatusBadGateway, description: "STS answered without an access token"}
		}
		return a, nil
	})
	if err != nil {
		return connector.Token{}, upstream("down-scope token exchange", err)
	}
	out := connector.Token{Value: a.AccessToken, Expiry: tok.Expiry}
	if a.ExpiresIn > 0 {
		if exp := g.now().Add(time.Duration(a.ExpiresIn) * time.Second); tok.Expiry.IsZero() || exp.Before(tok.Expiry) {
			out.Expiry = exp
		}
	}
	return out, nil
}
