// Package kubeconfig renders, at the HTTP edge, the kubeconfig that POST /mint-token hands out
// with a GKE cluster credential. The core (shared/connector) returns only the cluster facts
// (server, CA, canonical id, connector); the YAML format lives here, where it is served.
package kubeconfig

import (
	"encoding/base64"
	"strings"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"gopkg.in/yaml.v3"
)

// Exec plugin settings: kubectl runs `gcpconn token --exec-credential ...`.
const (
	ExecAPIVersion = "client.authentication.k8s.io/v1"
	ExecCommand    = "gcpconn"
)

// Render renders the kubeconfig for k, a GKE cluster credential minted from a connector of
// project (the connector's project id). Its cluster and context are named like gcloud's
// (gke_PROJECT_LOCATION_NAME); its user runs `gcpconn token --exec-credential CONNECTOR-ID
// --resource-type kubernetes-cluster --resource-id LOCATION/NAME`
// (client.authentication.k8s.io/v1, never interactive), so kubectl fetches a fresh token from
// gcpconn whenever the last one expires. The connector is named by id, which survives renames.
// The access token is never in the file.
func Render(project string, k *connector.KubernetesCredential) (string, error) {
	loc, name, ok := strings.Cut(k.Cluster, "/")
	if !ok {
		return "", connector.Errorf(connector.ErrInternal, "kubeconfig: cluster id %q is not location/name", k.Cluster)
	}
	ctxName := "gke_" + strings.ReplaceAll(project, ":", "_") + "_" + loc + "_" + name
	kc := kubeconfig{
		APIVersion: "v1",
		Kind:       "Config",
		Clusters:   []namedCluster{{Name: ctxName, Cluster: kubeCluster{Server: k.Server}}},
		Contexts:   []namedContext{{Name: ctxName, Context: kubeContext{Cluster: ctxName, User: ctxName}}},
		Users: []namedUser{{Name: ctxName, User: kubeUser{Exec: kubeExec{
			APIVersion: ExecAPIVersion,
			Command:    ExecCommand,
			Args: []string{"token", "--exec-credential", k.ConnectorRef,
				"--resource-type", string(resourceid.KubernetesCluster), "--resource-id", k.Cluster},
			InteractiveMode: "Never",
			InstallHint:     "kubectl runs the gcpconn CLI to fetch tokens for this cluster; install it and put it on PATH",
		}}}},
		CurrentContext: ctxName,
	}
	if k.CertificateAuthority != "" {
		kc.Clusters[0].Cluster.CertificateAuthorityData = base64.StdEncoding.EncodeToString([]byte(k.CertificateAuthority))
	}
	b, err := yaml.Marshal(kc)
	if err != nil {
		return "", connector.Errorf(connector.ErrInternal, "kubeconfig: %v", err)
	}
	return string(b), nil
}

// kubeconfig is the subset of a kubeconfig file gcpconn writes.
type kubeconfig struct {
	APIVersion     string         `yaml:"apiVersion"`
	Kind           string         `yaml:"kind"`
	Clusters       []namedCluster `yaml:"clusters"`
	Contexts       []namedContext `yaml:"contexts"`
	CurrentContext string         `yaml:"current-context"`
	Users          []namedUser    `yaml:"users"`
}

type namedCluster struct {
	Name    string      `yaml:"name"`
	Cluster kubeCluster `yaml:"cluster"`
}

type kubeCluster struct {
	Server                   string `yaml:"server"`
	CertificateAuthorityData string `yaml:"certificate-authority-data,omitempty"`
}

type namedContext struct {
	Name    string      `yaml:"name"`
	Context kubeContext `yaml:"context"`
}

type kubeContext struct {
	Cluster string `yaml:"cluster"`
	User    string `yaml:"user"`
}

type namedUser struct {
	Name string   `yaml:"name"`
	User kubeUser `yaml:"user"`
}

type kubeUser struct {
	Exec kubeExec `yaml:"exec"`
}

type kubeExec struct {
	APIVersion         string   `yaml:"apiVersion"`
	Command            string   `yaml:"command"`
	Args               []string `yaml:"args"`
	InteractiveMode    string   `yaml:"interactiveMode"`
	ProvideClusterInfo bool     `yaml:"provideClusterInfo"`
	InstallHint        string   `yaml:"installHint"`
}
