package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

func denyToken(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error) {
	return connector.Token{}, connector.Errorf(connector.ErrUpstreamDenied, "Permission 'iam.serviceAccounts.getAccessToken' denied")
}

func unavailableToken(context.Context, connector.Grant, connector.TokenRequest) (connector.Token, error) {
	return connector.Token{}, &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "Google is busy", RetryAfter: 7 * time.Second}
}

func TestVerify(t *testing.T) {
	e := newEnv(t)
	e.register("alpha", nil)

	r := e.do("POST", "/verify", e.token(user), map[string]any{"connector": "alpha"})
	e.expect(r, http.StatusOK, "")
	res, _ := r.body["resources"].([]any)
	if len(res) != len(resourceid.Types) {
		t.Fatalf("POST /verify resources = %v; want one entry per resource type", r.body)
	}
	first := res[0].(map[string]any)
	if first["resource_type"] == "" || first["resource_ids"] == nil {
		t.Errorf("POST /verify first result = %v; want resource_type and resource_ids", first)
	}

	r = e.do("POST", "/verify", e.token(other), map[string]any{"spec": e.regBody("draft", nil), "resource_type": "gcs-bucket"})
	e.expect(r, http.StatusOK, "")
	if res, _ := r.body["resources"].([]any); len(res) != 1 || res[0].(map[string]any)["resource_type"] != "gcs-bucket" {
		t.Errorf("POST /verify spec for gcs-bucket = %s; want one gcs-bucket result", r.raw)
	}

	e.expect(e.do("POST", "/verify", e.token(other), map[string]any{"connector": "alpha"}), 404, "not_found")
	e.expect(e.do("POST", "/verify", e.token(user), map[string]any{"connector": "alpha", "extra": 1}), 400, "invalid_argument")
	e.expect(e.do("GET", "/verify", e.token(user), nil), 405, codeMethodNotAllowed)

	e.google.TokenFunc = denyToken
	r = e.do("POST", "/verify", e.token(user), map[string]any{"connector": "alpha"})
	e.expect(r, http.StatusOK, "")
	if msg, _ := r.body["error"].(string); !strings.Contains(msg, "denied") {
		t.Errorf("POST /verify with denied credentials: error = %q; want Google's denial", msg)
	}

	e.google.TokenFunc = unavailableToken
	r = e.do("POST", "/verify", e.token(user), map[string]any{"connector": "alpha"})
	e.expect(r, http.StatusServiceUnavailable, "upstream_unavailable")
	if got := r.header.Get("Retry-After"); got != "7" {
		t.Errorf("Retry-After = %q; want 7", got)
	}
}
