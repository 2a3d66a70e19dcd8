package connector

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"sync"
	"testing"
	"time"
)

// Fixtures of the registration-rule tests (prefixed "rules" to stay apart from other files'
// helpers in this package).

// rulesNow is the fixed clock of the rule tests.
var rulesNow = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

var rulesRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// rulesPKCS8PEM and rulesPKCS1PEM are the test key in both accepted encodings.
func rulesPKCS8PEM() string {
	der, err := x509.MarshalPKCS8PrivateKey(rulesRSAKey())
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func rulesPKCS1PEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rulesRSAKey())}))
}

// rulesSAKey returns a valid service account key JSON object with changes applied (a nil
// value deletes the key).
func rulesSAKey(changes map[string]any) map[string]any {
	m := map[string]any{
		"type":                        "service_account",
		"project_id":                  "key-project",
		"private_key_id":              "0123456789abcdef0123456789abcdef01234567",
		"private_key":                 rulesPKCS8PEM(),
		"client_email":                "deployer@key-project.iam.gserviceaccount.com",
		"client_id":                   "112233445566778899001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   "https://oauth2.googleapis.com/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/deployer%40key-project.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	}
	return rulesApply(m, changes)
}

// rulesUser returns a valid authorized_user JSON object with changes applied.
func rulesUser(changes map[string]any) map[string]any {
	m := map[string]any{
		"type":          "authorized_user",
		"client_id":     "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
		"client_secret": "SECRET-client-secret-value",
		"refresh_token": "1//SECRET-refresh-token-value",
	}
	return rulesApply(m, changes)
}

// rulesExternal returns a valid external_account JSON object (caller-supplied subject token)
// with changes applied.
func rulesExternal(changes map[string]any) map[string]any {
	m := map[string]any{
		"type":                              "external_account",
		"audience":                          "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/github",
		"subject_token_type":                "urn:ietf:params:oauth:token-type:jwt",
		"token_url":                         "https://sts.googleapis.com/v1/token",
		"service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/ci@my-project.iam.gserviceaccount.com:generateAccessToken",
	}
	return rulesApply(m, changes)
}

// rulesAWSSource is the credential_source of gcloud's AWS configs.
func rulesAWSSource() map[string]any {
	return map[string]any{
		"environment_id":                 "aws1",
		"region_url":                     "http://169.254.169.254/latest/meta-data/placement/availability-zone",
		"url":                            "http://169.254.169.254/latest/meta-data/iam/security-credentials",
		"regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
	}
}

func rulesApply(m, changes map[string]any) map[string]any {
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func rulesJSON(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// rulesRequest returns a valid registration request for method with configuration changes
// applied.
func rulesRequest(method AuthMethod, changes map[string]any) RegisterRequest {
	req := RegisterRequest{Name: "team-" + string(method), AuthMethod: method}
	cfg := map[string]any{"project_id": "my-project"}
	switch method {
	case UserAccount:
		cfg["user_account_json"] = rulesUser(nil)
	case ServiceAccount:
		cfg["service_account_json"] = rulesSAKey(nil)
	case ExternalAccount:
		cfg["external_account_json"] = rulesExternal(nil)
	case OAuth2Token:
		cfg["token"] = "ya29.SECRET-access-token"
		exp := rulesNow.Add(time.Hour)
		req.ExpiresAt = &exp
	case Impersonation:
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
