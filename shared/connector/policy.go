package connector

import (
	"fmt"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/credjson"
)

// checkImplicit reports whether the policy allows the connector's configuration: auth method
// implicit, keyless impersonation and external-account configs with an ambient
// credential_source need AllowImplicit. It fails with ErrFailedPrecondition and a message
// naming GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS. Mint, Verify and Sweep call it too, so that
// connectors registered while implicit methods were enabled stop working when they are
// disabled.
func (p Policy) checkImplicit(c *Connector, s Secrets) error {
	if p.AllowImplicit {
		return nil // without parsing the external account config on every mint
	}
	var ext *credjson.ExternalAccountConfig
	if c.AuthMethod == configschema.ExternalAccount && s.ExternalAccountJSON != "" {
		var err error
		if ext, err = s.ExternalAccount(); err != nil {
			return err
		}
	}
	return checkPolicy(p, c.AuthMethod, s, ext)
}

const implicitHint = "an operator can enable implicit auth methods by setting GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=true on the deployment"

func checkPolicy(p Policy, m AuthMethod, s Secrets, ext *credjson.ExternalAccountConfig) error {
	if p.AllowImplicit {
		return nil
	}
	switch {
	case m == configschema.Implicit:
		return &Error{Kind: ErrFailedPrecondition, Field: "auth_method", Message: "auth method implicit is disabled on this deployment: " +
			"it would hand out tokens of the service's own identity; use service-account or impersonation instead, or " + implicitHint}
	case m == configschema.Impersonation && s.ServiceAccountJSON == "":
		return &Error{Kind: ErrFailedPrecondition, Field: cfgField(configschema.FieldServiceAccountJSON), Message: "keyless impersonation " +
			"(impersonation without service_account_json, from the service's own identity) is disabled on this deployment: " +
			"give the source service account key in service_account_json, or " + implicitHint}
	case m == configschema.ExternalAccount && ext != nil && ext.Ambient() != "":
		cloud := map[string]string{credjson.AmbientAWS: "AWS", credjson.AmbientAzure: "Azure"}[ext.Ambient()]
		return &Error{Kind: ErrFailedPrecondition, Field: cfgField(configschema.FieldExternalAccountJSON), Message: fmt.Sprintf(
			"external_account_json reads the service's own %s identity (credential_source), an implicit source that is disabled on this deployment: "+
				"leave credential_source out and send the subject token with each mint request, or %s", cloud, implicitHint)}
	}
	return nil
}
