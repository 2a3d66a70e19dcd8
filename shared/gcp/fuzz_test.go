package gcp

import (
	"context"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// FuzzTokenCredentialJSON feeds arbitrary credential JSON to every auth method: the adapter
// must answer with an error of a known kind or a token, never panic. Endpoints point at a
// closed loopback port (and TestMain points the metadata server at the fake), so nothing
// leaves the machine.
func FuzzTokenCredentialJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"type":"service_account"}`,
		`{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`,
		`{"type":"authorized_user","client_id":"c","refresh_token":"r"}`,
		`{"type":"external_account","audience":"a","subject_token_type":"t","service_account_impersonation_url":"%%"}`,
		`{"type":"external_account","audience":"a","subject_token_type":"t","credential_source":{"file":"/etc/passwd"}}`,
	} {
		f.Add(s)
	}
	closed := "http://127.0.0.1:1"
	g := New(Endpoints{OAuth2: closed, STS: closed, IAMCredentials: closed, Storage: closed, Container: closed,
		ArtifactRegistry: closed, ResourceManager: closed})
	f.Fuzz(func(t *testing.T, raw string) {
		for _, m := range configschema.Methods() {
			if m == configschema.Implicit {
				continue // no JSON involved; reaches the metadata server
			}
			c := &connector.Connector{Name: "fuzz", AuthMethod: m, Config: connector.Config{ProjectID: "p", TargetPrincipal: "t@p.iam.gserviceaccount.com"},
				ExpiresAt: time.Now().Add(time.Hour)}
			sec := connector.Secrets{ServiceAccountJSON: raw, UserAccountJSON: raw, ExternalAccountJSON: raw, Token: raw}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := g.Token(ctx, connector.Grant{Connector: c, Secrets: sec}, connector.TokenRequest{SubjectToken: "s", Lifetime: time.Hour})
			cancel()
			if err != nil && connector.KindOf(err) == "" {
				t.Errorf("%s: error without a kind: %v", m, err)
			}
		}
	})
}
