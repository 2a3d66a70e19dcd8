package connector

import (
	"errors"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/credjson"
)

// The typed credentials of a connector's secrets, for the adapters that mint from them.

// ServiceAccountKey parses the stored service_account_json with credjson.ParseServiceAccountKey, for
// the adapters that mint from it. Errors are ErrInvalid for configuration.service_account_json
// (also when the connector has no key).
func (s Secrets) ServiceAccountKey() (*credjson.ServiceAccountKey, error) {
	return loadCredJSON(configschema.FieldServiceAccountJSON, s.ServiceAccountJSON, credjson.ParseServiceAccountKey)
}

// AuthorizedUser parses the stored user_account_json with credjson.ParseAuthorizedUser. Errors are
// ErrInvalid for configuration.user_account_json.
func (s Secrets) AuthorizedUser() (*credjson.AuthorizedUser, error) {
	return loadCredJSON(configschema.FieldUserAccountJSON, s.UserAccountJSON, credjson.ParseAuthorizedUser)
}

// ExternalAccount parses the stored external_account_json with credjson.ParseExternalAccount. Errors
// are ErrInvalid for configuration.external_account_json.
func (s Secrets) ExternalAccount() (*credjson.ExternalAccountConfig, error) {
	return loadCredJSON(configschema.FieldExternalAccountJSON, s.ExternalAccountJSON, credjson.ParseExternalAccount)
}

func loadCredJSON[T any](field, raw string, parse func([]byte) (T, error)) (T, error) {
	if raw == "" {
		var zero T
		return zero, FieldErrorf(cfgField(field), "the connector has no %s", field)
	}
	v, err := parse([]byte(raw))
	if err != nil {
		return v, prefixField(err)
	}
	return v, nil
}

// prefixField turns a credential JSON refusal into an ErrInvalid *Error for its field under
// "configuration.".
func prefixField(err error) error {
	var e *credjson.Error
	if errors.As(err, &e) {
		return FieldErrorf(cfgField(e.Field), "%s", e.Message)
	}
	return err
}
