package connector

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/credjson"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// TestNewConnectorAuthMethods registers a valid connector of every auth method and checks
// the secret/non-secret split: secret values land in Secrets (as compact JSON for *_json
// fields, given as an object or a string), the rest in Config.
func TestNewConnectorAuthMethods(t *testing.T) {
	tests := []struct {
		method      AuthMethod
		changes     map[string]any
		wantSecrets []string
		wantConfig  Config
	}{
		{configschema.Implicit, nil, nil, Config{ProjectID: "my-project"}},
		{configschema.UserAccount, nil, []string{configschema.FieldUserAccountJSON}, Config{ProjectID: "my-project"}},
		{configschema.UserAccount, map[string]any{"user_account_json": rulesJSON(rulesUser(nil)), "generate_temporary_tokens": false},
			[]string{configschema.FieldUserAccountJSON}, Config{ProjectID: "my-project", GenerateTemporaryTokens: new(false)}},
		{configschema.ServiceAccount, nil, []string{configschema.FieldServiceAccountJSON}, Config{ProjectID: "my-project"}},
		{configschema.ServiceAccount, map[string]any{"project_id": nil}, []string{configschema.FieldServiceAccountJSON}, Config{ProjectID: "key-project"}},
		{configschema.ServiceAccount, map[string]any{"generate_temporary_tokens": "true"}, []string{configschema.FieldServiceAccountJSON},
			Config{ProjectID: "my-project", GenerateTemporaryTokens: new(true)}},
		{configschema.ExternalAccount, nil, []string{configschema.FieldExternalAccountJSON}, Config{ProjectID: "my-project"}},
		{configschema.ExternalAccount, map[string]any{"external_account_json": rulesExternal(map[string]any{"credential_source": rulesAWSSource(),
			"subject_token_type": credjson.SubjectTokenAWS4Request})}, []string{configschema.FieldExternalAccountJSON}, Config{ProjectID: "my-project"}},
		{configschema.OAuth2Token, nil, []string{configschema.FieldToken}, Config{ProjectID: "my-project"}},
		{configschema.OAuth2Token, map[string]any{"service_account_email": "ci@my-project.iam.gserviceaccount.com"}, []string{configschema.FieldToken},
			Config{ProjectID: "my-project", ServiceAccountEmail: "ci@my-project.iam.gserviceaccount.com"}},
		{configschema.Impersonation, nil, []string{configschema.FieldServiceAccountJSON},
			Config{ProjectID: "my-project", TargetPrincipal: "bucket-writer@my-project.iam.gserviceaccount.com"}},
		{configschema.Impersonation, map[string]any{"service_account_json": nil, "delegates": "hop-one@my-project.iam.gserviceaccount.com, hop-two@my-project.iam.gserviceaccount.com"}, nil,
			Config{ProjectID: "my-project", TargetPrincipal: "bucket-writer@my-project.iam.gserviceaccount.com",
				Delegates: []string{"hop-one@my-project.iam.gserviceaccount.com", "hop-two@my-project.iam.gserviceaccount.com"}}},
		{configschema.Impersonation, map[string]any{"generate_temporary_tokens": true}, []string{configschema.FieldServiceAccountJSON},
			Config{ProjectID: "my-project", TargetPrincipal: "bucket-writer@my-project.iam.gserviceaccount.com", GenerateTemporaryTokens: new(true)}},
	}
	for _, tt := range tests {
		t.Run(string(tt.method), func(t *testing.T) {
			req := rulesRequest(tt.method, tt.changes)
			c, sec := rulesRegister(t, req)
			if c.AuthMethod != tt.method || c.Type != TypeGCP || c.Name != req.Name {
				t.Errorf("NewConnector: method, type, name = %s, %s, %s; want %s, gcp, %s", c.AuthMethod, c.Type, c.Name, tt.method, req.Name)
			}
			if !slices.Equal(c.SecretFields, tt.wantSecrets) {
				t.Errorf("NewConnector(%s).SecretFields = %v; want %v", tt.method, c.SecretFields, tt.wantSecrets)
			}
			if got := slices.Sorted(maps.Keys(sec.Fields())); !slices.Equal(got, tt.wantSecrets) {
				t.Errorf("NewConnector(%s) secrets hold %v; want %v", tt.method, got, tt.wantSecrets)
			}
			if !configEqual(c.Config, tt.wantConfig) {
				t.Errorf("NewConnector(%s).Config = %+v; want %+v", tt.method, c.Config, tt.wantConfig)
			}
			for field, v := range sec.Fields() {
				if field == configschema.FieldToken {
					continue
				}
				var obj map[string]any
				if err := json.Unmarshal([]byte(v), &obj); err != nil || obj["type"] == nil {
					t.Errorf("secret %s is not a JSON object: %v", field, err)
				}
				if strings.ContainsAny(v, "\n\t") || strings.Contains(v, ": ") {
					t.Errorf("secret %s is not compact JSON", field)
				}
			}
		})
	}
}

func configEqual(a, b Config) bool {
	return a.ProjectID == b.ProjectID && a.ServiceAccountEmail == b.ServiceAccountEmail &&
		a.TargetPrincipal == b.TargetPrincipal && slices.Equal(a.Delegates, b.Delegates) &&
		(a.GenerateTemporaryTokens == nil) == (b.GenerateTemporaryTokens == nil) &&
		(a.GenerateTemporaryTokens == nil || *a.GenerateTemporaryTokens == *b.GenerateTemporaryTokens)
}

// TestCredentialJSONObjectAndStringAgree checks that a *_json value given as an object and as
// a (pretty-printed) string are stored as the same compact JSON content.
func TestCredentialJSONObjectAndStringAgree(t *testing.T) {
	obj := rulesUser(nil)
	pretty, _ := json.MarshalIndent(obj, "", "  ")
	_, fromObj := rulesRegister(t, rulesRequest(configschema.UserAccount, map[string]any{"user_account_json": obj}))
	_, fromStr := rulesRegister(t, rulesRequest(configschema.UserAccount, map[string]any{"user_account_json": string(pretty)}))
	var a, b map[string]any
	if err := json.Unmarshal([]byte(fromObj.UserAccountJSON), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(fromStr.UserAccountJSON), &b); err != nil {
		t.Fatal(err)
	}
	if rulesJSON(a) != rulesJSON(b) {
		t.Errorf("object and string spellings stored different content")
	}
	if strings.Contains(fromStr.UserAccountJSON, "\n") {
		t.Errorf("string spelling stored with newlines; want compact JSON")
	}
}

// TestNewConnectorMalformed lists malformed registrations with the field and message each
// gets. Every message is checked for the absence of secret values.
func TestNewConnectorMalformed(t *testing.T) {
	past := rulesNow.Add(-time.Minute)
	soon := rulesNow.Add(3 * time.Minute)
	far := rulesNow.Add(13 * time.Hour)
	later := rulesNow.Add(time.Hour)
	withReq := func(m AuthMethod, changes map[string]any, edit func(*RegisterRequest)) RegisterRequest {
		r := rulesRequest(m, changes)
		if edit != nil {
			edit(&r)
		}
		return r
	}
	tests := []struct {
		name      string
		req       RegisterRequest
		wantField string
		wantMsg   string
		wantKind  Kind // "" means ErrInvalid
	}{
		// name, type, method
		{"empty name", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Name = "" }), "name", "the name is empty", ""},
		{"uppercase name", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Name = "Team" }), "name", "must start with a lowercase letter", ""},
		{"name with underscore", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Name = "team_a" }), "name", "only lowercase letters (a-z), digits and hyphens", ""},
		{"unknown type", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Type = "aws" }), "type", `gcpconn serves only "gcp"`, ""},
		{"missing auth method", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.AuthMethod = "" }), "auth_method", "auth_method is required; one of: implicit, user-account", ""},
		{"unknown auth method", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.AuthMethod = "password" }), "auth_method", `unknown auth method "password"`, ""},

		// configuration fields
		{"unknown field", rulesRequest(configschema.ServiceAccount, map[string]any{"region": "us"}), "configuration.region",
			`unknown configuration field "region" for auth method service-account; accepted fields: project_id, service_account_json, generate_temporary_tokens`, ""},
		{"field of another method", rulesRequest(configschema.ServiceAccount, map[string]any{"target_principal": "x@p.iam.gserviceaccount.com"}),
			"configuration.target_principal", "(it belongs to auth method impersonation)", ""},
		{"generate_temporary_tokens on oauth2-token", rulesRequest(configschema.OAuth2Token, map[string]any{"generate_temporary_tokens": true}),
			"configuration.generate_temporary_tokens", "does not apply to auth method oauth2-token", ""},
		{"missing project", rulesRequest(configschema.Implicit, map[string]any{"project_id": nil}), "configuration.project_id",
			"project_id is required for auth method implicit", ""},
		{"empty project", rulesRequest(configschema.UserAccount, map[string]any{"project_id": ""}), "configuration.project_id",
			"project_id is required for auth method user-account: the project the connector's resources live in", ""},
		{"missing project, key without one", rulesRequest(configschema.ServiceAccount, map[string]any{"project_id": nil,
			"service_account_json": rulesSAKey(map[string]any{"project_id": nil})}), "configuration.project_id",
			"the service account key has no project_id to default to", ""},
		{"project is a number", rulesRequest(configschema.Implicit, map[string]any{"project_id": 1234567}), "configuration.project_id", "project_id must be a string", ""},
		{"project number as string", rulesRequest(configschema.Implicit, map[string]any{"project_id": "1234567"}), "configuration.project_id", "is a project number", ""},
		{"project too short", rulesRequest(configschema.Implicit, map[string]any{"project_id": "abc"}), "configuration.project_id", "must be 6 to 30 characters long", ""},
		{"missing user json", rulesRequest(configschema.UserAccount, map[string]any{"user_account_json": nil}), "configuration.user_account_json",
			"user_account_json is required for auth method user-account", ""},
		{"missing key", rulesRequest(configschema.ServiceAccount, map[string]any{"service_account_json": nil}), "configuration.service_account_json",
			"service_account_json is required for auth method service-account", ""},
		{"missing external json", rulesRequest(configschema.ExternalAccount, map[string]any{"external_account_json": nil}), "configuration.external_account_json",
			"external_account_json is required", ""},
		{"missing token", rulesRequest(configschema.OAuth2Token, map[string]any{"token": nil}), "configuration.token", "token is required for auth method oauth2-token", ""},
		{"missing target", rulesRequest(configschema.Impersonation, map[string]any{"target_principal": nil}), "configuration.target_principal",
			"target_principal is required for auth method impersonation", ""},
		{"json as number", rulesRequest(configschema.ServiceAccount, map[string]any{"service_account_json": 42}), "configuration.service_account_json",
			"must be a JSON object or a string holding one", ""},
		{"json string not JSON", rulesRequest(configschema.ServiceAccount, map[string]any{"service_account_json": "SECRET-not-json"}),
			"configuration.service_account_json", "is not valid JSON", ""},
		{"json of the wrong type", rulesRequest(configschema.UserAccount, map[string]any{"user_account_json": rulesSAKey(nil)}),
			"configuration.user_account_json", `type is "service_account", but user_account_json (auth method user-account) needs type "authorized_user"`, ""},
		{"key with evil token_uri", rulesRequest(configschema.ServiceAccount, map[string]any{"service_account_json": rulesSAKey(map[string]any{"token_uri": "https://oauth2.googleapis.com.evil.com/token"})}),
			"configuration.service_account_json", "token_uri is not on an accepted Google host", ""},
		{"token not a string", rulesRequest(configschema.OAuth2Token, map[string]any{"token": 12}), "configuration.token", "token must be a string", ""},
		{"token with spaces", rulesRequest(configschema.OAuth2Token, map[string]any{"token": "ya29 SECRET"}), "configuration.token", "printable ASCII without spaces", ""},
		{"token with Bearer", rulesRequest(configschema.OAuth2Token, map[string]any{"token": "Bearer.ya29SECRET"}), "configuration.token", `without "Bearer"`, ""},
		{"token is a key JSON", rulesRequest(configschema.OAuth2Token, map[string]any{"token": `{"private_key":"SECRET"}`}), "configuration.token", "looks like a credential JSON", ""},
		{"token too long", rulesRequest(configschema.OAuth2Token, map[string]any{"token": "SECRET" + strings.Repeat("a", configschema.MaxTokenBytes)}), "configuration.token", "at most 8192 are accepted", ""},
		{"service_account_email not an SA", rulesRequest(configschema.OAuth2Token, map[string]any{"service_account_email": "me@example.com"}),
			"configuration.service_account_email", "the domain must end in .gserviceaccount.com", ""},
		{"target not an SA", rulesRequest(configschema.Impersonation, map[string]any{"target_principal": "writer"}), "configuration.target_principal",
			"it must have exactly one @", ""},
		{"delegates not a list", rulesRequest(configschema.Impersonation, map[string]any{"delegates": 7}), "configuration.delegates", "must be a list of service account emails", ""},
		{"delegate not an SA", rulesRequest(configschema.Impersonation, map[string]any{"delegates": []any{"x@gmail.com"}}), "configuration.delegates",
			`delegates[0] "x@gmail.com" is not a service account email`, ""},
		{"delegate twice", rulesRequest(configschema.Impersonation, map[string]any{"delegates": []any{"a1@p.iam.gserviceaccount.com", "a1@p.iam.gserviceaccount.com"}}),
			"configuration.delegates", "lists \"a1@p.iam.gserviceaccount.com\" twice", ""},
		{"delegates include target", rulesRequest(configschema.Impersonation, map[string]any{"delegates": []any{"bucket-writer@my-project.iam.gserviceaccount.com"}}),
			"configuration.delegates", "must not include target_principal", ""},
		{"too many delegates", rulesRequest(configschema.Impersonation, map[string]any{"delegates": strings.Repeat("d@p.iam.gserviceaccount.com,", 11)}),
			"configuration.delegates", "at most 10 are accepted", ""},
		{"generate not a bool", rulesRequest(configschema.ServiceAccount, map[string]any{"generate_temporary_tokens": "yes"}),
			"configuration.generate_temporary_tokens", "must be true or false", ""},
		{"implicit without temporary tokens", rulesRequest(configschema.Implicit, map[string]any{"generate_temporary_tokens": false}),
			"configuration.generate_temporary_tokens", "cannot be false for auth method implicit: the service's own credentials are never handed out", ""},
		{"impersonation without temporary tokens", rulesRequest(configschema.Impersonation, map[string]any{"generate_temporary_tokens": "false"}),
			"configuration.generate_temporary_tokens", "cannot be false for auth method impersonation", ""},

		// shape
		{"unknown resource type", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.ResourceType = "s3-bucket" }), "resource_type",
			`unknown resource type "s3-bucket"; known types: gcp-generic, gcs-bucket, kubernetes-cluster, docker-registry`, ""},
		{"unknown type in list", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.ResourceTypes = []ResourceType{resourceid.GCSBucket, "vm"} }), "resource_types",
			`unknown resource type "vm"`, ""},
		{"type listed twice", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.ResourceTypes = []ResourceType{resourceid.GCSBucket, resourceid.GCSBucket} }), "resource_types",
			`resource type "gcs-bucket" is listed twice`, ""},
		{"type and types disagree", withReq(configschema.Implicit, nil, func(r *RegisterRequest) {
			r.ResourceType, r.ResourceTypes = resourceid.GCSBucket, []ResourceType{resourceid.DockerRegistry}
		}), "resource_types", "give resource_type or resource_types, not both", ""},
		{"id on a multi-type connector", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.ResourceID = "gs://b-1" }), "resource_id",
			"resource_id needs exactly one resource type", ""},
		{"bad bucket id", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.ResourceType, r.ResourceID = resourceid.GCSBucket, "gs://Bad_Bucket" }), "resource_id",
			`invalid GCS bucket (gcs-bucket) resource id "gs://Bad_Bucket"`, ""},
		{"registry of another project", withReq(configschema.Implicit, nil, func(r *RegisterRequest) {
			r.ResourceType, r.ResourceID = resourceid.DockerRegistry, "europe-docker.pkg.dev/other-project/images"
		}), "resource_id", `is in project "other-project", but the connector is configured for project "my-project"`, ""},
		{"generic id of another project", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.ResourceType, r.ResourceID = resourceid.GCPGeneric, "other-project" }),
			"resource_id", `only gives access to its configured project "my-project"`, ""},

		// expiry and lifetimes
		{"oauth2 without expires_at", withReq(configschema.OAuth2Token, nil, func(r *RegisterRequest) { r.ExpiresAt = nil }), "expires_at",
			"expires_at is required for oauth2-token connectors", ""},
		{"oauth2 expired", withReq(configschema.OAuth2Token, nil, func(r *RegisterRequest) { r.ExpiresAt = &past }), "expires_at",
			"is in the past; the token has expired", ""},
		{"oauth2 nearly expired", withReq(configschema.OAuth2Token, nil, func(r *RegisterRequest) { r.ExpiresAt = &soon }), "expires_at",
			"is only 3m0s away; a token needs at least 5m0s left", ""},
		{"oauth2 expiry too far", withReq(configschema.OAuth2Token, nil, func(r *RegisterRequest) { r.ExpiresAt = &far }), "expires_at",
			"Google access tokens live at most 12 hours", ""},
		{"expires_at on a key", withReq(configschema.ServiceAccount, nil, func(r *RegisterRequest) { r.ExpiresAt = &later }), "expires_at",
			"expires_at applies only to oauth2-token connectors", ""},
		{"negative expiration", withReq(configschema.Impersonation, nil, func(r *RegisterRequest) { r.ExpirationSeconds = new(-5) }), "expiration_seconds",
			"must be a positive number of seconds", ""},
		{"expiration above max", withReq(configschema.Impersonation, nil, func(r *RegisterRequest) { r.ExpirationSeconds = new(7200) }), "expiration_seconds",
			"expiration_seconds must be between 600 and 3600 seconds (10m0s to 1h0m0s) for auth method impersonation; got 7200", ""},
		{"expiration below min", withReq(configschema.ServiceAccount, nil, func(r *RegisterRequest) { r.ExpirationSeconds = new(60) }), "expiration_seconds",
			"must be between 600 and 3600", ""},
		{"expiration on a fixed method", withReq(configschema.UserAccount, nil, func(r *RegisterRequest) { r.ExpirationSeconds = new(900) }), "expiration_seconds",
			"cannot be chosen for auth method user-account: user-account tokens come from a refresh grant", ""},
		{"expiration on oauth2-token", withReq(configschema.OAuth2Token, nil, func(r *RegisterRequest) { r.ExpirationSeconds = new(900) }), "expiration_seconds",
			"does not apply to auth method oauth2-token", ""},

		// labels, users, description
		{"label key with space", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Labels = map[string]string{"team a": "x"} }), "labels",
			`invalid label key "team a"`, ""},
		{"label key with bad prefix", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Labels = map[string]string{"Example.com/team": "x"} }), "labels",
			"the prefix before / must be a lowercase DNS subdomain", ""},
		{"label value too long", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Labels = map[string]string{"team": strings.Repeat("v", 64)} }), "labels",
			"it is longer than 63 characters", ""},
		{"label value with a comma", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Labels = map[string]string{"team": "a,b"} }), "labels",
			`invalid value "a,b" of label "team"`, ""},
		{"too many labels", withReq(configschema.Implicit, nil, func(r *RegisterRequest) {
			r.Labels = map[string]string{}
			for i := range maxLabels + 1 {
				r.Labels["k"+strings.Repeat("x", i)] = ""
			}
		}), "labels", "at most 64 labels", ""},
		{"user not an email", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Users = []string{"alice@example.com", "bob"} }), "users",
			`users[1] "bob" is not an email address: it must have exactly one @`, ""},
		{"user with a bad domain", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Users = []string{"alice@localhost"} }), "users",
			"the domain must have a dot", ""},
		{"description with control characters", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Description = "a\x00b" }), "description",
			"must not contain control characters", ""},
		{"description too long", withReq(configschema.Implicit, nil, func(r *RegisterRequest) { r.Description = strings.Repeat("d", 1025) }), "description",
			"at most 1024 are accepted", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NewConnector(tt.req, Policy{AllowImplicit: true}, rulesNow)
			checkRuleError(t, err, tt.wantKind, tt.wantField, tt.wantMsg)
		})
	}
	t.Logf("%d malformed registrations", len(tests))
}

// checkRuleError checks an error's kind, field and message, and that its message holds no
// secret value of the fixtures (they all contain "SECRET").
func checkRuleError(t *testing.T, err error, kind Kind, field, msg string) {
	t.Helper()
	if kind == "" {
		kind = ErrInvalid
	}
	if err == nil {
		t.Fatalf("got no error; want %s for %s: %q", kind, field, msg)
	}
	if got := KindOf(err); got != kind {
		t.Errorf("KindOf(%v) = %s; want %s", err, got, kind)
	}
	if got := FieldOf(err); got != field {
		t.Errorf("FieldOf(%v) = %q; want %q", err, got, field)
	}
	if got := MessageOf(err); !strings.Contains(got, msg) {
		t.Errorf("MessageOf(err) = %q; want it to contain %q", got, msg)
	}
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "PRIVATE KEY-----\n") {
		t.Errorf("error %q reveals a secret value", err)
	}
}

// TestImplicitGate checks that implicit configurations need Policy.AllowImplicit and that the
// refusal names the setting that enables them.
func TestImplicitGate(t *testing.T) {
	azure := map[string]any{"url": "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://gcp",
		"headers": map[string]any{"Metadata": "True"}, "format": map[string]any{"type": "json", "subject_token_field_name": "access_token"}}
	tests := []struct {
		name      string
		req       RegisterRequest
		gated     bool
		wantField string
	}{
		{"implicit", rulesRequest(configschema.Implicit, nil), true, "auth_method"},
		{"keyless impersonation", rulesRequest(configschema.Impersonation, map[string]any{"service_account_json": nil}), true, "configuration.service_account_json"},
		{"keyless impersonation, empty key", rulesRequest(configschema.Impersonation, map[string]any{"service_account_json": ""}), true, "configuration.service_account_json"},
		{"impersonation with a key", rulesRequest(configschema.Impersonation, nil), false, ""},
		{"external account, AWS ambient", rulesRequest(configschema.ExternalAccount, map[string]any{"external_account_json": rulesExternal(map[string]any{
			"credential_source": rulesAWSSource(), "subject_token_type": credjson.SubjectTokenAWS4Request})}), true, "configuration.external_account_json"},
		{"external account, Azure ambient", rulesRequest(configschema.ExternalAccount, map[string]any{"external_account_json": rulesExternal(map[string]any{
			"credential_source": azure})}), true, "configuration.external_account_json"},
		{"external account, caller-supplied token", rulesRequest(configschema.ExternalAccount, nil), false, ""},
		{"service account", rulesRequest(configschema.ServiceAccount, nil), false, ""},
		{"user account", rulesRequest(configschema.UserAccount, nil), false, ""},
		{"oauth2 token", rulesRequest(configschema.OAuth2Token, nil), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, sec, err := NewConnector(tt.req, Policy{}, rulesNow)
			if !tt.gated {
				if err != nil {
					t.Fatalf("NewConnector(%s, implicit disabled) = %v; want no error", tt.name, err)
				}
				if err := (Policy{}).checkImplicit(c, sec); err != nil {
					t.Errorf("Policy{}.CheckImplicit(%s) = %v; want nil", tt.name, err)
				}
				return
			}
			checkRuleError(t, err, ErrFailedPrecondition, tt.wantField, "GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true")
			c, sec, err = NewConnector(tt.req, Policy{AllowImplicit: true}, rulesNow)
			if err != nil {
				t.Fatalf("NewConnector(%s, implicit enabled) = %v; want no error", tt.name, err)
			}
			if err := (Policy{AllowImplicit: true}).checkImplicit(c, sec); err != nil {
				t.Errorf("CheckImplicit(enabled) = %v; want nil", err)
			}
			if err := (Policy{}).checkImplicit(c, sec); !errors.Is(err, ErrFailedPrecondition) {
				t.Errorf("CheckImplicit(disabled) = %v; want ErrFailedPrecondition", err)
			}
		})
	}
}

// TestConnectorShapes checks multi-type, multi-instance and single-instance registrations.
func TestConnectorShapes(t *testing.T) {
	tests := []struct {
		name          string
		rt            ResourceType
		rts           []ResourceType
		id            string
		wantTypes     []ResourceType
		wantID        string
		wantInstances bool
	}{
		{"multi-type, every type", "", nil, "", resourceid.Types, "", false},
		{"multi-type, subset in spec order", "", []ResourceType{resourceid.DockerRegistry, resourceid.GCSBucket}, "", []ResourceType{resourceid.GCSBucket, resourceid.DockerRegistry}, "", false},
		{"multi-instance buckets", resourceid.GCSBucket, nil, "", []ResourceType{resourceid.GCSBucket}, "", true},
		{"multi-instance via list", "", []ResourceType{resourceid.KubernetesCluster}, "", []ResourceType{resourceid.KubernetesCluster}, "", true},
		{"single bucket, bare name", resourceid.GCSBucket, nil, "ml-data", []ResourceType{resourceid.GCSBucket}, "gs://ml-data", false},
		{"single bucket, path dropped", resourceid.GCSBucket, nil, "gs://ml-data/raw/2026", []ResourceType{resourceid.GCSBucket}, "gs://ml-data", false},
		{"single cluster", resourceid.KubernetesCluster, nil, "projects/my-project/locations/us-east1/clusters/prod", []ResourceType{resourceid.KubernetesCluster}, "us-east1/prod", false},
		{"single registry", resourceid.DockerRegistry, nil, "https://europe-west1-docker.pkg.dev/my-project/images/app", []ResourceType{resourceid.DockerRegistry},
			"europe-west1-docker.pkg.dev/my-project/images", false},
		{"legacy gcr host", resourceid.DockerRegistry, nil, "eu.gcr.io/my-project/app", []ResourceType{resourceid.DockerRegistry}, "eu.gcr.io/my-project", false},
		{"generic defaults to the project", resourceid.GCPGeneric, nil, "", []ResourceType{resourceid.GCPGeneric}, "my-project", false},
		{"generic with the project spelled out", resourceid.GCPGeneric, nil, "projects/my-project", []ResourceType{resourceid.GCPGeneric}, "my-project", false},
		{"same type in both fields", resourceid.GCSBucket, []ResourceType{resourceid.GCSBucket}, "", []ResourceType{resourceid.GCSBucket}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := rulesRequest(configschema.ServiceAccount, nil)
			req.ResourceType, req.ResourceTypes, req.ResourceID = tt.rt, tt.rts, tt.id
			c, _ := rulesRegister(t, req)
			if !slices.Equal(c.ResourceTypes, tt.wantTypes) || c.ResourceID != tt.wantID || c.SupportsInstances != tt.wantInstances {
				t.Errorf("NewConnector(%q, %v, %q) shape = %v, %q, instances %v; want %v, %q, %v",
					tt.rt, tt.rts, tt.id, c.ResourceTypes, c.ResourceID, c.SupportsInstances, tt.wantTypes, tt.wantID, tt.wantInstances)
			}
		})
	}
}

// TestRegistrationNormalizes checks labels, users, expiry and lifetime as stored.
func TestRegistrationNormalizes(t *testing.T) {
	exp := time.Date(2026, 11, 22, 5, 0, 0, 0, time.FixedZone("CET", 3600))
	req := rulesRequest(configschema.OAuth2Token, nil)
	req.ExpiresAt = &exp
	req.Labels = map[string]string{"team": "ml", "example.com/cost-center": "C_42", "env": ""}
	req.Users = []string{"Alice@Example.com", "bob@example.com", "alice@example.com"}
	req.Description = "Temporary access\nfor the demo."
	c, _ := rulesRegister(t, req)
	if !c.ExpiresAt.Equal(exp) || c.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt = %v; want %v in UTC", c.ExpiresAt, exp)
	}
	if want := []string{"alice@example.com", "bob@example.com"}; !slices.Equal(c.Users, want) {
		t.Errorf("Users = %v; want %v", c.Users, want)
	}
	if len(c.Labels) != 3 || c.Labels["example.com/cost-center"] != "C_42" {
		t.Errorf("Labels = %v; want the three labels", c.Labels)
	}
	req.Labels["team"] = "changed"
	if c.Labels["team"] != "ml" {
		t.Errorf("the stored labels share the request's map")
	}

	imp := rulesRequest(configschema.Impersonation, nil)
	imp.ExpirationSeconds = new(900)
	c, _ = rulesRegister(t, imp)
	if c.ExpirationSeconds != 900 {
		t.Errorf("ExpirationSeconds = %d; want 900", c.ExpirationSeconds)
	}
	sa := rulesRequest(configschema.UserAccount, nil)
	sa.ExpirationSeconds = new(3600) // the fixed lifetime may be spelled out
	if c, _ = rulesRegister(t, sa); c.ExpirationSeconds != 3600 {
		t.Errorf("ExpirationSeconds = %d; want 3600", c.ExpirationSeconds)
	}
}

func TestApplyUpdate(t *testing.T) {
	base := func(t *testing.T, m AuthMethod, edit func(*RegisterRequest)) (*Connector, Secrets) {
		req := rulesRequest(m, nil)
		if edit != nil {
			edit(&req)
		}
		c, s := rulesRegister(t, req)
		c.ID, c.Owner, c.Revision, c.SecretVersion = "c0ffee", "owner@example.com", 7, "3"
		return c, s
	}
	pol := Policy{AllowImplicit: true}

	t.Run("labels only keeps everything else", func(t *testing.T) {
		c, s := base(t, configschema.ServiceAccount, nil)
		next, sec, changed, err := applyUpdate(c, s, UpdateRequest{Labels: map[string]string{"team": "ml"}}, pol, rulesNow)
		if err != nil {
			t.Fatalf("applyUpdate = %v", err)
		}
		if changed || sec != s {
			t.Errorf("secretsChanged = %v; want false and the old secrets", changed)
		}
		if next.ID != "c0ffee" || next.Owner != "owner@example.com" || next.Revision != 7 || next.SecretVersion != "3" {
			t.Errorf("identity not kept: %+v", next)
		}
		if next.Labels["team"] != "ml" || c.Labels != nil {
			t.Errorf("labels: next %v, original %v; want the new labels on the copy only", next.Labels, c.Labels)
		}
	})
	t.Run("configuration without secrets keeps the stored key", func(t *testing.T) {
		c, s := base(t, configschema.ServiceAccount, nil)
		next, sec, changed, err := applyUpdate(c, s, UpdateRequest{Configuration: map[string]any{"project_id": "new-project"}}, pol, rulesNow)
		if err != nil {
			t.Fatalf("applyUpdate = %v", err)
		}
		if changed || sec.ServiceAccountJSON != s.ServiceAccountJSON || next.Config.ProjectID != "new-project" {
			t.Errorf("got project %q, changed %v; want new-project and the kept key", next.Config.ProjectID, changed)
		}
	})
	t.Run("new key changes secrets", func(t *testing.T) {
		c, s := base(t, configschema.ServiceAccount, nil)
		key := rulesSAKey(map[string]any{"private_key": rulesPKCS1PEM(), "private_key_id": "fedcba"})
		_, sec, changed, err := applyUpdate(c, s, UpdateRequest{Configuration: map[string]any{"project_id": "my-project", "service_account_json": key}}, pol, rulesNow)
		if err != nil || !changed || sec == s {
			t.Errorf("applyUpdate(new key) = changed %v, %v; want changed", changed, err)
		}
	})
	t.Run("null removes a key: keyless impersonation", func(t *testing.T) {
		c, s := base(t, configschema.Impersonation, nil)
		u := UpdateRequest{Configuration: map[string]any{"project_id": "my-project", "service_account_json": nil,
			"target_principal": "bucket-writer@my-project.iam.gserviceaccount.com"}}
		_, _, _, err := applyUpdate(c, s, u, Policy{}, rulesNow)
		checkRuleError(t, err, ErrFailedPrecondition, "configuration.service_account_json", "keyless impersonation")
		_, sec, changed, err := applyUpdate(c, s, u, pol, rulesNow)
		if err != nil || !changed || !sec.IsZero() {
			t.Errorf("applyUpdate(keyless) = changed %v, zero %v, %v; want the key removed", changed, sec.IsZero(), err)
		}
	})
	t.Run("changing the method needs a configuration", func(t *testing.T) {
		c, s := base(t, configschema.ServiceAccount, nil)
		m := configschema.UserAccount
		_, _, _, err := applyUpdate(c, s, UpdateRequest{AuthMethod: &m}, pol, rulesNow)
		checkRuleError(t, err, "", "configuration", "changing auth_method from service-account to user-account needs the new method's configuration")
		next, sec, changed, err := applyUpdate(c, s, UpdateRequest{AuthMethod: &m,
			Configuration: map[string]any{"project_id": "my-project", "user_account_json": rulesUser(nil)}}, pol, rulesNow)
		if err != nil || !changed || sec.ServiceAccountJSON != "" || sec.UserAccountJSON == "" || next.AuthMethod != configschema.UserAccount {
			t.Errorf("applyUpdate(to user-account) = %v, changed %v; want the user JSON only", err, changed)
		}
	})
	t.Run("leaving oauth2-token drops expires_at", func(t *testing.T) {
		c, s := base(t, configschema.OAuth2Token, nil)
		m := configschema.Implicit
		next, _, _, err := applyUpdate(c, s, UpdateRequest{AuthMethod: &m, Configuration: map[string]any{"project_id": "my-project"}}, pol, rulesNow)
		if err != nil || !next.ExpiresAt.IsZero() {
			t.Errorf("applyUpdate(oauth2 → implicit) = %v, expires %v; want no expiry", err, next.ExpiresAt)
		}
	})
	t.Run("new token needs a new expires_at", func(t *testing.T) {
		c, s := base(t, configschema.OAuth2Token, nil)
		u := UpdateRequest{Configuration: map[string]any{"project_id": "my-project", "token": "ya29.SECRET-new"}}
		_, _, _, err := applyUpdate(c, s, u, pol, rulesNow)
		checkRuleError(t, err, "", "expires_at", "a new oauth2 token needs its expires_at")
		exp := rulesNow.Add(50 * time.Minute)
		u.ExpiresAt = &exp
		next, _, changed, err := applyUpdate(c, s, u, pol, rulesNow)
		if err != nil || !changed || !next.ExpiresAt.Equal(exp) {
			t.Errorf("applyUpdate(new token, expiry) = %v, changed %v, expires %v", err, changed, next.ExpiresAt)
		}
	})
	t.Run("a stored expiry near its end does not block a label update", func(t *testing.T) {
		c, s := base(t, configschema.OAuth2Token, nil)
		_, _, _, err := applyUpdate(c, s, UpdateRequest{Labels: map[string]string{"a": "b"}}, pol, c.ExpiresAt.Add(-time.Minute))
		if err != nil {
			t.Errorf("applyUpdate(labels, near expiry) = %v; want no error", err)
		}
	})
	t.Run("changing the type of a single-instance connector needs an id", func(t *testing.T) {
		c, s := base(t, configschema.ServiceAccount, func(r *RegisterRequest) { r.ResourceType, r.ResourceID = resourceid.GCSBucket, "gs://ml-data" })
		rt := resourceid.KubernetesCluster
		_, _, _, err := applyUpdate(c, s, UpdateRequest{ResourceType: &rt}, pol, rulesNow)
		checkRuleError(t, err, "", "resource_id", "the resource types change from gcs-bucket to kubernetes-cluster: give resource_id too")
		id := "us-east1/prod"
		next, _, _, err := applyUpdate(c, s, UpdateRequest{ResourceType: &rt, ResourceID: &id}, pol, rulesNow)
		if err != nil || next.ResourceID != "us-east1/prod" || !slices.Equal(next.ResourceTypes, []ResourceType{resourceid.KubernetesCluster}) {
			t.Errorf("applyUpdate(type+id) = %v, %v %q", err, next.ResourceTypes, next.ResourceID)
		}
		empty := ""
		next, _, _, err = applyUpdate(c, s, UpdateRequest{ResourceID: &empty}, pol, rulesNow)
		if err != nil || next.ResourceID != "" || !next.SupportsInstances {
			t.Errorf("applyUpdate(clear id) = %v, id %q, instances %v; want multi-instance", err, next.ResourceID, next.SupportsInstances)
		}
	})
	t.Run("generic connector follows a project change", func(t *testing.T) {
		c, s := base(t, configschema.ServiceAccount, func(r *RegisterRequest) { r.ResourceType = resourceid.GCPGeneric })
		next, _, _, err := applyUpdate(c, s, UpdateRequest{Configuration: map[string]any{"project_id": "new-project"}}, pol, rulesNow)
		if err != nil || next.ResourceID != "new-project" {
			t.Errorf("applyUpdate(project) = %v, id %q; want new-project", err, next.ResourceID)
		}
	})
	t.Run("project change puts a registry out of scope", func(t *testing.T) {
		c, s := base(t, configschema.ServiceAccount, func(r *RegisterRequest) {
			r.ResourceType, r.ResourceID = resourceid.DockerRegistry, "us-docker.pkg.dev/my-project/images"
		})
		_, _, _, err := applyUpdate(c, s, UpdateRequest{Configuration: map[string]any{"project_id": "new-project"}}, pol, rulesNow)
		checkRuleError(t, err, "", "resource_id", `is in project "my-project", but the connector is configured for project "new-project"`)
	})
	t.Run("invalid rename", func(t *testing.T) {
		c, s := base(t, configschema.Implicit, nil)
		name := "Bad Name"
		_, _, _, err := applyUpdate(c, s, UpdateRequest{Name: &name}, pol, rulesNow)
		checkRuleError(t, err, "", "name", "must start with a lowercase letter")
	})
	t.Run("unknown field in an update", func(t *testing.T) {
		c, s := base(t, configschema.Implicit, nil)
		_, _, _, err := applyUpdate(c, s, UpdateRequest{Configuration: map[string]any{"project_id": "my-project", "token": "x"}}, pol, rulesNow)
		checkRuleError(t, err, "", "configuration.token", `unknown configuration field "token" for auth method implicit (it belongs to auth method oauth2-token)`)
	})
	t.Run("expiration seconds cleared by a method change", func(t *testing.T) {
		c, s := base(t, configschema.Impersonation, func(r *RegisterRequest) { r.ExpirationSeconds = new(900) })
		m := configschema.UserAccount
		next, _, _, err := applyUpdate(c, s, UpdateRequest{AuthMethod: &m,
			Configuration: map[string]any{"project_id": "my-project", "user_account_json": rulesUser(nil)}}, pol, rulesNow)
		if err != nil || next.ExpirationSeconds != 0 {
			t.Errorf("applyUpdate(method change) = %v, expiration %d; want 0", err, next.ExpirationSeconds)
		}
	})
	t.Run("nil connector", func(t *testing.T) {
		if _, _, _, err := applyUpdate(nil, Secrets{}, UpdateRequest{}, pol, rulesNow); KindOf(err) != ErrInternal {
			t.Errorf("applyUpdate(nil) = %v; want ErrInternal", err)
		}
	})
}
