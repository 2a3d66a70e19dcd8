package client

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Identity says where the caller's ID token comes from. CallerToken tries, in order:
//
//  1. IDToken (the CLI's --id-token, or GCPCONN_ID_TOKEN): used as is (a user's
//     `gcloud auth print-identity-token`, or a CI job's own OIDC token: GitLab's id_tokens);
//     else IDTokenFile (GCPCONN_ID_TOKEN_FILE), read afresh whenever the last token is near
//     its expiry (a Kubernetes projected service-account token, which the kubelet rotates).
//  2. With Source SourceGitHubActions (GCPCONN_IDENTITY=github-actions): the GitHub Actions
//     job's OIDC token (see 6), and nothing else.
//  3. DevIssuer + DevEmail (GCPCONN_DEV_ISSUER, GCPCONN_DEV_EMAIL): the local emulator's admin
//     API mints a token for that email (POST DevIssuer/admin/id-token). Development only.
//  4. The local Google credentials (GOOGLE_APPLICATION_CREDENTIALS, else gcloud's ADC file):
//     a service_account key signs a JWT with target_audience=Audience and exchanges it at the
//     key's token_uri for an ID token. authorized_user credentials cannot: Google issues user
//     ID tokens only through gcloud, so users pass `gcloud auth print-identity-token` as (1).
//  5. The metadata server (GCE_METADATA_HOST or metadata.google.internal) identity endpoint,
//     on Google Cloud runtimes.
//  6. Only when there are no Google credentials (4 and 5 found none) and Source is not
//     SourceGoogle: inside GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL and
//     ACTIONS_ID_TOKEN_REQUEST_TOKEN set, which a job with "permissions: id-token: write"
//     has), the job's OIDC token for Audience, from GitHub's token endpoint.
//
// Google credentials come first because a deployment's Cloud Run invoker check accepts only
// Google identities unless it was turned off for federated callers: a job that has both a
// key file (or runs on Google Cloud) and "id-token: write" keeps calling as its Google
// identity unless it asks for GitHub's token.
type Identity struct {
	IDToken     string
	IDTokenFile string
	DevIssuer   string
	DevEmail    string
	Audience    string // the service's audience; required for all but IDToken
	// Source picks the kind of identity (GCPCONN_IDENTITY): "" (the order above),
	// SourceGitHubActions or SourceGoogle.
	Source string
	// Getenv reads the environment (GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_CONFIG, HOME,
	// GCE_METADATA_HOST); nil means os.Getenv.
	Getenv func(string) string
	HTTP   *http.Client
	Now    func() time.Time
}

// CallerToken returns a TokenSource for id. Tokens from all but IDToken are cached until a minute
// before they expire.
func CallerToken(id Identity) TokenSource {
	if id.Getenv == nil {
		id.Getenv = os.Getenv
	}
	if id.Now == nil {
		id.Now = time.Now
	}
	if id.HTTP == nil {
		id.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if id.IDToken != "" {
		return StaticToken(strings.TrimSpace(id.IDToken))
	}
	var (
		mu     sync.Mutex
		cached string
		expiry time.Time
	)
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if cached != "" && id.Now().Before(expiry.Add(-time.Minute)) {
			return cached, nil
		}
		tok, err := id.fetch(ctx)
		if err != nil {
			return "", err
		}
		if tok == "" {
			return "", errors.New("the caller's identity source answered without an ID token")
		}
		cached, expiry = tok, jwtExpiry(tok, id.Now())
		return tok, nil
	}
}

func (id Identity) fetch(ctx context.Context) (string, error) {
	if id.Audience == "" {
		return "", errors.New("no audience for the caller's ID token (set GCPCONN_AUDIENCE or --url)")
	}
	if id.IDTokenFile != "" {
		b, err := os.ReadFile(id.IDTokenFile)
		if err != nil {
			return "", fmt.Errorf("GCPCONN_ID_TOKEN_FILE: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	u, t := id.Getenv(EnvActionsRequestURL), id.Getenv(EnvActionsRequestToken)
	inActions := u != "" && t != ""
	switch id.Source {
	case SourceAuto, SourceGoogle:
	case SourceGitHubActions:
		if !inActions {
			return "", fmt.Errorf("GCPCONN_IDENTITY=%s, but %s and %s are not set: give the job \"permissions: id-token: write\"", SourceGitHubActions, EnvActionsRequestURL, EnvActionsRequestToken)
		}
		return id.githubActionsToken(ctx, u, t)
	default:
		return "", fmt.Errorf("GCPCONN_IDENTITY=%q is not %s or %s (or unset: Google credentials first, then GitHub Actions' token)", id.Source, SourceGoogle, SourceGitHubActions)
	}
	if id.DevIssuer != "" {
		if id.DevEmail == "" {
			return "", errors.New("GCPCONN_DEV_ISSUER is set but GCPCONN_DEV_EMAIL is not: say whose ID token the emulator should mint")
		}
		return id.devToken(ctx)
	}
	path, b, err := LocalCredentials(id.Getenv)
	if err != nil {
		return "", err
	}
	if b != nil {
		return id.fromCredentials(ctx, path, b)
	}
	tok, err := id.metadataToken(ctx)
	if err == nil {
		return tok, nil
	}
	if inActions && id.Source == SourceAuto {
		return id.githubActionsToken(ctx, u, t)
	}
	return "", fmt.Errorf("no caller identity: pass --id-token (or GCPCONN_ID_TOKEN), e.g. \"$(gcloud auth print-identity-token)\", or configure Google credentials; the metadata server did not answer: %w", err)
}

// Identity sources (GCPCONN_IDENTITY).
const (
	SourceAuto          = ""
	SourceGitHubActions = "github-actions"
	SourceGoogle        = "google"
)

// GitHub Actions' OIDC token request: a job with "permissions: id-token: write" has both.
const (
	EnvActionsRequestURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvActionsRequestToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// githubActionsToken asks GitHub Actions for the job's OIDC token for id.Audience:
// GET REQUEST_URL&audience=AUD with "Authorization: bearer REQUEST_TOKEN", answered with
// {"value": TOKEN}.
func (id Identity) githubActionsToken(ctx context.Context, reqURL, reqToken string) (string, error) {
	sep := "?"
	if strings.Contains(reqURL, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reqURL+sep+"audience="+url.QueryEscape(id.Audience), nil)
	if err != nil {
		return "", fmt.Errorf("GitHub Actions OIDC token: %s: %w", EnvActionsRequestURL, err)
	}
	req.Header.Set("Authorization", "bearer "+reqToken)
	req.Header.Set("Accept", "application/json")
	var out struct {
		Value string `json:"value"`
	}
	if err := id.postJSON(req, &out); err != nil {
		return "", fmt.Errorf("GitHub Actions OIDC token (does the job have \"permissions: id-token: write\"?): %w", err)
	}
	return out.Value, nil
}

// devToken asks the emulator's admin API for an ID token.
func (id Identity) devToken(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": id.DevEmail, "audience": id.Audience})
	tok, err := id.postForIDToken(ctx, strings.TrimRight(id.DevIssuer, "/")+"/admin/id-token", "application/json", string(body))
	if err != nil {
		return "", fmt.Errorf("dev issuer %s: %w", id.DevIssuer, err)
	}
	return tok, nil
}

// postForIDToken posts body (of contentType) to endpoint and returns the id_token of its
// JSON answer.
func (id Identity) postForIDToken(ctx context.Context, endpoint, contentType, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", contentType)
	var out struct {
		IDToken string `json:"id_token"`
	}
	if err := id.postJSON(req, &out); err != nil {
		return "", err
	}
	return out.IDToken, nil
}

// LocalCredentials reads the credentials file the Google client libraries would use:
// GOOGLE_APPLICATION_CREDENTIALS, else gcloud's ADC file ([ADCPath]). It returns the path it
// looked at ("" without HOME or CLOUDSDK_CONFIG) and nil contents when gcloud's file does not
// exist; a GOOGLE_APPLICATION_CREDENTIALS that cannot be read is an error.
func LocalCredentials(getenv func(string) string) (path string, contents []byte, err error) {
	if p := getenv("GOOGLE_APPLICATION_CREDENTIALS"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return p, nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: %w", err)
		}
		return p, b, nil
	}
	p := ADCPath(getenv)
	if p == "" {
		return "", nil, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil, nil
	}
	if err != nil {
		return p, nil, fmt.Errorf("read %s: %w", p, err)
	}
	return p, b, nil
}

// ADCPath is where gcloud keeps application default credentials:
// $CLOUDSDK_CONFIG/application_default_credentials.json, else
// $HOME/.config/gcloud/application_default_credentials.json ("" without HOME).
func ADCPath(getenv func(string) string) string {
	if d := GcloudConfigDir(getenv); d != "" {
		return filepath.Join(d, "application_default_credentials.json")
	}
	return ""
}

// GcloudConfigDir is gcloud's configuration directory: $CLOUDSDK_CONFIG, else
// $HOME/.config/gcloud ("" without HOME).
func GcloudConfigDir(getenv func(string) string) string {
	if d := getenv("CLOUDSDK_CONFIG"); d != "" {
		return d
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "gcloud")
	}
	return ""
}

// serviceAccountKey is the part of a key file that signs ID-token assertions.
type serviceAccountKey struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
}

// GoogleTokenURI is Google's OAuth 2.0 token endpoint, the token_uri of credential files
// that name none.
const GoogleTokenURI = "https://oauth2.googleapis.com/token"

func (id Identity) fromCredentials(ctx context.Context, path string, b []byte) (string, error) {
	var k serviceAccountKey
	if err := json.Unmarshal(b, &k); err != nil {
		return "", fmt.Errorf("credentials %s are not JSON", path)
	}
	switch k.Type {
	case "service_account":
	case "authorized_user":
		return "", fmt.Errorf("the local Google credentials (%s) are a user account: Google issues user ID tokens only through gcloud; pass --id-token \"$(gcloud auth print-identity-token)\" or set GCPCONN_ID_TOKEN", path)
	default:
		return "", fmt.Errorf("the local Google credentials (%s) are of type %q, which cannot sign ID tokens here; pass --id-token or set GCPCONN_ID_TOKEN", path, k.Type)
	}
	tokenURI := k.TokenURI
	if tokenURI == "" {
		tokenURI = GoogleTokenURI
	}
	assertion, err := ServiceAccountAssertion(k.PrivateKey, k.PrivateKeyID, k.ClientEmail, tokenURI, id.Now(),
		map[string]any{"target_audience": id.Audience})
	if err != nil {
		return "", fmt.Errorf("service account key %s: %w", path, err)
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	tok, err := id.postForIDToken(ctx, tokenURI, "application/x-www-form-urlencoded", form.Encode())
	if err != nil {
		return "", fmt.Errorf("ID token for %s: %w", k.ClientEmail, err)
	}
	return tok, nil
}

// metadataToken asks the metadata server for an ID token of the runtime's identity.
func (id Identity) metadataToken(ctx context.Context) (string, error) {
	host := id.Getenv("GCE_METADATA_HOST")
	if host == "" {
		host = "metadata.google.internal"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	u := "http://" + host + "/computeMetadata/v1/instance/service-accounts/default/identity?format=full&audience=" + url.QueryEscape(id.Audience)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := id.HTTP.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("metadata server answered %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// postJSON sends req and decodes a 200 JSON answer; error bodies are summarised, never echoed
// whole (they may hold tokens).
func (id Identity) postJSON(req *http.Request, out any) error {
	resp, err := id.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       any    `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(b, &e)
		msg := e.Description
		if msg == "" {
			if m, ok := e.Error.(map[string]any); ok {
				msg, _ = m["message"].(string)
			} else if s, ok := e.Error.(string); ok {
				msg = s
			}
		}
		return fmt.Errorf("%s: %s", resp.Status, msg)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

func parseRSAKey(p string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("private_key is not PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, errors.New("private_key is not an RSA key")
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("private_key is neither PKCS#8 nor PKCS#1")
	}
	return k, nil
}

// ServiceAccountAssertion signs, with a service-account key (PEM), the JWT-bearer assertion
// that Google's token endpoint exchanges for a token: iss and sub are email, aud the token
// URI, valid for an hour from now; extra adds claims such as "scope" (an access token) or
// "target_audience" (an ID token).
func ServiceAccountAssertion(privateKeyPEM, keyID, email, aud string, now time.Time, extra map[string]any) (string, error) {
	key, err := parseRSAKey(privateKeyPEM)
	if err != nil {
		return "", err
	}
	claims := map[string]any{"iss": email, "sub": email, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	return signJWT(key, keyID, claims)
}

func signJWT(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	h := map[string]string{"alg": "RS256", "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	hb, _ := json.Marshal(h)
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// jwtExpiry reads exp from a JWT without verifying it (the server verifies); unknown means
// five minutes from now.
func jwtExpiry(tok string, now time.Time) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var c struct {
				Exp int64 `json:"exp"`
			}
			if json.Unmarshal(b, &c) == nil && c.Exp > 0 {
				return time.Unix(c.Exp, 0)
			}
		}
	}
	return now.Add(5 * time.Minute)
}
