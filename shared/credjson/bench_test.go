package credjson

import (
	"strings"
	"testing"
)

// BenchmarkCheckSyntax is the first pass over a credential JSON of the size of a service
// account key (2.3 KB): size, UTF-8, syntax, depth and keys.
func BenchmarkCheckSyntax(b *testing.B) {
	raw := []byte(`{"type":"service_account","project_id":"demo-project","private_key_id":"abc123",` +
		`"private_key":"-----BEGIN PRIVATE KEY-----\n` + strings.Repeat("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 55) + `\n-----END PRIVATE KEY-----\n",` +
		`"client_email":"sa@demo-project.iam.gserviceaccount.com","client_id":"1234567890",` +
		`"auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token",` +
		`"auth_provider_x509_cert_url":"https://www.googleapis.com/oauth2/v1/certs","universe_domain":"googleapis.com"}`)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckSyntax(ServiceAccountJSON, raw); err != nil {
			b.Fatal(err)
		}
	}
}
