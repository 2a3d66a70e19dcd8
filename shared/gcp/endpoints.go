package gcp

import (
	"context"
	"net/http"
	"os"
	"strings"

	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Endpoints are the base URLs of the Google services gcpconn calls. The zero value of a field
// means the real Google endpoint; see [DefaultEndpoints].
type Endpoints struct {
	OAuth2           string // OAuth2 token endpoint base; tokens at OAuth2+"/token"
	STS              string // Security Token Service base; exchanges at STS+"/v1/token"
	IAMCredentials   string // IAM Credentials REST base
	IAM              string // IAM v1 REST base (service-account keys, for key rotation)
	Storage          string // Cloud Storage base; the JSON API at Storage+"/storage/v1/"
	Container        string // GKE (container v1) REST base
	ArtifactRegistry string // Artifact Registry v1 REST base
	ResourceManager  string // Cloud Resource Manager v1 REST base
	// DockerRegistryHost, when set, is the host:port that stands in for every Artifact
	// Registry and GCR host (a local fake registry). Empty in production.
	DockerRegistryHost string
	// GKEDNSEndpoints maps GKE DNS endpoint names to the host:port that serves them, with the
	// cluster's own CA (a local fake cluster). Empty in production.
	GKEDNSEndpoints map[string]string
}

// DefaultEndpoints are Google's production endpoints.
var DefaultEndpoints = Endpoints{
	OAuth2:           "https://oauth2.googleapis.com",
	STS:              "https://sts.googleapis.com",
	IAMCredentials:   "https://iamcredentials.googleapis.com",
	IAM:              "https://iam.googleapis.com",
	Storage:          "https://storage.googleapis.com",
	Container:        "https://container.googleapis.com",
	ArtifactRegistry: "https://artifactregistry.googleapis.com",
	ResourceManager:  "https://cloudresourcemanager.googleapis.com",
}

// Environment variables read by EndpointsFromEnv.
const (
	EnvOAuth2             = "GCPCONN_ENDPOINT_OAUTH2"
	EnvSTS                = "GCPCONN_ENDPOINT_STS"
	EnvIAMCredentials     = "GCPCONN_ENDPOINT_IAMCREDENTIALS"
	EnvIAM                = "GCPCONN_ENDPOINT_IAM"
	EnvStorage            = "GCPCONN_ENDPOINT_STORAGE"
	EnvContainer          = "GCPCONN_ENDPOINT_CONTAINER"
	EnvArtifactRegistry   = "GCPCONN_ENDPOINT_ARTIFACTREGISTRY"
	EnvResourceManager    = "GCPCONN_ENDPOINT_RESOURCEMANAGER"
	EnvDockerRegistryHost = "GCPCONN_DOCKER_REGISTRY_HOST"
	// EnvGKEDNSEndpoints is "name=host:port,name=host:port" (exported by the fake).
	EnvGKEDNSEndpoints = "GCPCONN_GKE_DNS_ENDPOINTS"
)

// EndpointsFromEnv reads the GCPCONN_ENDPOINT_* overrides from the process environment;
// unset variables keep Google's endpoints.
func EndpointsFromEnv() Endpoints {
	return EndpointsFrom(os.Getenv)
}

// EndpointsFrom is EndpointsFromEnv reading the variables through getenv.
func EndpointsFrom(getenv func(string) string) Endpoints {
	e := DefaultEndpoints
	for _, f := range []struct {
		env string
		dst *string
	}{
		{EnvOAuth2, &e.OAuth2},
		{EnvSTS, &e.STS},
		{EnvIAMCredentials, &e.IAMCredentials},
		{EnvIAM, &e.IAM},
		{EnvStorage, &e.Storage},
		{EnvContainer, &e.Container},
		{EnvArtifactRegistry, &e.ArtifactRegistry},
		{EnvResourceManager, &e.ResourceManager},
		{EnvDockerRegistryHost, &e.DockerRegistryHost},
	} {
		if v := strings.TrimSpace(getenv(f.env)); v != "" {
			*f.dst = strings.TrimRight(v, "/")
		}
	}
	if v := getenv(EnvGKEDNSEndpoints); v != "" {
		e.GKEDNSEndpoints = map[string]string{}
		for _, pair := range strings.Split(v, ",") {
			name, addr, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && name != "" && addr != "" {
				e.GKEDNSEndpoints[name] = addr
			}
		}
	}
	return e
}

// withDefaults fills empty fields from DefaultEndpoints and trims trailing slashes.
func (e Endpoints) withDefaults() Endpoints {
	d := DefaultEndpoints
	for _, f := range []struct{ dst, def *string }{
		{&e.OAuth2, &d.OAuth2},
		{&e.STS, &d.STS},
		{&e.IAMCredentials, &d.IAMCredentials},
		{&e.IAM, &d.IAM},
		{&e.Storage, &d.Storage},
		{&e.Container, &d.Container},
		{&e.ArtifactRegistry, &d.ArtifactRegistry},
		{&e.ResourceManager, &d.ResourceManager},
	} {
		if *f.dst == "" {
			*f.dst = *f.def
		}
		*f.dst = strings.TrimRight(*f.dst, "/")
	}
	return e
}

// apiClient builds a client of one Google API with newClient, at endpoint (one of the
// Endpoints) and sending through hc. A failure is internal (no call is made yet), its message
// naming the API as what.
func apiClient[C any](ctx context.Context, newClient func(context.Context, ...option.ClientOption) (C, error), what, endpoint string, hc *http.Client) (C, error) {
	c, err := newClient(ctx, option.WithEndpoint(endpoint), option.WithHTTPClient(hc))
	if err != nil {
		var zero C
		return zero, connector.Errorf(connector.ErrInternal, "gcp: %s client: %v", what, err)
	}
	return c, nil
}
