// Package credjsontest builds valid credential JSON for tests, each with changes applied (a
// nil value deletes a key): a service account key (with a fresh RSA key, in PKCS #8 or #1),
// authorized_user credentials and an external_account config. Secret values contain the
// marker "SECRET" so that tests can check they never leak into messages.
package credjsontest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"sync"
)

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// PKCS8PEM and PKCS1PEM are the test key in both accepted encodings.
func PKCS8PEM() string {
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey())
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func PKCS1PEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey())}))
}

// ServiceAccountKey returns a valid service account key JSON object with changes applied (a nil
// value deletes the key).
func ServiceAccountKey(changes map[string]any) map[string]any {
	m := map[string]any{
		"type":                        "service_account",
		"project_id":                  "key-project",
		"private_key_id":              "0123456789abcdef0123456789abcdef01234567",
		"private_key":                 PKCS8PEM(),
		"client_email":                "deployer@key-project.iam.gserviceaccount.com",
		"client_id":                   "112233445566778899001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   "https://oauth2.googleapis.com/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/deployer%40key-project.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	}
	return Apply(m, changes)
}

// AuthorizedUser returns a valid authorized_user JSON object with changes applied.
func AuthorizedUser(changes map[string]any) map[string]any {
	m := map[string]any{
		"type":          "authorized_user",
		"client_id":     "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
		"client_secret": "SECRET-client-secret-value",
		"refresh_token": "1//SECRET-refresh-token-value",
	}
	return Apply(m, changes)
}

// ExternalAccount returns a valid external_account JSON object (caller-supplied subject token)
// with changes applied.
func ExternalAccount(changes map[string]any) map[string]any {
	m := map[string]any{
		"type":                              "external_account",
		"audience":                          "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/github",
		"subject_token_type":                "urn:ietf:params:oauth:token-type:jwt",
		"token_url":                         "https://sts.googleapis.com/v1/token",
		"service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/ci@my-project.iam.gserviceaccount.com:generateAccessToken",
	}
	return Apply(m, changes)
}

// AWSSource is the credential_source of gcloud's AWS configs.
func AWSSource() map[string]any {
	return map[string]any{
		"environment_id":                 "aws1",
		"region_url":                     "http://169.254.169.254/latest/meta-data/placement/availability-zone",
		"url":                            "http://169.254.169.254/latest/meta-data/iam/security-credentials",
		"regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
	}
}

// Apply applies changes to m: a nil value deletes the key, any other sets it.
func Apply(m, changes map[string]any) map[string]any {
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// JSON encodes m.
func JSON(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}
