package connector

// Credential JSON limits.
const (
	// MaxCredentialJSONBytes bounds a credential JSON (service_account_json, ...), in bytes.
	MaxCredentialJSONBytes = 16 << 10
	// MaxTokenBytes bounds an oauth2-token's token, in bytes.
	MaxTokenBytes = 8 << 10
)

// Credential JSON types.
const (
	credTypeServiceAccount  = "service_account"
	credTypeAuthorizedUser  = "authorized_user"
	credTypeExternalAccount = "external_account"
)

// ValidateCredentialJSON checks raw, the value of the credential field field
// (service_account_json, user_account_json or external_account_json).
func ValidateCredentialJSON(field string, raw []byte) error {
	return Errorf(ErrInternal, "connector: ValidateCredentialJSON is being implemented")
}
