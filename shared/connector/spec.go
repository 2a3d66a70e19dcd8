package connector

import (
	"errors"
	"strings"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/typespec"
)

// maxLifetimeSeconds is the longest lifetime gcpconn mints: one hour (see
// configschema.maxLifetimeSeconds).
const maxLifetimeSeconds = configschema.MaxLifetimeSeconds

// Configuration field names (package configschema has them all).
const (
	fieldProjectID               = configschema.FieldProjectID
	fieldServiceAccountEmail     = configschema.FieldServiceAccountEmail
	fieldTargetPrincipal         = configschema.FieldTargetPrincipal
	fieldDelegates               = configschema.FieldDelegates
	fieldGenerateTemporaryTokens = configschema.FieldGenerateTemporaryTokens
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

// resourceTypeInfo is the static description of a resource type.
var resourceTypeInfo = map[ResourceType]struct {
	name, description string
	instances         bool
}{
	GCPGeneric: {"Generic GCP resource",
		"The configured project as a whole: a plain cloud-platform token for any Google client " +
			"(Vertex AI, Cloud Build, ...). The resource id is the project id.", false},
	GCSBucket: {"GCS bucket",
		"A Cloud Storage bucket. Tokens are down-scoped to the bucket with a Credential Access " +
			"Boundary by default.", true},
	KubernetesCluster: {"GKE Kubernetes cluster",
		"A GKE cluster of the project: a token plus the cluster's endpoint and CA, as a kubeconfig.", true},
	DockerRegistry: {"GAR container registry (including legacy GCR)",
		"An Artifact Registry Docker repository, or a legacy gcr.io host of the project: a token " +
			"usable as a docker password for user oauth2accesstoken.", true},
}

// supportsInstances reports whether rt has many resources named by ids.
func supportsInstances(rt ResourceType) bool { return resourceTypeInfo[rt].instances }

// methodNames returns the ids of AuthMethods, in order.
func methodNames() []string {
	names := make([]string, len(AuthMethods))
	for i, m := range AuthMethods {
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
	for _, rt := range ResourceTypes {
		info := resourceTypeInfo[rt]
		formats := resourceid.Formats(rt)
		ts.ResourceTypes = append(ts.ResourceTypes, typespec.ResourceTypeSpec{
			ResourceType:      string(rt),
			Name:              info.name,
			Description:       info.description,
			SupportsInstances: info.instances,
			IDFormats:         formats,
			AuthMethods:       methodNames(),
		})
	}
	ts.AuthMethods = configschema.AuthMethodSpecs()
	return ts
}

// methodList returns the known auth methods as a comma-separated list, for messages.
func methodList() string {
	parts := make([]string, len(AuthMethods))
	for i, m := range AuthMethods {
		parts[i] = string(m)
	}
	return strings.Join(parts, ", ")
}
