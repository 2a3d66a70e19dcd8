package kubeconfig_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/functions/kubeconfig"
	"github.com/gcpconn/gcpconn/shared/connector"
	"gopkg.in/yaml.v3"
)

const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// TestRender checks the kubeconfig of a GKE cluster credential: gcloud-style names, the
// server and CA, an exec plugin that runs gcpconn for this connector and cluster, no token.
func TestRender(t *testing.T) {
	k := &connector.KubernetesCredential{ConnectorRef: "0f3c", Cluster: "us-east1/zenml-test-cluster",
		Server: "https://34.1.2.3", CertificateAuthority: ca}
	out, err := kubeconfig.Render("zenml-core", k)
	if err != nil {
		t.Fatalf("Render = %v", err)
	}
	var kc struct {
		Clusters []struct {
			Name    string
			Cluster map[string]string
		}
		CurrentContext string `yaml:"current-context"`
		Users          []struct {
			Name string
			User struct {
				Exec struct {
					APIVersion         string `yaml:"apiVersion"`
					Command            string
					Args               []string
					InteractiveMode    string `yaml:"interactiveMode"`
					ProvideClusterInfo bool   `yaml:"provideClusterInfo"`
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(out), &kc); err != nil {
		t.Fatalf("kubeconfig is not YAML: %v\n%s", err, out)
	}
	const ctxName = "gke_zenml-core_us-east1_zenml-test-cluster"
	if kc.CurrentContext != ctxName || len(kc.Clusters) != 1 || kc.Clusters[0].Cluster["server"] != "https://34.1.2.3" {
		t.Errorf("kubeconfig clusters = %+v, context %q; want %s at https://34.1.2.3", kc.Clusters, kc.CurrentContext, ctxName)
	}
	if got := kc.Clusters[0].Cluster["certificate-authority-data"]; got != base64.StdEncoding.EncodeToString([]byte(ca)) {
		t.Errorf("certificate-authority-data = %q; want the base64 CA", got)
	}
	if len(kc.Users) != 1 {
		t.Fatalf("kubeconfig users = %+v; want one", kc.Users)
	}
	ex := kc.Users[0].User.Exec
	wantArgs := []string{"token", "--exec-credential", "0f3c", "--resource-type", "kubernetes-cluster", "--resource-id", "us-east1/zenml-test-cluster"}
	if ex.APIVersion != "client.authentication.k8s.io/v1" || ex.Command != "gcpconn" || !slices.Equal(ex.Args, wantArgs) ||
		ex.InteractiveMode != "Never" || ex.ProvideClusterInfo {
		t.Errorf("exec = %+v; want gcpconn %v, v1, interactiveMode Never, provideClusterInfo false", ex, wantArgs)
	}
	if strings.Contains(out, "ya29.") {
		t.Errorf("kubeconfig embeds the access token; want only the exec plugin")
	}
}

// TestRenderDomainScopedProject checks that a domain-scoped project's colon becomes "_" in
// the context name, as gcloud spells it.
func TestRenderDomainScopedProject(t *testing.T) {
	out, err := kubeconfig.Render("example.com:proj", &connector.KubernetesCredential{ConnectorRef: "id", Cluster: "us-east1-b/c1", Server: "https://c1"})
	if err != nil || !strings.Contains(out, "current-context: gke_example.com_proj_us-east1-b_c1") {
		t.Errorf("Render = %v\n%s; want context gke_example.com_proj_us-east1-b_c1", err, out)
	}
	if strings.Contains(out, "certificate-authority-data") {
		t.Errorf("Render without a CA writes certificate-authority-data:\n%s", out)
	}
}

// TestRenderRefusesAMalformedClusterID checks that a cluster id without a location is an
// internal error, not a kubeconfig that names no location.
func TestRenderRefusesAMalformedClusterID(t *testing.T) {
	_, err := kubeconfig.Render("p", &connector.KubernetesCredential{ConnectorRef: "id", Cluster: "bare"})
	if connector.KindOf(err) != connector.ErrInternal {
		t.Errorf("Render(bare) = %v; want ErrInternal", err)
	}
}
