package configschema

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
)

// TestParseValues checks what Parse returns for accepted configurations: plain fields,
// secret fields (compact JSON, by field name), the parsed credentials and the project_id
// default.
func TestParseValues(t *testing.T) {
	key := credjsontest.ServiceAccountKey(nil)
	falseV := false
	tests := []struct {
		name   string
		method AuthMethod
		raw    map[string]any
		want   Parsed // Key and External are checked as present or not
		key    bool
		ext    bool
	}{
		{"service-account defaults project_id to the key's", ServiceAccount,
			map[string]any{"service_account_json": key, "generate_temporary_tokens": "false"},
			Parsed{ProjectID: "key-project", GenerateTemporaryTokens: &falseV,
				Secrets: SecretValues{"service_account_json": credjsontest.JSON(key)}}, true, false},
		{"service-account key as a string with spaces is compacted", ServiceAccount,
			map[string]any{"project_id": "my-project", "service_account_json": " " + credjsontest.JSON(key) + "\n"},
			Parsed{ProjectID: "my-project", Secrets: SecretValues{"service_account_json": credjsontest.JSON(key)}}, true, false},
		{"impersonation delegates as a comma-separated string", Impersonation,
			map[string]any{"project_id": "my-project", "target_principal": "t@my-project.iam.gserviceaccount.com",
				"delegates": "a@my-project.iam.gserviceaccount.com, b@my-project.iam.gserviceaccount.com"},
			Parsed{ProjectID: "my-project", TargetPrincipal: "t@my-project.iam.gserviceaccount.com",
				Delegates: []string{"a@my-project.iam.gserviceaccount.com", "b@my-project.iam.gserviceaccount.com"},
				Secrets:   SecretValues{}}, false, false},
		{"oauth2-token: null and empty fields are absent", OAuth2Token,
			map[string]any{"project_id": "my-project", "token": "ya29.SECRET", "service_account_email": ""},
			Parsed{ProjectID: "my-project", Secrets: SecretValues{"token": "ya29.SECRET"}}, false, false},
		{"external-account", ExternalAccount,
			map[string]any{"project_id": "my-project", "external_account_json": credjsontest.ExternalAccount(nil)},
			Parsed{ProjectID: "my-project", Secrets: SecretValues{"external_account_json": credjsontest.JSON(credjsontest.ExternalAccount(nil))}}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Lookup(tt.method).Parse(tt.raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.ProjectID != tt.want.ProjectID || got.TargetPrincipal != tt.want.TargetPrincipal ||
				got.ServiceAccountEmail != tt.want.ServiceAccountEmail || !slices.Equal(got.Delegates, tt.want.Delegates) {
				t.Errorf("plain fields = %+v, want %+v", got, tt.want)
			}
			if (got.GenerateTemporaryTokens == nil) != (tt.want.GenerateTemporaryTokens == nil) ||
				got.GenerateTemporaryTokens != nil && *got.GenerateTemporaryTokens != *tt.want.GenerateTemporaryTokens {
				t.Errorf("GenerateTemporaryTokens = %v, want %v", got.GenerateTemporaryTokens, tt.want.GenerateTemporaryTokens)
			}
			if len(got.Secrets) != len(tt.want.Secrets) {
				t.Errorf("secret fields = %d, want %d", len(got.Secrets), len(tt.want.Secrets))
			}
			for k, v := range tt.want.Secrets {
				if got.Secrets[k] != v {
					t.Errorf("secret %s differs from the compact JSON", k)
				}
			}
			if s := fmt.Sprintf("%v %+v %#v %s", got, got, got, got.Secrets); strings.Contains(s, "SECRET") || strings.Contains(s, "private_key") {
				t.Errorf("printing the parsed configuration reveals a secret value: %s", s)
			}
			if (got.Key != nil) != tt.key || (got.External != nil) != tt.ext {
				t.Errorf("parsed key %v, external %v; want %v, %v", got.Key != nil, got.External != nil, tt.key, tt.ext)
			}
		})
	}
}

// TestParseRefusals checks that refusals are *Error values naming the field under
// "configuration." with the message, and never quote a secret value.
func TestParseRefusals(t *testing.T) {
	tests := []struct {
		name   string
		method AuthMethod
		raw    map[string]any
		field  string
		msg    string
	}{
		{"unknown field names its owner", Implicit, map[string]any{"project_id": "my-project", "token": "x"},
			"configuration.token", `unknown configuration field "token" for auth method implicit (it belongs to auth method oauth2-token); accepted fields: project_id, generate_temporary_tokens`},
		{"missing required field", UserAccount, map[string]any{"project_id": "my-project"},
			"configuration.user_account_json", "user_account_json is required for auth method user-account (User account credentials JSON)"},
		{"missing project_id", OAuth2Token, map[string]any{"token": "ya29.SECRET"},
			"configuration.project_id", "project_id is required for auth method oauth2-token: the project the connector's resources live in"},
		{"true-only field", Impersonation, map[string]any{"project_id": "my-project", "target_principal": "t@my-project.iam.gserviceaccount.com", "generate_temporary_tokens": false},
			"configuration.generate_temporary_tokens", "generate_temporary_tokens cannot be false for auth method impersonation: the source key is never handed out, only tokens of the target"},
		{"credential JSON of the wrong type", ServiceAccount, map[string]any{"service_account_json": credjsontest.AuthorizedUser(nil)},
			"configuration.service_account_json", `type`},
		{"token with Bearer", OAuth2Token, map[string]any{"project_id": "my-project", "token": "Bearer SECRET"},
			"configuration.token", "token must be printable ASCII without spaces"},
		{"delegates include the target", Impersonation, map[string]any{"project_id": "my-project",
			"target_principal": "t@my-project.iam.gserviceaccount.com", "delegates": []any{"t@my-project.iam.gserviceaccount.com"}},
			"configuration.delegates", `delegates must not include target_principal "t@my-project.iam.gserviceaccount.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Lookup(tt.method).Parse(tt.raw)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse error = %v (%T), want *Error", err, err)
			}
			if e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("Parse error = %s: %q, want %s: containing %q", e.Field, e.Message, tt.field, tt.msg)
			}
			if strings.Contains(e.Error(), "SECRET") {
				t.Errorf("the message quotes a secret value: %q", e.Message)
			}
		})
	}
}

// TestSecretFields checks SecretFields against the JSON Schema's password fields, the
// schema the type spec publishes.
func TestSecretFields(t *testing.T) {
	for _, spec := range AuthMethodSpecs() {
		var want []string
		for name, p := range spec.ConfigSchema["properties"].(map[string]any) {
			if p.(map[string]any)["format"] == "password" {
				want = append(want, name)
			}
		}
		got := Lookup(AuthMethod(spec.AuthMethod)).SecretFields()
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
			t.Errorf("%s: SecretFields = %v, schema's password fields %v", spec.AuthMethod, got, want)
		}
	}
}
