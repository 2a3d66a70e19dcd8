package credjson

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
)

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name  string
		field string
		json  string
	}{
		{"full service account key", ServiceAccountJSON, credjsontest.JSON(credjsontest.ServiceAccountKey(nil))},
		{"minimal key", ServiceAccountJSON, credjsontest.JSON(map[string]any{"type": "service_account",
			"client_email": "a1@p-123456.iam.gserviceaccount.com", "private_key": credjsontest.PKCS8PEM()})},
		{"PKCS #1 key", ServiceAccountJSON, credjsontest.JSON(credjsontest.ServiceAccountKey(map[string]any{"private_key": credjsontest.PKCS1PEM()}))},
		{"legacy token_uri", ServiceAccountJSON, credjsontest.JSON(credjsontest.ServiceAccountKey(map[string]any{"token_uri": "https://accounts.google.com/o/oauth2/token"}))},
		{"token_uri host in capitals", ServiceAccountJSON, credjsontest.JSON(credjsontest.ServiceAccountKey(map[string]any{"token_uri": "HTTPS://OAUTH2.GOOGLEAPIS.COM/token"}))},
		{"App Engine default account", ServiceAccountJSON, credjsontest.JSON(credjsontest.ServiceAccountKey(map[string]any{"client_email": "my-project@appspot.gserviceaccount.com"}))},
		{"Compute default account", ServiceAccountJSON, credjsontest.JSON(credjsontest.ServiceAccountKey(map[string]any{"client_email": "123456789012-compute@developer.gserviceaccount.com"}))},
		{"domain-scoped key project", ServiceAccountJSON, credjsontest.JSON(credjsontest.ServiceAccountKey(map[string]any{"project_id": "example.com:my-project"}))},
		{"authorized user", UserAccountJSON, credjsontest.JSON(credjsontest.AuthorizedUser(nil))},
		{"authorized user with token_uri and quota project", UserAccountJSON, credjsontest.JSON(credjsontest.AuthorizedUser(map[string]any{
			"token_uri": "https://oauth2.googleapis.com/token", "quota_project_id": "billing-project", "universe_domain": "googleapis.com"}))},
		{"external account, supplied token", ExternalAccountJSON, credjsontest.JSON(credjsontest.ExternalAccount(nil))},
		{"external account without impersonation", ExternalAccountJSON, credjsontest.JSON(credjsontest.ExternalAccount(map[string]any{"service_account_impersonation_url": nil}))},
		{"external account with lifetime", ExternalAccountJSON, credjsontest.JSON(credjsontest.ExternalAccount(map[string]any{
			"service_account_impersonation": map[string]any{"token_lifetime_seconds": 1800}}))},
		{"external account, AWS", ExternalAccountJSON, credjsontest.JSON(credjsontest.ExternalAccount(map[string]any{
			"credential_source": credjsontest.AWSSource(), "subject_token_type": SubjectTokenAWS4Request}))},
		{"external account, AWS IMDSv2 over IPv6", ExternalAccountJSON, credjsontest.JSON(credjsontest.ExternalAccount(map[string]any{
			"credential_source":  map[string]any{"environment_id": "aws1", "imdsv2_session_token_url": "http://[fd00:ec2::254]/latest/api/token"},
			"subject_token_type": SubjectTokenAWS4Request}))},
		{"workforce pool", ExternalAccountJSON, credjsontest.JSON(credjsontest.ExternalAccount(map[string]any{
			"audience":                    "//iam.googleapis.com/locations/global/workforcePools/staff/providers/okta",
			"workforce_pool_user_project": "my-project", "subject_token_type": SubjectTokenIDToken,
			"token_info_url": "https://sts.googleapis.com/v1/introspect", "client_id": "abc", "client_secret": "SECRET-workforce"}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.field, []byte(tt.json)); err != nil {
				t.Errorf("Validate(%s) = %v; want nil", tt.field, err)
			}
		})
	}
}

// TestValidateRejects lists malformed credential JSON with the message each gets.
// The fixtures' secret values all contain "SECRET"; no message may repeat them.
func TestValidateRejects(t *testing.T) {
	sa := func(changes map[string]any) string { return credjsontest.JSON(credjsontest.ServiceAccountKey(changes)) }
	user := func(changes map[string]any) string { return credjsontest.JSON(credjsontest.AuthorizedUser(changes)) }
	ext := func(changes map[string]any) string { return credjsontest.JSON(credjsontest.ExternalAccount(changes)) }
	aws := func(changes map[string]any) string {
		return ext(map[string]any{"credential_source": credjsontest.Apply(credjsontest.AWSSource(), changes), "subject_token_type": SubjectTokenAWS4Request})
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	certPEM := "-----BEGIN CERTIFICATE-----\nU0VDUkVU\n-----END CERTIFICATE-----\n"
	badDER := "-----BEGIN PRIVATE KEY-----\nU0VDUkVUU0VDUkVU\n-----END PRIVATE KEY-----\n"
	encrypted := "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nU0VDUkVU\n-----END RSA PRIVATE KEY-----\n"
	impURL := "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/ci@my-project.iam.gserviceaccount.com:generateAccessToken"

	tests := []struct {
		name  string
		field string
		json  string
		want  string
	}{
		// syntax and shape
		{"empty", ServiceAccountJSON, "  ", "the credential JSON is empty"},
		{"not JSON", ServiceAccountJSON, "SECRET", "is not valid JSON"},
		{"truncated", ServiceAccountJSON, `{"type":"service_account","private_key":"SECRET`, "ends too early"},
		{"array", ServiceAccountJSON, `["SECRET"]`, "must be a JSON object"},
		{"string", ServiceAccountJSON, `"SECRET"`, "must be a JSON object"},
		{"trailing data", UserAccountJSON, user(nil) + `{"x":"SECRET"}`, "has data after its closing brace"},
		{"duplicate key", ServiceAccountJSON, `{"type":"service_account","token_uri":"https://oauth2.googleapis.com/token","token_uri":"https://SECRET.example"}`,
			`has key "token_uri" twice`},
		{"duplicate odd key", UserAccountJSON, `{"SECRET":1,"SECRET":2}`, "has key (a key that is not a credential field) twice"},
		{"key in capitals", ServiceAccountJSON, sa(map[string]any{"TOKEN_URI": "https://SECRET.example/token"}),
			`has a key that differs from "token_uri" only in case; keys must match exactly`},
		{"key in mixed case", ServiceAccountJSON, sa(map[string]any{"Token_Uri": "https://SECRET.example/token"}),
			`has a key that differs from "token_uri" only in case`},
		{"key with the Kelvin sign", ServiceAccountJSON, sa(map[string]any{"private_key_id": nil, "private_\u212aey_id": "SECRET"}),
			`has a key that differs from "private_key_id" only in case`},
		{"nested key in capitals", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"file": "/var/run/x", "FORMAT": map[string]any{"type": "text"}}}),
			`has a key that differs from "format" only in case`},
		{"credential_source in mixed case", ExternalAccountJSON, ext(map[string]any{"Credential_Source": map[string]any{"url": "http://127.0.0.1:9/SECRET"}}),
			`has a key that differs from "credential_source" only in case`},
		{"keys that differ only in case", UserAccountJSON, `{"type":"authorized_user","token_uri":"https://oauth2.googleapis.com/token","Token_URI":"https://SECRET.example"}`,
			`has two keys that differ only in case ("token_uri"); keys must match exactly`},
		{"odd keys that differ only in case", UserAccountJSON, `{"SECRET-x":1,"secret-X":2}`,
			"has two keys that differ only in case ((a key that is not a credential field))"},
		{"too deep", ExternalAccountJSON, `{"a":[[[[[[[[["SECRET"]]]]]]]]]}`, "nested more than 8 levels deep"},
		{"too large", ServiceAccountJSON, `{"type":"` + strings.Repeat("SECRET", 3000) + `"}`, "at most 16384 are accepted"},
		{"invalid UTF-8", ServiceAccountJSON, "{\"type\":\"\xff\xfeSECRET\"}", "not valid UTF-8"},
		{"unknown field name", "token_json", `{}`, `"token_json" is not a credential JSON field`},

		// type
		{"type missing", ServiceAccountJSON, sa(map[string]any{"type": nil}), `type is missing; service_account_json must have type "service_account"`},
		{"type not a string", ServiceAccountJSON, sa(map[string]any{"type": 7}), "type must be a string"},
		{"type unknown", ServiceAccountJSON, sa(map[string]any{"type": "SECRET"}), `type is not a known credential type; service_account_json needs type "service_account"`},
		{"user JSON as key", ServiceAccountJSON, user(nil), `type is "authorized_user", but service_account_json (auth method service-account or impersonation) needs type "service_account" (user credentials belong to auth method user-account)`},
		{"key as external account", ExternalAccountJSON, sa(nil), `(a service account key belongs to auth method service-account or impersonation)`},
		{"impersonated_service_account refused", ServiceAccountJSON, `{"type":"impersonated_service_account","service_account_impersonation_url":"https://SECRET"}`,
			`type "impersonated_service_account" is not accepted: use auth method impersonation`},
		{"workforce user refused", ExternalAccountJSON, `{"type":"external_account_authorized_user","refresh_token":"SECRET"}`,
			`type "external_account_authorized_user" (workforce identity user credentials) is not accepted`},

		// service account keys
		{"no client_email", ServiceAccountJSON, sa(map[string]any{"client_email": nil}), "client_email is missing"},
		{"client_email of a user", ServiceAccountJSON, sa(map[string]any{"client_email": "SECRET@gmail.com"}), "client_email is not a service account email: the part before @ must be"},
		{"client_email with a look-alike domain", ServiceAccountJSON, sa(map[string]any{"client_email": "ci@p.iam.gserviceaccount.com.evil.com"}),
			"the domain must end in .gserviceaccount.com"},
		{"no private_key", ServiceAccountJSON, sa(map[string]any{"private_key": nil}), "private_key is missing"},
		{"private_key not PEM", ServiceAccountJSON, sa(map[string]any{"private_key": "SECRET"}), "private_key is not a PEM private key"},
		{"private_key garbage DER", ServiceAccountJSON, sa(map[string]any{"private_key": badDER}), "private_key does not parse as a PKCS #8 or PKCS #1 private key"},
		{"private_key a certificate", ServiceAccountJSON, sa(map[string]any{"private_key": certPEM}), "private_key is a PEM block of another type"},
		{"private_key encrypted", ServiceAccountJSON, sa(map[string]any{"private_key": encrypted}), "private_key is encrypted"},
		{"private_key EC", ServiceAccountJSON, sa(map[string]any{"private_key": ecPEM}), "private_key is not an RSA key"},
		{"private_key with trailing data", ServiceAccountJSON, sa(map[string]any{"private_key": credjsontest.PKCS8PEM() + "SECRET"}), "private_key has data after its PEM block"},
		{"private_key_id with spaces", ServiceAccountJSON, sa(map[string]any{"private_key_id": "SECRET id"}), "private_key_id must be printable ASCII without spaces"},
		{"key project invalid", ServiceAccountJSON, sa(map[string]any{"project_id": "P"}), "project_id is not a valid project id"},
		{"token_uri look-alike host", ServiceAccountJSON, sa(map[string]any{"token_uri": "https://oauth2.googleapis.com.evil.com/token"}),
			`token_uri is not on an accepted Google host; it must be "https://oauth2.googleapis.com/token" or "https://accounts.google.com/o/oauth2/token", or left out`},
		{"token_uri over http", ServiceAccountJSON, sa(map[string]any{"token_uri": "http://oauth2.googleapis.com/token"}), "token_uri does not use https"},
		{"token_uri with userinfo", ServiceAccountJSON, sa(map[string]any{"token_uri": "https://SECRET@oauth2.googleapis.com/token"}), "token_uri carries user information"},
		{"token_uri with a port", ServiceAccountJSON, sa(map[string]any{"token_uri": "https://oauth2.googleapis.com:443/token"}), "token_uri names a port"},
		{"token_uri with a query", ServiceAccountJSON, sa(map[string]any{"token_uri": "https://oauth2.googleapis.com/token?x=SECRET"}), "token_uri has a query"},
		{"token_uri with another path", ServiceAccountJSON, sa(map[string]any{"token_uri": "https://oauth2.googleapis.com/SECRET"}), "token_uri has another path"},
		{"token_uri with a trailing dot", ServiceAccountJSON, sa(map[string]any{"token_uri": "https://oauth2.googleapis.com./token"}), "token_uri is not on an accepted Google host"},
		{"token_uri private service connect", ServiceAccountJSON, sa(map[string]any{"token_uri": "https://oauth2-myendpoint.p.googleapis.com/token"}),
			"token_uri is not on an accepted Google host"},
		{"token_uri with a fragment", ServiceAccountJSON, sa(map[string]any{"token_uri": "https://oauth2.googleapis.com/token#SECRET"}), "token_uri contains spaces, control characters, backslashes or a fragment"},
		{"token_uri with a backslash", ServiceAccountJSON, sa(map[string]any{"token_uri": `https://evil.com\@oauth2.googleapis.com/token`}), "token_uri contains spaces"},
		{"token_uri relative", ServiceAccountJSON, sa(map[string]any{"token_uri": "/token"}), "token_uri is not an absolute URL"},
		{"token_uri not a string", ServiceAccountJSON, sa(map[string]any{"token_uri": []any{"SECRET"}}), "token_uri must be a string"},
		{"auth_uri off Google", ServiceAccountJSON, sa(map[string]any{"auth_uri": "https://evil.example/auth"}), "auth_uri is not on a Google host"},
		{"cert url over http", ServiceAccountJSON, sa(map[string]any{"client_x509_cert_url": "http://www.googleapis.com/robot"}), "client_x509_cert_url does not use https"},
		{"other universe", ServiceAccountJSON, sa(map[string]any{"universe_domain": "SECRET.example"}), `universe_domain must be "googleapis.com"`},

		// authorized users
		{"user without refresh_token", UserAccountJSON, user(map[string]any{"refresh_token": nil}), "refresh_token is missing: the user's refresh token"},
		{"user with empty client_secret", UserAccountJSON, user(map[string]any{"client_secret": " "}), "client_secret is missing"},
		{"user without client_id", UserAccountJSON, user(map[string]any{"client_id": nil}), "client_id is missing"},
		{"user refresh_token not a string", UserAccountJSON, user(map[string]any{"refresh_token": 123}), "refresh_token must be a string"},
		{"user refresh_token with newline", UserAccountJSON, user(map[string]any{"refresh_token": "SECRET\n"}), "refresh_token must be printable ASCII"},
		{"user token_uri elsewhere", UserAccountJSON, user(map[string]any{"token_uri": "https://token.example.com/token"}), "token_uri is not on an accepted Google host"},
		{"user quota project invalid", UserAccountJSON, user(map[string]any{"quota_project_id": "-x"}), "quota_project_id is not a valid project id"},

		// external accounts
		{"external without audience", ExternalAccountJSON, ext(map[string]any{"audience": nil}), "audience is missing"},
		{"external audience elsewhere", ExternalAccountJSON, ext(map[string]any{"audience": "//iam.evil.com/projects/1/locations/global/workloadIdentityPools/p/providers/x"}),
			"audience must be a workload identity pool provider"},
		{"external subject token type unknown", ExternalAccountJSON, ext(map[string]any{"subject_token_type": "urn:SECRET"}), "subject_token_type is not a known token type"},
		{"external token_url look-alike", ExternalAccountJSON, ext(map[string]any{"token_url": "https://sts.googleapis.com.evil.com/v1/token"}),
			`token_url is not on an accepted Google host; it must be "https://sts.googleapis.com/v1/token", or left out`},
		{"external token_url userinfo", ExternalAccountJSON, ext(map[string]any{"token_url": "https://x@sts.googleapis.com/v1/token"}), "token_url carries user information"},
		{"external token_url regional", ExternalAccountJSON, ext(map[string]any{"token_url": "https://sts.us-east1.rep.googleapis.com/v1/token"}), "token_url is not on an accepted Google host"},
		{"external token_url v1beta", ExternalAccountJSON, ext(map[string]any{"token_url": "https://sts.googleapis.com/v1beta/token"}), "token_url has another path"},
		{"external token_info_url elsewhere", ExternalAccountJSON, ext(map[string]any{"token_info_url": "https://evil.example/introspect"}), "token_info_url is not on an accepted Google host"},
		{"impersonation URL elsewhere", ExternalAccountJSON, ext(map[string]any{"service_account_impersonation_url": strings.Replace(impURL, "iamcredentials.googleapis.com", "iamcredentials.evil.com", 1)}),
			"service_account_impersonation_url is not on iamcredentials.googleapis.com"},
		{"impersonation URL with a port", ExternalAccountJSON, ext(map[string]any{"service_account_impersonation_url": strings.Replace(impURL, ".com/", ".com:8443/", 1)}),
			"service_account_impersonation_url names a port"},
		{"impersonation URL other method", ExternalAccountJSON, ext(map[string]any{"service_account_impersonation_url": strings.Replace(impURL, "generateAccessToken", "signJwt", 1)}),
			"service_account_impersonation_url is not a generateAccessToken URL"},
		{"impersonation URL of a user", ExternalAccountJSON, ext(map[string]any{"service_account_impersonation_url": strings.Replace(impURL, "ci@my-project.iam.gserviceaccount.com", "me@gmail.com", 1)}),
			"service_account_impersonation_url does not name a service account email"},
		{"impersonation lifetime too long", ExternalAccountJSON, ext(map[string]any{"service_account_impersonation": map[string]any{"token_lifetime_seconds": 86400}}),
			"token_lifetime_seconds must be a whole number of seconds from 600 to 43200"},
		{"impersonation object unknown key", ExternalAccountJSON, ext(map[string]any{"service_account_impersonation": map[string]any{"delegates": []any{}}}),
			`service_account_impersonation has key "delegates"`},
		{"workforce project on a workload pool", ExternalAccountJSON, ext(map[string]any{"workforce_pool_user_project": "my-project"}),
			"workforce_pool_user_project applies only to workforce pool audiences"},
		{"credential_source file", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"file": "/var/run/secrets/SECRET"}}),
			"credential_source.file is refused: gcpconn never reads files, URLs or programs on a tenant's behalf"},
		{"credential_source executable", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"executable": map[string]any{"command": "/bin/SECRET"}}}),
			"credential_source.executable is refused"},
		{"credential_source certificate", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"certificate": map[string]any{"use_default_certificate_config": true}}}),
			"credential_source.certificate is refused"},
		{"credential_source url to the metadata server", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{
			"url": "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity?audience=SECRET"}}),
			"credential_source.url is refused: it is not the Azure instance metadata identity endpoint"},
		{"credential_source url with userinfo", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{
			"url": "http://SECRET@169.254.169.254/metadata/identity/oauth2/token"}}), "credential_source.url is refused: it carries user information"},
		{"credential_source empty", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{}}), "credential_source is empty"},
		{"credential_source not an object", ExternalAccountJSON, ext(map[string]any{"credential_source": "SECRET"}), "credential_source must be an object"},
		{"credential_source unknown key", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"environment_id": "aws1", "aws_secret": "SECRET"}}),
			`credential_source has key "aws_secret", which is not accepted`},
		{"credential_source only headers", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"headers": map[string]any{"a": "b"}}}),
			"credential_source has neither environment_id nor url"},
		{"environment aws2", ExternalAccountJSON, aws(map[string]any{"environment_id": "aws2"}), `credential_source.environment_id must be "aws1"`},
		{"aws with the wrong subject type", ExternalAccountJSON, ext(map[string]any{"credential_source": credjsontest.AWSSource()}),
			`an aws1 credential_source needs subject_token_type "urn:ietf:params:aws:token-type:aws4_request"`},
		{"aws url off the metadata service", ExternalAccountJSON, aws(map[string]any{"url": "http://10.0.0.1/latest/meta-data/iam"}),
			"credential_source.url is not on the AWS instance metadata service"},
		{"aws region url over https elsewhere", ExternalAccountJSON, aws(map[string]any{"region_url": "https://evil.example/az"}),
			"credential_source.region_url is not on the AWS instance metadata service"},
		{"aws verification url elsewhere", ExternalAccountJSON, aws(map[string]any{"regional_cred_verification_url": "https://evil.example/?Action=GetCallerIdentity"}),
			"credential_source.regional_cred_verification_url must be"},
		{"azure with the wrong subject type", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"url": azureIdentityEndpoint},
			"subject_token_type": SubjectTokenSAML2}), `an Azure credential_source needs subject_token_type "urn:ietf:params:oauth:token-type:jwt"`},
		{"azure header with a newline", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"url": azureIdentityEndpoint,
			"headers": map[string]any{"Metadata": "True\r\nX-SECRET: 1"}}}), "credential_source.headers has a header that is not a short, single-line name and value"},
		{"azure format unknown", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"url": azureIdentityEndpoint,
			"format": map[string]any{"type": "xml"}}}), `credential_source.format.type must be "json" or "text"`},
		{"azure json format without field", ExternalAccountJSON, ext(map[string]any{"credential_source": map[string]any{"url": azureIdentityEndpoint,
			"format": map[string]any{"type": "json"}}}), "subject_token_field_name is required with format type json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.field, []byte(tt.json))
			checkRefusal(t, err, tt.field, tt.want)
			if got := err.Error(); !strings.HasPrefix(got, tt.field+":") && tt.field != "token_json" {
				t.Errorf("err.Error() = %q; want it to start with the field name", got)
			}
		})
	}
	t.Logf("%d malformed credential JSON inputs", len(tests))
}

// TestParsedCredentialsNeverPrint checks that the typed credentials redact their secrets in
// fmt and slog output.
func TestParsedCredentialsNeverPrint(t *testing.T) {
	key, err := ParseServiceAccountKey([]byte(credjsontest.JSON(credjsontest.ServiceAccountKey(nil))))
	if err != nil {
		t.Fatal(err)
	}
	if key.RSAKey() == nil || key.RSAKey().N.BitLen() != 2048 {
		t.Errorf("RSAKey() did not return the parsed 2048-bit key")
	}
	user, err := ParseAuthorizedUser([]byte(credjsontest.JSON(credjsontest.AuthorizedUser(nil))))
	if err != nil {
		t.Fatal(err)
	}
	ext, err := ParseExternalAccount([]byte(credjsontest.JSON(credjsontest.ExternalAccount(map[string]any{"client_secret": "SECRET-x"}))))
	if err != nil {
		t.Fatal(err)
	}
	if got := ext.ImpersonatedServiceAccount(); got != "ci@my-project.iam.gserviceaccount.com" {
		t.Errorf("ImpersonatedServiceAccount() = %q; want ci@my-project.iam.gserviceaccount.com", got)
	}
	if ext.Ambient() != "" {
		t.Errorf("Ambient() = %q; want \"\" without credential_source", ext.Ambient())
	}
	for _, v := range []any{key, user, ext} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, "SECRET") || strings.Contains(got, "PRIVATE KEY") {
				t.Errorf("Sprintf(%q, %T) = %q; want no secret", verb, v, got)
			}
		}
		var b strings.Builder
		slog.New(slog.NewTextHandler(&b, nil)).Info("x", "cred", v)
		if strings.Contains(b.String(), "SECRET") || strings.Contains(b.String(), "PRIVATE KEY") {
			t.Errorf("slog of %T = %q; want no secret", v, b.String())
		}
	}
}

func TestAmbientSources(t *testing.T) {
	aws, err := ParseExternalAccount([]byte(credjsontest.JSON(credjsontest.ExternalAccount(map[string]any{
		"credential_source": credjsontest.AWSSource(), "subject_token_type": SubjectTokenAWS4Request}))))
	if err != nil {
		t.Fatal(err)
	}
	if aws.Ambient() != AmbientAWS || aws.CredentialSource.RegionURL == "" {
		t.Errorf("AWS config: Ambient() = %q, source %+v; want aws with its URLs", aws.Ambient(), aws.CredentialSource)
	}
	azure, err := ParseExternalAccount([]byte(credjsontest.JSON(credjsontest.ExternalAccount(map[string]any{
		"credential_source": map[string]any{"url": azureIdentityEndpoint + "?api-version=2018-02-01&resource=api://x",
			"headers": map[string]any{"Metadata": "True"}, "format": map[string]any{"type": "json", "subject_token_field_name": "access_token"}}}))))
	if err != nil {
		t.Fatal(err)
	}
	if azure.Ambient() != AmbientAzure || azure.CredentialSource.Format.SubjectTokenFieldName != "access_token" {
		t.Errorf("Azure config: Ambient() = %q; want azure", azure.Ambient())
	}
}

// checkRefusal checks that err is an *Error for field whose message contains msg and reveals
// no secret value.
func checkRefusal(t *testing.T, err error, field, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %#v; want an *Error for %s: %q", err, field, msg)
	}
	if e.Field != field {
		t.Errorf("Field of %v = %q; want %q", err, e.Field, field)
	}
	if !strings.Contains(e.Message, msg) {
		t.Errorf("Message = %q; want it to contain %q", e.Message, msg)
	}
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "PRIVATE KEY-----\n") {
		t.Errorf("error %q reveals a secret value", err)
	}
}
