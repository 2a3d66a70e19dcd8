package connector

import (
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
)

// Fixtures of the registration-rule tests (prefixed "rules" to stay apart from other files'
// helpers in this package).

// rulesNow is the fixed clock of the rule tests.
var rulesNow = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// The credential JSON fixtures live in credjsontest.
var (
	rulesPKCS1PEM  = credjsontest.PKCS1PEM
	rulesSAKey     = credjsontest.ServiceAccountKey
	rulesUser      = credjsontest.AuthorizedUser
	rulesExternal  = credjsontest.ExternalAccount
	rulesAWSSource = credjsontest.AWSSource
	rulesApply     = credjsontest.Apply
	rulesJSON      = credjsontest.JSON
)

// rulesRequest returns a valid registration request for method with configuration changes
// applied.
func rulesRequest(method AuthMethod, changes map[string]any) RegisterRequest {
	req := RegisterRequest{Name: "team-" + string(method), AuthMethod: method}
	cfg := map[string]any{"project_id": "my-project"}
	switch method {
	case configschema.UserAccount:
		cfg["user_account_json"] = rulesUser(nil)
	case configschema.ServiceAccount:
		cfg["service_account_json"] = rulesSAKey(nil)
	case configschema.ExternalAccount:
		cfg["external_account_json"] = rulesExternal(nil)
	case configschema.OAuth2Token:
		cfg["token"] = "ya29.SECRET-access-token"
		exp := rulesNow.Add(time.Hour)
		req.ExpiresAt = &exp
	case configschema.Impersonation:
		cfg["service_account_json"] = rulesSAKey(nil)
		cfg["target_principal"] = "bucket-writer@my-project.iam.gserviceaccount.com"
	}
	req.Configuration = rulesApply(cfg, changes)
	return req
}

// rulesRegister registers req with implicit methods allowed, failing the test on error.
func rulesRegister(t *testing.T, req RegisterRequest) (*Connector, Secrets) {
	t.Helper()
	c, s, err := NewConnector(req, Policy{AllowImplicit: true}, rulesNow)
	if err != nil {
		t.Fatalf("NewConnector(%s) = %v; want no error", req.Name, err)
	}
	return c, s
}
