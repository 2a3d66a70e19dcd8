package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/functions/client"
)

// execCredentialMargin is how long before the token's real expiry kubectl is told it
// expires, so a request never starts with a token about to lapse.
const execCredentialMargin = 2 * time.Minute

func tokenCommand() *command {
	return &command{
		Name:    "token",
		Args:    "NAME",
		Summary: "Mint a short-lived access token for one resource",
		Help: `
Prints the access token alone (for scripts: TOKEN=$(gcpconn token ...)); -o json prints the
whole answer (expiry, lifetime applied and why, docker and kubernetes details). gcs-bucket
tokens are down-scoped to the bucket (--prefix, --read-only narrow them further).

--exec-credential prints a client.authentication.k8s.io/v1 ExecCredential instead: this is
how kubectl runs gcpconn from the kubeconfig that 'gcpconn login' writes:
  gcpconn token --exec-credential CONNECTOR --resource-type kubernetes-cluster --resource-id ID

Examples:
  gcpconn token gcs-data --resource-type gcs-bucket --resource-id gs://zenml-bucket-sl --lifetime 15m
  gcpconn token gcp-auto --resource-type gcp-generic -o json
  curl -H "Authorization: Bearer $(gcpconn token gcp-auto --resource-type gcp-generic)" https://...`,
		Flags: []flagSpec{
			{Name: "resource-type", Short: "r", Value: "TYPE", Help: "the resource type (required unless the connector serves one)"},
			{Name: "resource-id", Value: "ID", Help: "the resource"},
			{Name: "lifetime", Value: "DURATION", Help: "token lifetime, e.g. 15m or 900 (seconds); the server clamps it"},
			{Name: "scope", Value: "SCOPE", Repeat: true, Help: "an OAuth scope instead of the resource type's defaults"},
			{Name: "prefix", Value: "PREFIX", Help: "gcs-bucket: only objects under this prefix"},
			{Name: "read-only", Help: "gcs-bucket: read objects only"},
			{Name: "exec-credential", Help: "print a kubectl ExecCredential (client.authentication.k8s.io/v1)"},
			subjectTokenFlag,
			{Name: "max-age", Value: "DURATION", Help: "with --exec-credential: kubectl asks again after DURATION at most (0: for every request), so a deleted connector stops working for it sooner"},
		},
		Run: runToken,
	}
}

// parseLifetime accepts a Go duration or a number of seconds.
func parseLifetime(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second {
		return 0, usageErrorf("--lifetime %q is not a duration (15m, 1h) or a number of seconds", s)
	}
	return int(d.Seconds()), nil
}

// subjectTokenFlag passes the caller's subject token to external-account connectors whose
// tokens come from one (workload identity federation from CI, another cloud, ...).
var subjectTokenFlag = flagSpec{Name: "subject-token", Value: "TOKEN",
	Help: "external-account connectors: your workload's subject token (e.g. an OIDC ID token), or @FILE; default $GCPCONN_SUBJECT_TOKEN"}

// subjectToken returns --subject-token (read from FILE for @FILE), else $GCPCONN_SUBJECT_TOKEN.
func subjectToken(e *env, p *parsed) (string, error) {
	v := p.str("subject-token")
	if v == "" {
		return strings.TrimSpace(e.Getenv("GCPCONN_SUBJECT_TOKEN")), nil
	}
	if path, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", usageErrorf("--subject-token=@%s: %v", path, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return v, nil
}

// mintCall is the preamble of the commands that mint (token, serve-metadata): the NAME
// argument, the API client and the mint request the flags describe.
func mintCall(e *env, p *parsed) (name string, c *client.Client, r client.MintRequest, err error) {
	if name, c, err = e.connectorClient(p); err != nil {
		return "", nil, r, err
	}
	secs, err := parseLifetime(p.str("lifetime"))
	if err != nil {
		return "", nil, r, err
	}
	subject, err := subjectToken(e, p)
	if err != nil {
		return "", nil, r, err
	}
	r = client.MintRequest{Connector: name, ResourceType: p.str("resource-type"), ResourceID: p.str("resource-id"),
		LifetimeSeconds: secs, Scopes: p.all("scope"), SubjectToken: subject}
	if p.has("prefix") || p.bool("read-only") {
		r.Downscope = &client.Downscope{Prefix: p.str("prefix"), ReadOnly: p.bool("read-only")}
	}
	return name, c, r, nil
}

// execCredential is kubectl's ExecCredential (client.authentication.k8s.io/v1).
type execCredential struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Status     execCredentialStatus `json:"status"`
}

type execCredentialStatus struct {
	Token               string `json:"token"`
	ExpirationTimestamp string `json:"expirationTimestamp"`
}

// newExecCredential tells kubectl to use cred's token until a little before it expires, or
// for maxAge at most when maxAge >= 0.
func newExecCredential(cred *client.Credential, now time.Time, maxAge time.Duration) execCredential {
	exp := cred.ExpiresAt.Add(-execCredentialMargin)
	if exp.Before(now) {
		exp = cred.ExpiresAt
	}
	if maxAge >= 0 && now.Add(maxAge).Before(exp) {
		exp = now.Add(maxAge)
	}
	return execCredential{APIVersion: "client.authentication.k8s.io/v1", Kind: "ExecCredential",
		Status: execCredentialStatus{Token: cred.AccessToken, ExpirationTimestamp: exp.UTC().Format(time.RFC3339)}}
}

func runToken(ctx context.Context, e *env, p *parsed) error {
	name, c, r, err := mintCall(e, p)
	if err != nil {
		return err
	}
	maxAge := time.Duration(-1)
	if v := p.str("max-age"); v != "" {
		if !p.bool("exec-credential") {
			return usageErrorf("--max-age goes with --exec-credential")
		}
		if maxAge, err = time.ParseDuration(v); err != nil || maxAge < 0 {
			return usageErrorf("--max-age %q is not a duration such as 5m", v)
		}
	}
	cred, err := c.Mint(ctx, r)
	if err != nil {
		return err
	}
	if p.bool("exec-credential") {
		if cred.AccessToken == "" {
			return fmt.Errorf("connector '%s' hands out its stored credentials (generate_temporary_tokens=false), not a token kubectl can use", name)
		}
		b, err := json.Marshal(newExecCredential(cred, e.Now(), maxAge))
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(e.Stdout, string(b))
		return err
	}
	if e.json() {
		return e.printJSON(cred)
	}
	if cred.Lifetime.Reason != "" {
		fmt.Fprintf(e.Stderr, "Token lifetime %s: %s\n", time.Duration(cred.Lifetime.Applied)*time.Second, cred.Lifetime.Reason)
	}
	if cred.AccessToken == "" && cred.CredentialsJSON != "" {
		fmt.Fprintln(e.Stderr, "This connector hands out its stored credentials (generate_temporary_tokens=false):")
		_, err = fmt.Fprintln(e.Stdout, strings.TrimSpace(cred.CredentialsJSON))
		return err
	}
	_, err = fmt.Fprintln(e.Stdout, cred.AccessToken)
	return err
}
