package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
)

// autoConfig is a connector configuration lifted from the local Google credentials.
type autoConfig struct {
	Method    string
	Config    map[string]any
	ExpiresAt *time.Time
	Source    string // where the credentials came from, for messages
}

// localCredentials reads the credentials file the Google libraries would use
// (client.LocalCredentials); not finding one is an error that says what to do.
func localCredentials(e *env) (path string, raw []byte, err error) {
	p, b, err := client.LocalCredentials(e.Getenv)
	switch {
	case err != nil:
		return p, nil, err
	case p == "":
		return "", nil, errors.New("no GCP credentials could be detected: HOME is not set")
	case b == nil:
		return p, nil, fmt.Errorf("no GCP credentials could be detected: set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login` (looked for %s)", p)
	case len(b) > maxConfigFileBytes:
		return p, nil, fmt.Errorf("the local credentials %s are %d bytes; gcpconn reads at most %d", p, len(b), maxConfigFileBytes)
	}
	return p, b, nil
}

// detectLocal reports whether local credentials exist, and their type, for the wizard.
func detectLocal(e *env) (path, kind string, ok bool) {
	p, b, err := localCredentials(e)
	if err != nil {
		return "", "", false
	}
	var f struct {
		Type string `json:"type"`
	}
	if unmarshalJSON(b, &f) != nil || f.Type == "" {
		return "", "", false
	}
	return p, f.Type, true
}

// credFile is the union of the Google credential file fields auto-configuration reads.
type credFile struct {
	Type                           string          `json:"type"`
	ProjectID                      string          `json:"project_id"`
	QuotaProjectID                 string          `json:"quota_project_id"`
	ClientID                       string          `json:"client_id"`
	ClientSecret                   string          `json:"client_secret"`
	RefreshToken                   string          `json:"refresh_token"`
	ClientEmail                    string          `json:"client_email"`
	PrivateKeyID                   string          `json:"private_key_id"`
	PrivateKey                     string          `json:"private_key"`
	TokenURI                       string          `json:"token_uri"`
	ServiceAccountImpersonationURL string          `json:"service_account_impersonation_url"`
	Delegates                      []string        `json:"delegates"`
	SourceCredentials              json.RawMessage `json:"source_credentials"`
}

// methodOf is the auth method a credential type configures: the mapping gcloud-style
// credential files imply, which ZenML's GCP connector also follows.
var methodOf = map[string]string{
	"authorized_user":              "user-account",
	"service_account":              "service-account",
	"external_account":             "external-account",
	"impersonated_service_account": "impersonation",
}

// autoConfigure lifts a configuration for method ("" = pick from the credential type) from
// the local credentials. project is the --project_id given, if any.
func autoConfigure(ctx context.Context, e *env, method, project string) (*autoConfig, error) {
	if method == "implicit" {
		// The server's own identity: nothing local to send but the project.
		p, err := detectProject(e, nil, project)
		if err != nil {
			return nil, err
		}
		return &autoConfig{Method: method, Config: map[string]any{"project_id": p}, Source: "the gcloud configuration"}, nil
	}
	path, raw, err := localCredentials(e)
	if err != nil {
		return nil, err
	}
	var f credFile
	if err := unmarshalJSON(raw, &f); err != nil {
		return nil, fmt.Errorf("the local credentials %s are not JSON", path)
	}
	detected, ok := methodOf[f.Type]
	if !ok {
		return nil, fmt.Errorf("the local credentials %s are of type %q, which gcpconn cannot auto-configure", path, f.Type)
	}
	ac := &autoConfig{Method: detected, Config: map[string]any{}, Source: path}
	if method == "oauth2-token" {
		return ac, oauth2TokenConfig(ctx, e, path, &f, project, ac)
	}
	if method != "" && method != detected {
		return nil, fmt.Errorf("cannot auto-configure auth method %s: the local credentials (%s) are of type %s, which configures %s (or oauth2-token)", method, path, f.Type, detected)
	}
	switch f.Type {
	case "authorized_user":
		// Only what the refresh grant needs (quota_project_id and the like are dropped).
		b, _ := json.Marshal(map[string]string{"type": f.Type, "client_id": f.ClientID, "client_secret": f.ClientSecret, "refresh_token": f.RefreshToken})
		ac.Config["user_account_json"] = string(b)
	case "service_account":
		ac.Config["service_account_json"] = strings.TrimSpace(string(raw))
	case "external_account":
		ac.Config["external_account_json"] = strings.TrimSpace(string(raw))
	case "impersonated_service_account":
		var src credFile
		if err := json.Unmarshal(f.SourceCredentials, &src); err != nil || src.Type != "service_account" {
			return nil, fmt.Errorf("the local credentials %s impersonate from %q credentials; gcpconn's impersonation method needs a service account key as the source (or none, keyless)", path, src.Type)
		}
		target, err := impersonationTarget(f.ServiceAccountImpersonationURL)
		if err != nil {
			return nil, fmt.Errorf("the local credentials %s: %w", path, err)
		}
		ac.Config["service_account_json"] = strings.TrimSpace(string(f.SourceCredentials))
		ac.Config["target_principal"] = target
		if len(f.Delegates) > 0 {
			ds := make([]string, len(f.Delegates))
			for i, d := range f.Delegates {
				ds[i] = strings.TrimPrefix(d, "projects/-/serviceAccounts/")
			}
			ac.Config["delegates"] = ds
		}
		f.ProjectID = src.ProjectID
	}
	p, err := detectProject(e, &f, project)
	if err != nil && f.Type != "service_account" {
		return nil, err
	}
	if p != "" {
		ac.Config["project_id"] = p
	}
	return ac, nil
}

// impersonationTarget extracts EMAIL from .../serviceAccounts/EMAIL:generateAccessToken.
func impersonationTarget(u string) (string, error) {
	_, rest, ok := strings.Cut(u, "/serviceAccounts/")
	email, _, ok2 := strings.Cut(rest, ":generateAccessToken")
	if !ok || !ok2 || !strings.Contains(email, "@") {
		return "", fmt.Errorf("service_account_impersonation_url %q does not name a service account", u)
	}
	return email, nil
}

// detectProject finds the project like google-auth: explicit, GOOGLE_CLOUD_PROJECT and
// friends, the credentials' own project, gcloud's active configuration, then the quota
// project of the credentials (quota_project_id, which `gcloud auth application-default
// login` writes into the ADC file). Finding none is a usage error: --project_id says it.
func detectProject(e *env, f *credFile, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	for _, k := range []string{"GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"} {
		if v := e.Getenv(k); v != "" {
			return v, nil
		}
	}
	if f != nil && f.ProjectID != "" {
		return f.ProjectID, nil
	}
	if p := gcloudProject(e); p != "" {
		return p, nil
	}
	if f != nil && f.QuotaProjectID != "" {
		return f.QuotaProjectID, nil
	}
	return "", usageErrorf("no GCP project ID could be detected: pass --project_id=ID or set the active project with `gcloud config set project ID`")
}

// gcloudProject reads core/project from gcloud's active configuration:
// $CLOUDSDK_CONFIG/active_config names it (default "default"), and
// configurations/config_NAME is an INI file.
func gcloudProject(e *env) string {
	dir := client.GcloudConfigDir(e.Getenv)
	if dir == "" {
		return ""
	}
	name := e.Getenv("CLOUDSDK_ACTIVE_CONFIG_NAME")
	if name == "" {
		name = "default"
		if b, err := os.ReadFile(filepath.Join(dir, "active_config")); err == nil && strings.TrimSpace(string(b)) != "" {
			name = strings.TrimSpace(string(b))
		}
	}
	fh, err := os.Open(filepath.Join(dir, "configurations", "config_"+name))
	if err != nil {
		return ""
	}
	defer fh.Close()
	section := ""
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && section == "core" && strings.TrimSpace(k) == "project" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// oauth2TokenConfig gets a current access token from the local credentials and configures an
// oauth2-token connector with it: only the access token and its expiry are sent.
func oauth2TokenConfig(ctx context.Context, e *env, path string, f *credFile, project string, ac *autoConfig) error {
	ac.Method = "oauth2-token"
	tokenURI := f.TokenURI
	if tokenURI == "" {
		tokenURI = client.GoogleTokenURI
	}
	form := url.Values{}
	switch f.Type {
	case "authorized_user":
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", f.RefreshToken)
		form.Set("client_id", f.ClientID)
		form.Set("client_secret", f.ClientSecret)
	case "service_account":
		assertion, err := selfSignedAssertion(f, tokenURI, e.Now())
		if err != nil {
			return fmt.Errorf("the local credentials %s: %w", path, err)
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", assertion)
		ac.Config["service_account_email"] = f.ClientEmail
	default:
		return fmt.Errorf("cannot get an OAuth 2.0 token from %s credentials (%s) locally; pass --token=TOKEN --expires-at=TIME instead", f.Type, path)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("could not fetch a GCP OAuth 2.0 token: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(b, &out)
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return fmt.Errorf("could not fetch a GCP OAuth 2.0 token: %s %s %s", resp.Status, out.Error, out.Description)
	}
	ac.Config["token"] = out.AccessToken
	exp := e.Now().Add(time.Duration(out.ExpiresIn) * time.Second).UTC().Truncate(time.Second)
	ac.ExpiresAt = &exp
	p, err := detectProject(e, f, project)
	if err != nil {
		return err
	}
	ac.Config["project_id"] = p
	ac.Source = path + " (a fresh access token)"
	return nil
}

// selfSignedAssertion is a JWT-bearer assertion for cloud-platform signed by a key file.
func selfSignedAssertion(f *credFile, aud string, now time.Time) (string, error) {
	return client.ServiceAccountAssertion(f.PrivateKey, f.PrivateKeyID, f.ClientEmail, aud, now,
		map[string]any{"scope": "https://www.googleapis.com/auth/cloud-platform"})
}
