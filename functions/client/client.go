// Package client is a small Go client for gcpconn's HTTP API (functions/openapi.yaml), for
// pipelines and for the gcpconn CLI.
//
// # Vocabulary
//
// A [Client] talks to one deployment: its base URL (every function lives at BASE/<function>,
// e.g. BASE/mint-token) and a [TokenSource] that yields the caller's Google-signed ID token,
// sent as "Authorization: Bearer". The wire types are the server's own, from package
// functions/wire under the names used here: [Connector] (never holds a secret value),
// [Resources] (what a verification reached), [Credential] (a minted token, with docker and
// kubernetes extras), and [TypeSpec] (the connector type).
// Every non-2xx answer is an [*Error] carrying the server's stable code (not_found,
// invalid_argument, ...), which [CodeOf] extracts.
//
// The caller's identity comes from [CallerToken], which looks, in order, at an explicit
// token, the dev emulator, and the local Google credentials (see its documentation).
//
//	c := &client.Client{BaseURL: "https://europe-west1-p.cloudfunctions.net", Token: client.StaticToken(idToken)}
//	cred, err := c.Mint(ctx, client.MintRequest{Connector: "gcs-data", ResourceType: "gcs-bucket", ResourceID: "gs://data"})
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/functions/wire"
)

// TokenSource yields the caller's ID token for each request.
type TokenSource func(ctx context.Context) (string, error)

// StaticToken is a TokenSource that always returns tok.
func StaticToken(tok string) TokenSource {
	return func(context.Context) (string, error) { return tok, nil }
}

// Client calls one gcpconn deployment. Its methods are safe for concurrent use.
type Client struct {
	BaseURL string       // e.g. http://127.0.0.1:8080, without a trailing slash
	Token   TokenSource  // the caller's ID token; required
	HTTP    *http.Client // nil means a client with a 60 s timeout
}

// maxResponseBytes caps what the client reads from one answer.
const maxResponseBytes = 16 << 20

// Error is a non-2xx answer of the API.
type Error struct {
	Status     int    // HTTP status
	Code       string // stable code: not_found, invalid_argument, ...
	Message    string
	Field      string        // the offending field, when the server named one
	RetryAfter time.Duration // from Retry-After on upstream_unavailable
}

func (e *Error) Error() string {
	if e.Field != "" && !strings.Contains(e.Message, e.Field) {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// IdentityError says that the caller's ID token could not be obtained: the request was not
// sent.
type IdentityError struct{ Err error }

func (e *IdentityError) Error() string { return "client: caller identity: " + e.Err.Error() }
func (e *IdentityError) Unwrap() error { return e.Err }

// CodeOf returns the server's code of err, or "" when err is not an *Error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// The wire types, under the names this package has always used. They are defined once, in
// functions/wire, for the server and the client.
type (
	Connector        = wire.Connector
	Status           = wire.Status
	SecretLocation   = wire.SecretLocation
	Rotation         = wire.Rotation
	RegisterRequest  = wire.RegisterRequest
	UpdateRequest    = wire.UpdateRequest
	VerifyRequest    = wire.VerifyRequest
	Resources        = wire.Resources
	ResourceResult   = wire.ResourceResult
	RotateResult     = wire.RotateResponse
	MintRequest      = wire.MintRequest
	Downscope        = wire.Downscope
	Credential       = wire.Credential
	Lifetime         = wire.Lifetime
	Docker           = wire.DockerCredential
	Kubernetes       = wire.KubernetesCredential
	TypeSpec         = wire.TypeSpec
	ResourceTypeSpec = wire.ResourceTypeSpec
	AuthMethodSpec   = wire.AuthMethodSpec
	SweepOptions     = wire.SweepRequest
	SweepRun         = wire.SweepReport
)

// Filter narrows List.
type Filter struct {
	Name         string
	AuthMethod   string
	ResourceType string
	Labels       []string // KEY=VALUE or KEY
	PageSize     int
	PageToken    string
}

// Types returns the connector types (GET /list?types=true).
func (c *Client) Types(ctx context.Context) ([]TypeSpec, error) {
	var out wire.TypesResponse
	err := c.do(ctx, http.MethodGet, "/list?types=true", nil, &out)
	return out.ConnectorTypes, err
}

// List returns one page of the connectors the caller may read, and the next page's token.
func (c *Client) List(ctx context.Context, f Filter) ([]Connector, string, error) {
	q := url.Values{}
	for k, v := range map[string]string{"name": f.Name, "auth_method": f.AuthMethod, "resource_type": f.ResourceType, "page_token": f.PageToken} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for _, l := range f.Labels {
		q.Add("label", l)
	}
	if f.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(f.PageSize))
	}
	var out wire.ListResponse
	path := "/list"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Connectors, out.NextPageToken, err
}

// ListAll follows next_page_token until every connector matching f is listed.
func (c *Client) ListAll(ctx context.Context, f Filter) ([]Connector, error) {
	var all []Connector
	for {
		cs, next, err := c.List(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
		if next == "" {
			return all, nil
		}
		f.PageToken = next
	}
}

// Describe returns one connector by name or id.
func (c *Client) Describe(ctx context.Context, ref string) (*Connector, error) {
	var out wire.DescribeResponse
	if err := c.do(ctx, http.MethodGet, "/list?connector="+url.QueryEscape(ref), nil, &out); err != nil {
		return nil, err
	}
	return &out.Connector, nil
}

// Register creates a connector; Resources is set when the server verified it.
func (c *Client) Register(ctx context.Context, r RegisterRequest) (*Connector, *Resources, error) {
	var out wire.RegisterResponse
	if err := c.do(ctx, http.MethodPost, "/register", r, &out); err != nil {
		return nil, nil, err
	}
	return &out.Connector, out.Resources, nil
}

// Update changes a connector by name or id.
func (c *Client) Update(ctx context.Context, ref string, u UpdateRequest) (*Connector, error) {
	var out wire.DescribeResponse
	if err := c.do(ctx, http.MethodPut, "/register?connector="+url.QueryEscape(ref), u, &out); err != nil {
		return nil, err
	}
	return &out.Connector, nil
}

// Delete removes a connector and its secret.
func (c *Client) Delete(ctx context.Context, ref string) error {
	return c.do(ctx, http.MethodDelete, "/register?connector="+url.QueryEscape(ref), nil, nil)
}

// Rotate replaces a connector's service-account key now (owner or admin).
func (c *Client) Rotate(ctx context.Context, ref string) (*RotateResult, error) {
	return send[RotateResult](ctx, c, http.MethodPost, "/rotate", wire.RotateRequest{Connector: ref})
}

// Verify checks a stored connector or a spec and lists what it reaches.
func (c *Client) Verify(ctx context.Context, r VerifyRequest) (*Resources, error) {
	return send[Resources](ctx, c, http.MethodPost, "/verify", r)
}

// Mint issues a short-lived credential for one resource.
func (c *Client) Mint(ctx context.Context, r MintRequest) (*Credential, error) {
	return send[Credential](ctx, c, http.MethodPost, "/mint-token", r)
}

// send sends one request and returns its 2xx JSON answer decoded into a new T.
func send[T any](ctx context.Context, c *Client, method, path string, in any) (*T, error) {
	var out T
	if err := c.do(ctx, method, path, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends one request and decodes a 2xx JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if c.BaseURL == "" {
		return errors.New("client: no server URL (set --url or GCPCONN_URL)")
	}
	if c.Token == nil {
		return errors.New("client: no caller identity configured")
	}
	tok, err := c.Token(ctx)
	if err != nil {
		return &IdentityError{Err: err}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, strings.SplitN(path, "?", 2)[0], err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("client: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return errorFrom(resp, b)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("client: decode answer of %s: %w", strings.SplitN(path, "?", 2)[0], err)
	}
	return nil
}

// errorFrom builds the *Error of a non-2xx answer; bodies that are not the API's error shape
// (a proxy's HTML page) become a code derived from the status.
func errorFrom(resp *http.Response, b []byte) *Error {
	e := &Error{Status: resp.StatusCode}
	var body wire.Error
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Field = body.Error.Code, body.Error.Message, body.Error.Field
	} else {
		e.Code = codeOfStatus(resp.StatusCode)
		e.Message = fmt.Sprintf("the server answered %s", resp.Status)
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

func codeOfStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_argument"
	case http.StatusUnauthorized:
		return "unauthenticated"
	case http.StatusForbidden:
		return "permission_denied"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "already_exists"
	case http.StatusPreconditionFailed:
		return "failed_precondition"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusBadGateway:
		return "upstream_denied"
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return "upstream_unavailable"
	}
	return "internal"
}

// StartSweep starts a sweep run (admins) and returns it as it stands once its shards are
// published.
func (c *Client) StartSweep(ctx context.Context, o SweepOptions) (*SweepRun, error) {
	return send[SweepRun](ctx, c, http.MethodPost, "/sweep", o)
}

// SweepRun returns sweep run id, the latest for "" (admins).
func (c *Client) SweepRun(ctx context.Context, id string) (*SweepRun, error) {
	path := "/sweep"
	if id != "" {
		path += "?run=" + url.QueryEscape(id)
	}
	return send[SweepRun](ctx, c, http.MethodGet, path, nil)
}
