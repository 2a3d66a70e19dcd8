package gcp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/internal/testenv"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// The fake Google Cloud every test of this package talks to, started once by TestMain with
// the demo world. Tests reset its fault injection and call counters as they need, and each
// builds its own adapter (newGoogle), so that no adapter cache outlives a test: the tests pass
// in any order and with -count=N.
var (
	fake       *fakegcp.Server
	httpClient *http.Client
	env        map[string]string
)

const (
	project     = "zenml-core"
	poolAud     = "//iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/providers/ci-oidc"
	adminSA     = "connectors-admin@zenml-core.iam.gserviceaccount.com"
	emptySA     = "empty-connectors@zenml-core.iam.gserviceaccount.com"
	bucketSA    = "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	registrySA  = "zenml-registry@zenml-core.iam.gserviceaccount.com"
	clusterSA   = "zenml-cluster@zenml-core.iam.gserviceaccount.com"
	wifSA       = "wif-target@zenml-core.iam.gserviceaccount.com"
	disabledSA  = "disabled-sa@zenml-core.iam.gserviceaccount.com"
	runtimeSA   = "gcpconn-runtime@zenml-core.iam.gserviceaccount.com"
	userAccount = "user@zenml.io"
)

func TestMain(m *testing.M) {
	// Never probe the real metadata server, even before the fake is up.
	testenv.Guard()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	fake, err = fakegcp.Start(context.Background(), world.Demo(), fakegcp.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start fake Google:", err)
		return 1
	}
	defer fake.Close()
	env = fake.EnvMap()
	for k, v := range env {
		if strings.HasPrefix(k, "GCPCONN_ENDPOINT_") || k == "GCPCONN_DOCKER_REGISTRY_HOST" ||
			k == "GCPCONN_GKE_DNS_ENDPOINTS" || k == "GCE_METADATA_HOST" {
			os.Setenv(k, v)
		}
	}
	for _, k := range []string{"GCPCONN_ENDPOINT_STORAGE", "GCPCONN_ENDPOINT_CONTAINER", "GCPCONN_ENDPOINT_ARTIFACTREGISTRY"} {
		if env[k] == "" {
			fmt.Fprintf(os.Stderr, "the fake Google did not set %s: its resource endpoints are not wired (emulator/fakegcp)\n", k)
			return 1
		}
	}
	httpClient = trustingClient()
	return m.Run()
}

// newGoogle returns a fresh adapter pointed at the fake, with empty caches.
func newGoogle() *gcp.Google {
	return gcp.New(gcp.EndpointsFromEnv(), gcp.WithHTTPClient(httpClient))
}

// trustingClient trusts the fake's CA (for its TLS services) besides the system roots.
func trustingClient() *http.Client {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM(fake.CACertPEM())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func keyJSON(t *testing.T, email string) string {
	t.Helper()
	b, err := fake.KeyJSON(email)
	if err != nil {
		t.Fatalf("KeyJSON(%s): %v", email, err)
	}
	return string(b)
}

// externalJSON is an external_account config for the demo world's ci-pool, impersonating
// target when set. Its URLs are Google's: the adapter never calls them.
func externalJSON(target string) string {
	s := `{"type":"external_account","audience":"` + poolAud + `",` +
		`"subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token"`
	if target != "" {
		s += `,"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/` + target + `:generateAccessToken"`
	}
	return s + "}"
}

func subjectToken(t *testing.T, subject string) string {
	t.Helper()
	tok, err := fake.Identity().OIDCToken(subject, poolAud, 0)
	if err != nil {
		t.Fatalf("OIDCToken: %v", err)
	}
	return tok
}

// grant builds a grant for an unsaved connector of method m serving every resource type.
func grant(m connector.AuthMethod, sec connector.Secrets, cfg connector.Config) connector.Grant {
	if cfg.ProjectID == "" {
		cfg.ProjectID = project
	}
	return connector.Grant{
		Connector: &connector.Connector{ID: "id-" + string(m), Name: "conn-" + string(m), Type: connector.TypeGCP,
			AuthMethod: m, ResourceTypes: resourceid.Types, Config: cfg},
		Secrets: sec,
	}
}
