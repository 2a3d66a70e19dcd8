package connector

import (
	"errors"
	"strings"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
	"github.com/gcpconn/gcpconn/shared/typespec"
)

func cfgField(name string) string { return configschema.FieldPath(name) }

// schemaError turns a refusal of package configschema into an ErrInvalid *Error for its
// field, with its message.
func schemaError(err error) error {
	var e *configschema.Error
	if errors.As(err, &e) {
		return FieldErrorf(e.Field, "%s", e.Message)
	}
	return err
}

// parseConfiguration checks a configuration map against the schema of its auth method and
// splits it into Config and Secrets. Refusals are ErrInvalid *Errors for their field.
func parseConfiguration(r *configschema.Method, raw map[string]any) (Config, Secrets, configschema.Parsed, error) {
	p, err := r.Parse(raw)
	if err != nil {
		return Config{}, Secrets{}, p, schemaError(err)
	}
	sec, err := SecretsFromFields(p.Secrets)
	cfg := Config{
		ProjectID:               p.ProjectID,
		ServiceAccountEmail:     p.ServiceAccountEmail,
		TargetPrincipal:         p.TargetPrincipal,
		Delegates:               p.Delegates,
		GenerateTemporaryTokens: p.GenerateTemporaryTokens,
	}
	return cfg, sec, p, err
}

// supportsInstances reports whether rt has many resources named by ids.
func supportsInstances(rt ResourceType) bool {
	info, _ := resourcetype.Of(rt)
	return info.Instances
}

// methodNames returns the ids of the auth methods, in spec order.
func methodNames() []string {
	methods := configschema.Methods()
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = string(m)
	}
	return names
}

// Spec returns the type spec of the gcp connector type (package typespec has its shape, which
// GET /list?types=true answers). Each call returns a fresh value that
// the caller may modify.
func Spec() typespec.TypeSpec {
	ts := typespec.TypeSpec{
		ConnectorType: TypeGCP,
		Name:          "GCP Service Connector",
		Description: "Holds credentials for Google Cloud and hands out short-lived, least-privilege " +
			"access tokens for one resource at a time: a project, a GCS bucket, a GKE cluster or an " +
			"Artifact Registry repository.",
	}
	for _, info := range resourcetype.All() {
		ts.ResourceTypes = append(ts.ResourceTypes, typespec.ResourceTypeSpec{
			ResourceType:      string(info.Type),
			Name:              info.Name,
			Description:       info.Description,
			SupportsInstances: info.Instances,
			IDFormats:         resourceid.Formats(info.Type),
			AuthMethods:       methodNames(),
		})
	}
	ts.AuthMethods = configschema.AuthMethodSpecs()
	return ts
}

// methodList returns the known auth methods as a comma-separated list, for messages.
func methodList() string { return strings.Join(methodNames(), ", ") }
