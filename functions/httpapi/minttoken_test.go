package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
)

func TestMintToken(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)

	r := e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "alpha", "resource_type": "gcs-bucket", "resource_id": "gs://bucket-a"})
	e.expect(r, http.StatusOK, "")
	tok, _ := r.body["access_token"].(string)
	if !strings.HasPrefix(tok, "ya29.fake-") || r.body["token_type"] != "Bearer" || r.body["resource_id"] != "gs://bucket-a" {
		t.Fatalf("POST /mint-token = %s", r.raw)
	}
	if in, _ := r.body["expires_in"].(float64); in < 3000 || in > 3600 {
		t.Errorf("expires_in = %v; want about 3600", r.body["expires_in"])
	}
	lt, _ := r.body["lifetime"].(map[string]any)
	if lt == nil || lt["applied"] == nil {
		t.Errorf("lifetime = %v; want requested/applied", r.body["lifetime"])
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", r.header.Get("Cache-Control"))
	}

	// The audit entry: one per mint, with caller, connector, fingerprint; never the token.
	logs := e.logs.String()
	if strings.Contains(logs, "SECRETTOKEN") || strings.Contains(logs, "PRIVATE KEY") {
		t.Fatalf("logs reveal a secret:\n%s", logs)
	}
	var audit map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["audit"] == "mint" && m["outcome"] == "granted" {
			audit = m
		}
	}
	if audit == nil {
		t.Fatalf("no mint audit entry in logs:\n%s", logs)
	}
	want := map[string]any{"caller": user, "connector": "alpha", "resource_type": "gcs-bucket", "resource_id": "gs://bucket-a",
		"token_fingerprint": cloudlog.Fingerprint(tok), "cache_hit": false, "severity": "INFO"}
	for k, v := range want {
		if audit[k] != v {
			t.Errorf("audit[%s] = %v; want %v", k, audit[k], v)
		}
	}
	if _, ok := audit["lifetime_applied_seconds"]; !ok {
		t.Errorf("audit entry lacks lifetime_applied_seconds: %v", audit)
	}

	// Warm: the second mint is a cache hit.
	r = e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "alpha", "resource_type": "gcs-bucket", "resource_id": "gs://bucket-a"})
	e.expect(r, http.StatusOK, "")
	if r.body["access_token"] != tok {
		t.Errorf("second mint got another token; want the cached one")
	}
	if !strings.Contains(e.logs.String(), `"cache_hit":true`) {
		t.Errorf("no audit entry with cache_hit true")
	}

	for _, tc := range []struct {
		name   string
		caller string
		body   any
		status int
		code   string
	}{
		{"unknown connector", user, map[string]any{"connector": "nope", "resource_type": "gcs-bucket", "resource_id": "b"}, 404, "not_found"},
		{"not allowed", other, map[string]any{"connector": "alpha", "resource_type": "gcs-bucket", "resource_id": "b"}, 404, "not_found"},
		{"no connector", user, map[string]any{"resource_type": "gcs-bucket"}, 400, "invalid_argument"},
		{"bad resource type", user, map[string]any{"connector": "alpha", "resource_type": "floppy-disk"}, 400, "invalid_argument"},
		{"unknown field", user, map[string]any{"connector": "alpha", "ttl": 5}, 400, "invalid_argument"},
		{"lifetime wrong type", user, map[string]any{"connector": "alpha", "lifetime_seconds": "long"}, 400, "invalid_argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.expect(e.do("POST", "/mint-token", e.token(tc.caller), tc.body), tc.status, tc.code)
		})
	}
	e.t = t
	if strings.Count(e.logs.String(), `"outcome":"refused"`) < 4 {
		t.Errorf("refused mints are not audited:\n%s", e.logs.String())
	}
}

func TestMintTokenUpstreamErrors(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)
	body := map[string]any{"connector": "alpha", "resource_type": "gcp-generic"}
	for _, tc := range []struct {
		name   string
		fn     func(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error)
		status int
		code   string
	}{
		{"denied", denyToken, 502, "upstream_denied"},
		{"unavailable", unavailableToken, 503, "upstream_unavailable"},
		{"internal", func(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error) {
			return connector.Token{}, errors.New("socket exploded at 10.1.2.3 with key SECRETDETAIL")
		}, 500, "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.google.TokenFunc = tc.fn
			r := e.do("POST", "/mint-token", e.token(user), body)
			e.expect(r, tc.status, tc.code)
			if tc.code == "internal" {
				if strings.Contains(r.raw, "SECRETDETAIL") || strings.Contains(r.raw, "10.1.2.3") {
					t.Errorf("internal error details reached the caller: %s", r.raw)
				}
				if !strings.Contains(e.logs.String(), "socket exploded") {
					t.Errorf("internal error details are not logged")
				}
			}
			if tc.status == 503 && r.header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		})
	}
}

func TestMintTokenDisabledConnector(t *testing.T) {
	e := newEnv(t)
	id := e.register("alpha", nil)
	c, err := e.svc.Store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.secrets.DisableVersion(context.Background(), id, c.SecretVersion); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/mint-token", e.token(user), map[string]any{"connector": "alpha", "resource_type": "gcp-generic"})
	e.expect(r, http.StatusPreconditionFailed, "failed_precondition")
}
