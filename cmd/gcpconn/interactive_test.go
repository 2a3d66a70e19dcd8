package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

// TestInteractive feeds the wizard's answers on stdin.
func TestInteractive(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	key, _ := s.Fake.KeyJSON(admin)
	kp := w.writeFile("key.json", key)
	answers := strings.Join([]string{
		"gcp-wizard",         // name
		"made by the wizard", // description
		"7",                  // not a choice: asked again
		"2",                  // resource type: gcs-bucket
		"service-account",    // auth method
		"@" + kp,             // service_account_json (hidden on a terminal)
		"maybe",              // generate_temporary_tokens: not a boolean, asked again
		"",                   // generate_temporary_tokens: default
		"zenml-core",         // project_id
		"gs://zenml-bucket-sl",
	}, "\n") + "\n"
	out, errOut, code := w.runProgram(answers, binDir+"/gcpconn", "register", "-i", "--type", "gcp")
	if code != 0 {
		t.Fatalf("register -i: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"Connector name: ", `"7" is not one of the choices.`, "Service account key JSON (service_account_json) [hidden; @FILE reads a file]: ",
		"must be true or false", "Resource id (blank: any gcs-bucket the credentials reach): "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("wizard prompts lack %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut+out, "PRIVATE KEY") {
		t.Errorf("the wizard echoed the key")
	}
	d := w.ok("describe", "gcp-wizard", "-o", "json")
	var got struct {
		Connector struct {
			ResourceID string `json:"resource_id"`
		} `json:"connector"`
	}
	_ = json.Unmarshal([]byte(d), &got)
	if got.Connector.ResourceID != "gs://zenml-bucket-sl" || !strings.Contains(d, `"description": "made by the wizard"`) || !strings.Contains(d, `"auth_method": "service-account"`) {
		t.Errorf("wizard's connector:\n%s", d)
	}

	// With local credentials the wizard offers auto-configuration.
	w.writeFile(".config/gcloud/application_default_credentials.json", key)
	out, errOut, code = w.runProgram("gcp-wizard-auto\n\n\ny\n", binDir+"/gcpconn", "register", "-i")
	if code != 0 || !strings.Contains(errOut, "Auto-configure from the local service_account credentials") || !strings.Contains(out, "Successfully registered service connector `gcp-wizard-auto`") {
		t.Errorf("register -i with local credentials: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestAutoConfigureMethods: oauth2-token gets a fresh access token locally (the refresh token
// stays on the machine); an impersonated_service_account ADC file becomes an impersonation
// connector.
func TestAutoConfigureMethods(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	user, _ := s.Fake.KeyJSON("user@zenml.io")
	var u map[string]any
	_ = json.Unmarshal(user, &u)
	u["token_uri"] = s.Fake.BaseURL() + "/token" // the fake's OAuth2 endpoint instead of Google's
	b, _ := json.Marshal(u)
	p := w.writeFile("user.json", b)
	w.extra = []string{"GOOGLE_APPLICATION_CREDENTIALS=" + p, "GOOGLE_CLOUD_PROJECT=zenml-core"}
	out := w.ok("register", "gcp-oauth2-token", "--auto-configure", "--auth-method", "oauth2-token", "--resource-type", "gcs-bucket", "-o", "json")
	var reg struct {
		Connector struct {
			AuthMethod string   `json:"auth_method"`
			Secrets    []string `json:"secrets"`
			ExpiresAt  string   `json:"expires_at"`
		} `json:"connector"`
		Resources struct {
			Resources []struct {
				ResourceIDs []string `json:"resource_ids"`
			} `json:"resources"`
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatal(err)
	}
	if reg.Connector.AuthMethod != "oauth2-token" || len(reg.Connector.Secrets) != 1 || reg.Connector.Secrets[0] != "token" || reg.Connector.ExpiresAt == "" ||
		len(reg.Resources.Resources) != 1 || len(reg.Resources.Resources[0].ResourceIDs) == 0 {
		t.Errorf("oauth2-token connector = %s", out)
	}

	// From a service-account key: a JWT-bearer grant, signed locally, that the fake verifies.
	admin, _ := s.Fake.KeyJSON("connectors-admin@zenml-core.iam.gserviceaccount.com")
	var k map[string]any
	_ = json.Unmarshal(admin, &k)
	k["token_uri"] = s.Fake.BaseURL() + "/token"
	kb, _ := json.Marshal(k)
	w.extra = []string{"GOOGLE_APPLICATION_CREDENTIALS=" + w.writeFile("sa.json", kb), "GOOGLE_CLOUD_PROJECT=zenml-core"}
	out = w.ok("register", "gcp-oauth2-sa", "--auto-configure", "--auth-method", "oauth2-token", "--resource-type", "gcs-bucket", "-o", "json")
	if !strings.Contains(out, `"service_account_email": "connectors-admin@zenml-core.iam.gserviceaccount.com"`) || !strings.Contains(out, "gs://zenml-bucket-sl") {
		t.Errorf("oauth2-token connector from a service-account key = %s", out)
	}

	empty, _ := s.Fake.KeyJSON(empty)
	imp := map[string]any{
		"type":                              "impersonated_service_account",
		"service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/zenml-bucket-sl@zenml-core.iam.gserviceaccount.com:generateAccessToken",
		"source_credentials":                json.RawMessage(empty),
		"delegates":                         []string{},
	}
	b, _ = json.Marshal(imp)
	p = w.writeFile("impersonated.json", b)
	w.extra = []string{"GOOGLE_APPLICATION_CREDENTIALS=" + p}
	out = w.ok("register", "gcp-impersonate-sa", "--auto-configure", "--resource-type", "gcs-bucket", "--resource-id", "gs://zenml-bucket-sl")
	if !strings.Contains(out, "gs://zenml-bucket-sl") {
		t.Errorf("impersonation connector:\n%s", out)
	}
	if d := w.ok("describe", "gcp-impersonate-sa"); !strings.Contains(d, "impersonation") || !strings.Contains(d, "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com") {
		t.Errorf("describe:\n%s", d)
	}
}
