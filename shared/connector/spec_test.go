package connector

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/typespec"
)

// TestSpecAuthMethods checks every auth method's required and secret fields as the spec
// publishes them, and its lifetimes.
func TestSpecAuthMethods(t *testing.T) {
	tests := []struct {
		method       AuthMethod
		fields       []string
		required     []string
		secret       []string
		min, def, mx int // 0: no lifetime settings
		implicit     string
	}{
		{configschema.Implicit, []string{"project_id", "generate_temporary_tokens"}, []string{"project_id"}, nil, 3600, 3600, 3600, "always"},
		{configschema.UserAccount, []string{"project_id", "user_account_json", "generate_temporary_tokens"}, []string{"project_id", "user_account_json"},
			[]string{"user_account_json"}, 3600, 3600, 3600, ""},
		{configschema.ServiceAccount, []string{"project_id", "service_account_json", "generate_temporary_tokens"}, []string{"service_account_json"},
			[]string{"service_account_json"}, 600, 3600, 3600, ""},
		{configschema.ExternalAccount, []string{"project_id", "external_account_json", "generate_temporary_tokens"}, []string{"project_id", "external_account_json"},
			[]string{"external_account_json"}, 3600, 3600, 3600, "ambient-source"},
		{configschema.OAuth2Token, []string{"project_id", "token", "service_account_email"}, []string{"project_id", "token"}, []string{"token"}, 0, 0, 0, ""},
		{configschema.Impersonation, []string{"project_id", "service_account_json", "target_principal", "delegates", "generate_temporary_tokens"},
			[]string{"project_id", "target_principal"}, []string{"service_account_json"}, 600, 3600, 3600, "keyless"},
	}
	spec := Spec()
	if len(spec.AuthMethods) != len(tests) {
		t.Fatalf("Spec() has %d auth methods; want %d", len(spec.AuthMethods), len(tests))
	}
	for i, tt := range tests {
		t.Run(string(tt.method), func(t *testing.T) {
			am, ok := methodSpec(spec, tt.method)
			if !ok || spec.AuthMethods[i].AuthMethod != string(tt.method) {
				t.Fatalf("Spec().AuthMethods[%d] = %q; want %q", i, spec.AuthMethods[i].AuthMethod, tt.method)
			}
			s := am.ConfigSchema
			props := s["properties"].(map[string]any)
			var fields, secret []string
			for name, p := range props {
				fields = append(fields, name)
				pm := p.(map[string]any)
				if pm["format"] == "password" {
					secret = append(secret, name)
					if pm["writeOnly"] != true {
						t.Errorf("secret field %s lacks writeOnly: true", name)
					}
				}
				if pm["title"] == "" || pm["description"] == "" || pm["type"] == nil {
					t.Errorf("field %s lacks a title, description or type", name)
				}
			}
			slices.Sort(fields)
			want := slices.Sorted(slices.Values(tt.fields))
			if !slices.Equal(fields, want) {
				t.Errorf("%s fields = %v; want %v", tt.method, fields, want)
			}
			slices.Sort(secret)
			if !slices.Equal(secret, tt.secret) {
				t.Errorf("%s secret fields = %v; want %v", tt.method, secret, tt.secret)
			}
			var required []string
			for _, r := range s["required"].([]any) {
				required = append(required, r.(string))
			}
			if !slices.Equal(required, tt.required) {
				t.Errorf("%s required = %v; want %v", tt.method, required, tt.required)
			}
			if s["additionalProperties"] != false || s["type"] != "object" {
				t.Errorf("%s schema must be a closed object", tt.method)
			}
			lifetimes := []*int{am.MinExpirationSeconds, am.DefaultExpirationSeconds, am.MaxExpirationSeconds}
			for j, want := range []int{tt.min, tt.def, tt.mx} {
				if got := lifetimes[j]; (want == 0) != (got == nil) || (got != nil && *got != want) {
					t.Errorf("%s lifetime %d = %v; want %d", tt.method, j, got, want)
				}
			}
			if am.Implicit != tt.implicit || am.RequiresExpiresAt != (tt.method == configschema.OAuth2Token) {
				t.Errorf("%s implicit %q, requires expires_at %v", tt.method, am.Implicit, am.RequiresExpiresAt)
			}
		})
	}
}

func TestSpecResourceTypes(t *testing.T) {
	spec := Spec()
	want := map[ResourceType]bool{resourceid.GCPGeneric: false, resourceid.GCSBucket: true, resourceid.KubernetesCluster: true, resourceid.DockerRegistry: true}
	if len(spec.ResourceTypes) != len(want) {
		t.Fatalf("Spec() has %d resource types; want 4", len(spec.ResourceTypes))
	}
	for i, rt := range spec.ResourceTypes {
		if rt.ResourceType != string(resourceid.Types[i]) || rt.SupportsInstances != want[ResourceType(rt.ResourceType)] {
			t.Errorf("resource type %d = %q (instances %v); want %q (%v)", i, rt.ResourceType, rt.SupportsInstances, resourceid.Types[i], want[resourceid.Types[i]])
		}
		if rt.Name == "" || rt.Description == "" || len(rt.IDFormats) == 0 || !slices.Equal(rt.AuthMethods, methodNames()) {
			t.Errorf("resource type %q is missing a name, description, id formats or auth methods", rt.ResourceType)
		}
	}
	if _, ok := typeSpec(spec, "vm"); ok {
		t.Errorf("typeSpec(vm) found a type")
	}
	if _, ok := methodSpec(spec, "password"); ok {
		t.Errorf("methodSpec(password) found a method")
	}
}

// TestSpecJSON checks the wire form: snake_case keys, and values that callers cannot change
// for the next caller.
func TestSpecJSON(t *testing.T) {
	b, err := json.Marshal(Spec())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"connector_type":"gcp"`, `"resource_types":[`, `"supports_instances":true`, `"auth_methods":[`,
		`"config_schema":{`, `"format":"password"`, `"writeOnly":true`, `"min_expiration_seconds":600`, `"default_expiration_seconds":3600`,
		`"max_expiration_seconds":3600`, `"requires_expires_at":true`, `"additionalProperties":false`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("json.Marshal(Spec()) lacks %s", key)
		}
	}
	s := Spec()
	*s.AuthMethods[5].MaxExpirationSeconds = 1
	s.AuthMethods[0].ConfigSchema["properties"].(map[string]any)["project_id"] = nil
	s.ResourceTypes[1].IDFormats[0] = "changed"
	again := Spec()
	if *again.AuthMethods[5].MaxExpirationSeconds != configschema.MaxLifetimeSeconds || again.AuthMethods[0].ConfigSchema["properties"].(map[string]any)["project_id"] == nil ||
		again.ResourceTypes[1].IDFormats[0] == "changed" {
		t.Errorf("changing one Spec() value changed the next")
	}
}

// TestSpecSecretsMatchStorage checks that the fields the schema marks secret are exactly the
// ones registration stores in Secrets, for a configuration of every method that sets every
// field it may.
func TestSpecSecretsMatchStorage(t *testing.T) {
	full := map[AuthMethod]map[string]any{
		configschema.Implicit:        {"generate_temporary_tokens": true},
		configschema.UserAccount:     {"generate_temporary_tokens": false},
		configschema.ServiceAccount:  {"generate_temporary_tokens": false},
		configschema.ExternalAccount: {"generate_temporary_tokens": true},
		configschema.OAuth2Token:     {"service_account_email": "ci@my-project.iam.gserviceaccount.com"},
		configschema.Impersonation:   {"delegates": []any{"hop@my-project.iam.gserviceaccount.com"}, "generate_temporary_tokens": true},
	}
	for _, am := range Spec().AuthMethods {
		req := rulesRequest(AuthMethod(am.AuthMethod), full[AuthMethod(am.AuthMethod)])
		props := am.ConfigSchema["properties"].(map[string]any)
		if len(req.Configuration) != len(props) {
			t.Fatalf("%s: the test configuration sets %d of %d fields", am.AuthMethod, len(req.Configuration), len(props))
		}
		c, sec := rulesRegister(t, req)
		stored := sec.Fields()
		for name, p := range props {
			secret := p.(map[string]any)["format"] == "password"
			if _, inSecrets := stored[name]; secret != inSecrets || secret != slices.Contains(c.SecretFields, name) {
				t.Errorf("%s field %s: schema secret %v, stored in Secrets %v", am.AuthMethod, name, secret, inSecrets)
			}
		}
	}
}

// methodSpec returns the spec of auth method m, and false for an unknown method.
func methodSpec(t typespec.TypeSpec, m AuthMethod) (typespec.AuthMethodSpec, bool) {
	for _, a := range t.AuthMethods {
		if a.AuthMethod == string(m) {
			return a, true
		}
	}
	return typespec.AuthMethodSpec{}, false
}

// typeSpec returns the spec of resource type rt, and false for an unknown type.
func typeSpec(t typespec.TypeSpec, rt ResourceType) (typespec.ResourceTypeSpec, bool) {
	for _, r := range t.ResourceTypes {
		if r.ResourceType == string(rt) {
			return r, true
		}
	}
	return typespec.ResourceTypeSpec{}, false
}
