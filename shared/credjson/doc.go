// Package credjson decodes and checks the credential JSON a connector stores: service account
// keys ([ParseServiceAccountKey]), user credentials ([ParseAuthorizedUser]) and workload
// identity federation configs ([ParseExternalAccount]). [Validate] applies the same rules to
// the value of a configuration field ([ServiceAccountJSON], [UserAccountJSON],
// [ExternalAccountJSON]). The typed results never print their secrets (fmt and slog show
// [HIDDEN] or a summary).
//
// # Refusals
//
// Credential JSON is untrusted input. It is decoded only into typed structs
// ([ServiceAccountKey], [AuthorizedUser], [ExternalAccountConfig]), its "type" must match the
// field, duplicate keys are refused, and every URL in it must be one of Google's own or
// absent:
//
//	token_uri (service_account, authorized_user)  https://oauth2.googleapis.com/token
//	                                              https://accounts.google.com/o/oauth2/token (legacy)
//	token_url (external_account)                  https://sts.googleapis.com/v1/token
//	token_info_url (external_account)             https://sts.googleapis.com/v1/introspect
//	service_account_impersonation_url             https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken
//	auth_uri, *_x509_cert_url (informational)     https on accounts.google.com, www.googleapis.com or oauth2.googleapis.com
//
// A URL matches only when its scheme is https, its host is exactly the listed one (compared
// without case; no port, no user information, no trailing dot) and its path is the listed
// one, with no query or fragment. Look-alikes such as sts.googleapis.com.evil.com,
// https://x@sts.googleapis.com and sts.googleapis.com:443 are refused, and so are regional
// (sts.REGION.rep.googleapis.com) and Private Service Connect (*.p.googleapis.com) variants:
// gcpconn never sends a request to a URL taken from credential JSON (its endpoints come from
// its own configuration), so more spellings would buy nothing and would widen what a
// handed-out credential could point a client at.
//
// An external account's credential_source may not be a file, a url or an executable: a
// server-side connector does not read its own disk, metadata server or programs on a
// tenant's behalf. Without a credential_source the caller sends the subject token with each
// mint request. Two ambient sources are accepted as implicit: environment_id "aws1" (the
// service's AWS identity) and the Azure instance metadata identity endpoint, the only url
// source accepted; the adapter reads them through its own supplier, never through the URLs
// in the JSON.
//
// Types impersonated_service_account and external_account_authorized_user are refused: the
// impersonation auth method models impersonation explicitly (source key, target_principal,
// delegates), and a nested source credential would escape these checks. Private keys must be
// PEM RSA keys (PKCS #8 or PKCS #1, unencrypted, 1024 to 8192 bits); client_email must be a
// service account email (…@….gserviceaccount.com). Error messages name the credential field
// and the JSON key at fault and never repeat a value from the JSON except a recognized type.
//
// A refusal is an [*Error] naming the credential field; the connector core reads it as
// invalid input for configuration.FIELD. The package knows nothing of HTTP or of the core.
package credjson
