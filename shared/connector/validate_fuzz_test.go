package connector

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// fuzzRegisterBody is the wire shape of a registration request, as the HTTP edge decodes it.
type fuzzRegisterBody struct {
	Name              string            `json:"name"`
	Type              string            `json:"type"`
	AuthMethod        AuthMethod        `json:"auth_method"`
	ResourceType      ResourceType      `json:"resource_type"`
	ResourceTypes     []ResourceType    `json:"resource_types"`
	ResourceID        string            `json:"resource_id"`
	Configuration     map[string]any    `json:"configuration"`
	Labels            map[string]string `json:"labels"`
	Description       string            `json:"description"`
	ExpiresAt         *time.Time        `json:"expires_at"`
	ExpirationSeconds *int              `json:"expiration_seconds"`
	Users             []string          `json:"users"`
}

// FuzzNewConnector feeds arbitrary registration bodies to NewConnector. It must never panic;
// a refusal is an *Error of kind ErrInvalid or ErrFailedPrecondition whose message holds no
// secret value (see fuzzConfigSecrets); an accepted connector re-validates
// unchanged through applyUpdate with an empty update, and its runtime checks do not panic.
func FuzzNewConnector(f *testing.F) {
	seed := func(m AuthMethod, edit func(*RegisterRequest)) {
		r := rulesRequest(m, nil)
		if edit != nil {
			edit(&r)
		}
		b, err := json.Marshal(fuzzRegisterBody{Name: r.Name, AuthMethod: r.AuthMethod, ResourceType: r.ResourceType,
			ResourceID: r.ResourceID, Configuration: r.Configuration, ExpiresAt: r.ExpiresAt, Labels: r.Labels, Users: r.Users})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	seed(configschema.Implicit, func(r *RegisterRequest) { r.ResourceType = resourceid.GCPGeneric })
	seed(configschema.UserAccount, func(r *RegisterRequest) { r.ResourceType, r.ResourceID = resourceid.GCSBucket, "gs://b-1/x" })
	seed(configschema.ExternalAccount, func(r *RegisterRequest) { r.Labels = map[string]string{"team": "ml", "example.com/env": ""} })
	seed(configschema.OAuth2Token, func(r *RegisterRequest) { r.ResourceType, r.ResourceID = resourceid.KubernetesCluster, "us-east1/prod" })
	seed(configschema.Impersonation, func(r *RegisterRequest) {
		r.Configuration["service_account_json"] = nil
		r.Configuration["delegates"] = []any{"a1@p.iam.gserviceaccount.com"}
		r.Users = []string{"a@example.com"}
	})
	f.Add([]byte(`{"name":"x","auth_method":"service-account","configuration":{"service_account_json":"{\"type\":\"service_account\",\"private_key\":\"SECRET\"}"}}`), true)
	f.Add([]byte(`{"name":"y","auth_method":"oauth2-token","configuration":{"project_id":"my-project","token":"SECRET-token"},"expires_at":"2026-11-22T03:30:00Z","expiration_seconds":10}`), false)
	f.Fuzz(func(t *testing.T, body []byte, allowImplicit bool) {
		var w fuzzRegisterBody
		if json.Unmarshal(body, &w) != nil {
			return
		}
		req := RegisterRequest{Name: w.Name, Type: w.Type, AuthMethod: w.AuthMethod, ResourceType: w.ResourceType,
			ResourceTypes: w.ResourceTypes, ResourceID: w.ResourceID, Configuration: w.Configuration, Labels: w.Labels,
			Description: w.Description, ExpiresAt: w.ExpiresAt, ExpirationSeconds: w.ExpirationSeconds, Users: w.Users}
		pol := Policy{AllowImplicit: allowImplicit}
		c, sec, err := NewConnector(req, pol, rulesNow)
		if err != nil {
			if k := KindOf(err); k != ErrInvalid && k != ErrFailedPrecondition {
				t.Fatalf("NewConnector = %v (kind %s); want ErrInvalid or ErrFailedPrecondition", err, k)
			}
			for _, v := range fuzzConfigSecrets(w) {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("NewConnector error %q repeats the secret value %q", err, v)
				}
			}
			return
		}
		if len(c.ResourceTypes) == 0 || validateName(c.Name) != nil || len(c.SecretFields) != len(sec.Fields()) {
			t.Fatalf("NewConnector accepted an inconsistent connector: %+v", c)
		}
		again, sec2, changed, err := applyUpdate(c, sec, UpdateRequest{}, pol, rulesNow)
		if err != nil || changed || sec2 != sec || !reflect.DeepEqual(again, c) {
			t.Fatalf("applyUpdate(no change) = %+v, changed %v, %v; want the same connector", again, changed, err)
		}
		_, _, _ = c.resolveResource("", "")
		_, _, _ = c.resolveResource(c.ResourceTypes[0], w.ResourceID)
		_, _ = c.lifetimeAt(3600, rulesNow)
		_ = pol.checkImplicit(c, sec)
	})
}

// fuzzConfigSecrets returns the secret values of a registration body that a message must
// never contain: the token, and the credential JSON's private_key, client_secret and
// refresh_token (and the JSON string itself). To keep the check free of false alarms it skips
// values shorter than 12 bytes, values made only of the lowercase characters that field names,
// types and URLs use, and values that also appear in a non-secret part of the body (which
// messages may quote).
func fuzzConfigSecrets(w fuzzRegisterBody) []string {
	var cands []string
	if s, ok := w.Configuration[configschema.FieldToken].(string); ok {
		cands = append(cands, s)
	}
	for _, f := range []string{configschema.FieldServiceAccountJSON, configschema.FieldUserAccountJSON, configschema.FieldExternalAccountJSON} {
		var obj map[string]any
		switch v := w.Configuration[f].(type) {
		case string:
			cands = append(cands, v)
			_ = json.Unmarshal([]byte(v), &obj)
		case map[string]any:
			obj = v
		}
		for _, k := range []string{"private_key", "client_secret", "refresh_token"} {
			if s, ok := obj[k].(string); ok {
				cands = append(cands, s)
			}
		}
	}
	public := []string{w.Name, w.Type, string(w.AuthMethod), string(w.ResourceType), w.ResourceID, w.Description}
	for _, rt := range w.ResourceTypes {
		public = append(public, string(rt))
	}
	public = append(public, w.Users...)
	for k, v := range w.Labels {
		public = append(public, k, v)
	}
	for k, v := range w.Configuration {
		public = append(public, k)
		if s, ok := v.(string); ok && k != configschema.FieldToken && !strings.HasSuffix(k, "_json") {
			public = append(public, s)
		}
	}
	var out []string
	for _, c := range cands {
		if len(c) < 12 || strings.Trim(c, "abcdefghijklmnopqrstuvwxyz_-.:/ ") == "" {
			continue
		}
		quoted := false
		for _, p := range public {
			if strings.Contains(p, c) || strings.Contains(c, p) && len(p) >= 12 {
				quoted = true
				break
			}
		}
		if !quoted {
			out = append(out, c)
		}
	}
	return out
}
