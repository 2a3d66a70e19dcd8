package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gcpconn/gcpconn/functions/client"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/resourcetype"
)

func loginCommand() *command {
	return &command{
		Name:    "login",
		Args:    "NAME",
		Summary: "Configure kubectl, docker or the Google client libraries to use a connector",
		Help: strings.NewReplacer("KUBECONFIG_TYPES", typesOf(resourcetype.LoginKubeconfig, ", "),
			"DOCKER_TYPES", typesOf(resourcetype.LoginDocker, ", "), "TOKEN_TYPES", typesOf(resourcetype.LoginToken, ", ")).Replace(`
KUBECONFIG_TYPES: adds a context (named like gcloud's, gke_PROJECT_LOCATION_CLUSTER) to the
  kubeconfig ($KUBECONFIG's first file, else ~/.kube/config, or --kubeconfig) and makes it
  current. Its user is an exec plugin (client.authentication.k8s.io/v1, interactiveMode
  Never) that runs 'gcpconn token --exec-credential', so kubectl gets a fresh token whenever
  the last one expires (or, with --max-age, at least that often). kubectl passes its own
  environment to the plugin: keep GCPCONN_*
  identity variables (or your Google credentials) set where kubectl runs.
  --static writes the current token into the kubeconfig instead (expires within the hour).

DOCKER_TYPES: sets credHelpers[HOST] = "gcpconn" in $DOCKER_CONFIG/config.json (default
  ~/.docker/config.json; other entries are kept), and records which connector serves HOST
  in gcpconn's config directory. docker then runs docker-credential-gcpconn (this binary
  under that name: ln -s "$(command -v gcpconn)" /usr/local/bin/docker-credential-gcpconn)
  for a fresh token on every pull and push.
  --static stores the current token in config.json "auths" instead, like docker login.

TOKEN_TYPES: a connector with generate_temporary_tokens=false hands out its
  stored credentials; login writes them to the ADC file (--adc-file, default gcloud's
  application_default_credentials.json) where every Google library finds them.
  A connector that hands out temporary tokens cannot be written as an ADC file: no ADC
  credential type carries a bare access token or refreshes by running a program whose output
  Google's token service would accept (external_account executables must return tokens for
  STS, which gcpconn's access tokens are not). For those, use 'gcpconn serve-metadata', a
  local metadata server every Google library refreshes tokens from (GCE_METADATA_HOST), or
  --static, which writes the current token to a file (--token-file) that gcloud reads with
  CLOUDSDK_AUTH_ACCESS_TOKEN_FILE.

Examples:
  gcpconn login gcp-user-account --resource-type kubernetes-cluster --resource-id zenml-test-cluster
  gcpconn login gcp-user-account --resource-type docker-registry --resource-id europe-west1-docker.pkg.dev/zenml-core/test
  gcpconn login gcp-sa-key --resource-type gcp-generic
  gcpconn login gcs-data --resource-type gcs-bucket --resource-id gs://zenml-bucket-sl --static --token-file /tmp/token`),
		Flags: []flagSpec{
			{Name: "resource-type", Short: "r", Value: "TYPE", Help: loginTypes()},
			{Name: "resource-id", Value: "ID", Help: "the cluster, registry, project or bucket"},
			{Name: "static", Help: "store the current token instead of configuring a refreshing helper"},
			{Name: "max-age", Value: "DURATION", Help: typesOf(resourcetype.LoginKubeconfig, ", ") + ": kubectl asks gcpconn for a token again after DURATION at most (default: until the token is about to expire)"},
			{Name: "kubeconfig", Value: "FILE", Help: "kubeconfig to update"},
			{Name: "adc-file", Value: "FILE", Help: "ADC file to write (" + typesOf(resourcetype.LoginToken, ", ") + ")"},
			{Name: "token-file", Value: "FILE", Help: "with --static for " + typesOf(resourcetype.LoginToken, "/") + ": where to write the token"},
		},
		Run: runLogin,
	}
}

func runLogin(ctx context.Context, e *env, p *parsed) error {
	name, c, err := e.connectorClient(p)
	if err != nil {
		return err
	}
	rt := p.str("resource-type")
	info, known := resourcetype.Of(resourceid.Type(rt))
	configure, ok := logins[info.Login]
	switch {
	case rt == "":
		return usageErrorf("--resource-type is required: %s", loginTypes())
	case !known || !ok:
		return usageErrorf("--resource-type %q: login configures %s clients", rt, loginTypes())
	}
	if v := p.str("max-age"); v != "" {
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			return usageErrorf("--max-age %q is not a duration such as 5m or 0s", v)
		}
	}
	cred, err := c.Mint(ctx, client.MintRequest{Connector: name, ResourceType: rt, ResourceID: p.str("resource-id")})
	if err != nil {
		return err
	}
	return configure(ctx, e, p, c, name, cred)
}

// logins configure the client of each kind of credential (package resourcetype says which kind
// each resource type hands out); loginOrder is the order help and messages list them in.
var (
	logins = map[resourcetype.Login]func(ctx context.Context, e *env, p *parsed, c *client.Client, name string, cred *client.Credential) error{
		resourcetype.LoginKubeconfig: func(_ context.Context, e *env, p *parsed, _ *client.Client, name string, cred *client.Credential) error {
			return loginKubernetes(e, p, name, cred)
		},
		resourcetype.LoginDocker: loginDocker,
		resourcetype.LoginToken: func(_ context.Context, e *env, p *parsed, _ *client.Client, name string, cred *client.Credential) error {
			return loginADC(e, p, name, cred)
		},
	}
	loginOrder = []resourcetype.Login{resourcetype.LoginKubeconfig, resourcetype.LoginDocker, resourcetype.LoginToken}
)

// loginTypes lists the resource types login configures, by kind in loginOrder:
// "kubernetes-cluster, docker-registry, gcp-generic or gcs-bucket".
func loginTypes() string {
	var types []string
	for _, kind := range loginOrder {
		types = append(types, typesOfKind(kind)...)
	}
	return orList(types)
}

// typesOf joins the resource types whose credential is of kind with sep, for help texts.
func typesOf(kind resourcetype.Login, sep string) string {
	return strings.Join(typesOfKind(kind), sep)
}

// typesOfKind returns the resource types whose credential is of kind, in spec order.
func typesOfKind(kind resourcetype.Login) []string {
	var types []string
	for _, info := range resourcetype.All() {
		if info.Login == kind {
			types = append(types, string(info.Type))
		}
	}
	return types
}

// helperCommand is how kubeconfigs name this binary: "gcpconn" when that is what PATH
// finds, else the absolute path.
func helperCommand(e *env) string {
	if p, err := exec.LookPath("gcpconn"); err == nil && e.Exe != "" {
		a, _ := filepath.EvalSymlinks(p)
		b, _ := filepath.EvalSymlinks(e.Exe)
		if a == b {
			return "gcpconn"
		}
	}
	if e.Exe != "" {
		return e.Exe
	}
	return "gcpconn"
}

// underHome is filepath.Join($HOME, elem...): where a tool keeps its files when no variable
// names another place.
func underHome(e *env, elem ...string) (string, error) {
	h := e.Getenv("HOME")
	if h == "" {
		return "", errors.New("HOME is not set")
	}
	return filepath.Join(append([]string{h}, elem...)...), nil
}

// kubeconfigPath is --kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config.
func kubeconfigPath(e *env, p *parsed) (string, error) {
	if f := p.str("kubeconfig"); f != "" {
		return f, nil
	}
	if k := e.Getenv("KUBECONFIG"); k != "" {
		return filepath.SplitList(k)[0], nil
	}
	return underHome(e, ".kube", "config")
}

func loginKubernetes(e *env, p *parsed, name string, cred *client.Credential) error {
	k := cred.Kubernetes
	if k == nil || k.Kubeconfig == "" {
		return errors.New("the server's answer has no cluster details")
	}
	// The server's kubeconfig names the cluster, context and user; gcpconn fills in how
	// this machine runs it.
	var srv serverKubeconfig
	if len(k.Kubeconfig) > maxServerYAMLBytes {
		return fmt.Errorf("the server's kubeconfig is %d bytes; gcpconn reads at most %d", len(k.Kubeconfig), maxServerYAMLBytes)
	}
	if err := unmarshalYAML([]byte(k.Kubeconfig), &srv); err != nil {
		return fmt.Errorf("the server's kubeconfig is not YAML: %w", err)
	}
	ctxName := srv.CurrentContext
	if ctxName == "" || len(srv.Clusters) != 1 || len(srv.Users) != 1 || len(srv.Contexts) != 1 ||
		srv.Clusters[0].Cluster == nil || srv.Contexts[0].Context == nil {
		return errors.New("the server's kubeconfig does not hold one cluster, user and context")
	}
	user, err := kubeconfigUser(e, p, srv, cred)
	if err != nil {
		return err
	}
	path, err := kubeconfigPath(e, p)
	if err != nil {
		return err
	}
	cfg := map[string]any{}
	b, err := readBounded(path, maxConfigFileBytes)
	switch {
	case err == nil:
		if err := unmarshalYAML(b, &cfg); err != nil {
			return fmt.Errorf("%s is not a kubeconfig: %w", path, err)
		}
		if cfg == nil {
			cfg = map[string]any{}
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	cfg["apiVersion"], cfg["kind"] = "v1", "Config"
	existed := upsertNamed(cfg, "clusters", ctxName, "cluster", srv.Clusters[0].Cluster)
	upsertNamed(cfg, "users", ctxName, "user", user)
	upsertNamed(cfg, "contexts", ctxName, "context", srv.Contexts[0].Context)
	cfg["current-context"] = ctxName
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, out, 0o600); err != nil {
		return err
	}
	if e.json() {
		return e.printJSON(map[string]any{"kubeconfig": path, "context": ctxName, "static": p.bool("static")})
	}
	verb := "created"
	if existed {
		verb = "modified"
	}
	fmt.Fprintf(e.Stdout, "Context %q %s.\n", ctxName, verb)
	fmt.Fprintf(e.Stdout, "Updated local kubeconfig %s with the cluster details. The current kubectl context was set to '%s'.\n", path, ctxName)
	if p.bool("static") {
		fmt.Fprintf(e.Stdout, "The token is static and expires at %s; run login again after that.\n", cred.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	} else {
		fmt.Fprintf(e.Stdout, "kubectl runs %s for a fresh token of connector '%s' whenever the last one expires.\n", helperCommand(e), name)
	}
	return nil
}

// kubeconfigUser is the kubeconfig user of login: the static token with --static, else the
// server's exec plugin run by this machine's gcpconn.
func kubeconfigUser(e *env, p *parsed, srv serverKubeconfig, cred *client.Credential) (map[string]any, error) {
	if p.bool("static") {
		return map[string]any{"token": cred.AccessToken}, nil
	}
	ex, _ := srv.Users[0].User["exec"].(map[string]any)
	if ex == nil {
		return nil, errors.New("the server's kubeconfig user has no exec plugin")
	}
	ex["command"] = helperCommand(e)
	if v := p.str("max-age"); v != "" {
		args, _ := ex["args"].([]any)
		ex["args"] = append(args, "--max-age", v)
	}
	ex["interactiveMode"] = "Never"
	envs := []any{map[string]any{"name": "GCPCONN_URL", "value": e.serverURL()}}
	if a := e.Getenv("GCPCONN_AUDIENCE"); a != "" {
		envs = append(envs, map[string]any{"name": "GCPCONN_AUDIENCE", "value": a})
	}
	ex["env"] = envs
	return map[string]any{"exec": ex}, nil
}

// serverKubeconfig is the one-cluster kubeconfig the server hands out for a GKE cluster.
type serverKubeconfig struct {
	CurrentContext string                `yaml:"current-context"`
	Clusters       []kubeconfigNamedItem `yaml:"clusters"`
	Users          []kubeconfigNamedItem `yaml:"users"`
	Contexts       []kubeconfigNamedItem `yaml:"contexts"`
}

// kubeconfigNamedItem is an entry of a kubeconfig's clusters, users or contexts list.
type kubeconfigNamedItem struct {
	Name    string         `yaml:"name"`
	Cluster map[string]any `yaml:"cluster"`
	User    map[string]any `yaml:"user"`
	Context map[string]any `yaml:"context"`
}

// upsertNamed replaces or appends {name: NAME, KEY: val} in cfg[list]; it reports whether
// an entry of that name existed.
func upsertNamed(cfg map[string]any, list, name, key string, val any) bool {
	items, _ := cfg[list].([]any)
	entry := map[string]any{"name": name, key: val}
	for i, it := range items {
		if m, ok := it.(map[string]any); ok && m["name"] == name {
			items[i] = entry
			cfg[list] = items
			return true
		}
	}
	cfg[list] = append(items, entry)
	return false
}

// writeFileAtomic writes b to path through a temporary file in the same directory, so a
// failure leaves the old file whole. A symlinked path (dotfile managers) has its target
// replaced, not the link. New directories are made 0700.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// dockerConfigPath is $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func dockerConfigPath(e *env) (string, error) {
	if d := e.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json"), nil
	}
	return underHome(e, ".docker", "config.json")
}

// configDir is gcpconn's own directory: $GCPCONN_CONFIG_DIR, else $XDG_CONFIG_HOME/gcpconn,
// else ~/.config/gcpconn.
func configDir(e *env) (string, error) {
	if d := e.Getenv("GCPCONN_CONFIG_DIR"); d != "" {
		return d, nil
	}
	if d := e.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "gcpconn"), nil
	}
	return underHome(e, ".config", "gcpconn")
}

// registryBinding says which connector serves a docker registry host.
type registryBinding struct {
	URL        string `json:"url"`
	Connector  string `json:"connector"` // the connector's id (survives renames)
	ResourceID string `json:"resource_id"`
}

const registriesFile = "docker-registries.json"

func readRegistries(e *env) (map[string]registryBinding, string, error) {
	dir, err := configDir(e)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, registriesFile)
	m := map[string]registryBinding{}
	b, err := readBounded(path, maxConfigFileBytes)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, path, err
	}
	if len(b) > 0 {
		if err := unmarshalJSON(b, &m); err != nil {
			return nil, path, fmt.Errorf("%s: %w", path, err)
		}
	}
	return m, path, nil
}

// writeRegistries stores the host → connector bindings (0600).
func writeRegistries(path string, regs map[string]registryBinding) error {
	b, err := json.MarshalIndent(regs, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o600)
}

// updateJSONFile reads a JSON object file (missing = {}), lets fn change its top-level
// fields, and writes it back, keeping every field fn did not touch.
func updateJSONFile(path string, fn func(m map[string]json.RawMessage) error) error {
	m := map[string]json.RawMessage{}
	b, err := readBounded(path, maxConfigFileBytes)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(strings.TrimSpace(string(b))) > 0 {
		if err := unmarshalJSON(b, &m); err != nil {
			return fmt.Errorf("%s is not a JSON object: %w", path, err)
		}
	}
	if err := fn(m); err != nil {
		return err
	}
	out, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(out, '\n'), 0o600)
}

// setField sets m[key][sub] = val, keeping m[key]'s other entries.
func setField(m map[string]json.RawMessage, key, sub string, val any) error {
	inner := map[string]json.RawMessage{}
	if raw, ok := m[key]; ok && len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &inner); err != nil {
			return fmt.Errorf("%q is not an object: %w", key, err)
		}
	}
	v, err := json.Marshal(val)
	if err != nil {
		return err
	}
	inner[sub] = v
	b, err := json.Marshal(inner)
	if err != nil {
		return err
	}
	m[key] = b
	return nil
}

func loginDocker(ctx context.Context, e *env, p *parsed, c *client.Client, name string, cred *client.Credential) error {
	d := cred.Docker
	if d == nil || d.Registry == "" {
		return errors.New("the server's answer has no docker registry details")
	}
	path, err := dockerConfigPath(e)
	if err != nil {
		return err
	}
	host := d.Registry
	static := p.bool("static")
	if static {
		auth := base64.StdEncoding.EncodeToString([]byte(d.Username + ":" + d.Password))
		if err := updateJSONFile(path, func(m map[string]json.RawMessage) error {
			return setField(m, "auths", host, map[string]string{"auth": auth})
		}); err != nil {
			return err
		}
	} else {
		regs, regPath, err := readRegistries(e)
		if err != nil {
			return err
		}
		// Record the connector by id, which survives renames.
		conn, err := c.Describe(ctx, name)
		if err != nil {
			return err
		}
		regs[host] = registryBinding{URL: e.serverURL(), Connector: conn.ID, ResourceID: cred.ResourceID}
		if err := writeRegistries(regPath, regs); err != nil {
			return err
		}
		if err := updateJSONFile(path, func(m map[string]json.RawMessage) error {
			return setField(m, "credHelpers", host, "gcpconn")
		}); err != nil {
			return err
		}
	}
	if e.json() {
		return e.printJSON(map[string]any{"docker_config": path, "registry": host, "static": static})
	}
	if static {
		fmt.Fprintf(e.Stdout, "Stored a token for %s in %s (unencrypted; it expires at %s).\n", host, path, cred.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	} else {
		fmt.Fprintf(e.Stdout, "Configured docker to get credentials for %s from docker-credential-gcpconn (%s).\n", host, path)
		if _, err := exec.LookPath("docker-credential-gcpconn"); err != nil {
			fmt.Fprintf(e.Stderr, "warning: docker-credential-gcpconn is not on PATH; docker needs it: ln -s %q /usr/local/bin/docker-credential-gcpconn\n", helperCommand(e))
		}
	}
	return nil
}

func loginADC(e *env, p *parsed, name string, cred *client.Credential) error {
	if p.bool("static") {
		path := p.str("token-file")
		if path == "" {
			dir, err := configDir(e)
			if err != nil {
				return err
			}
			path = filepath.Join(dir, "tokens", filepath.Base(name)+".token") // a name never leaves the tokens directory
		}
		if cred.AccessToken == "" {
			return errors.New("the connector hands out stored credentials, not a token: run login without --static to write them as the ADC file")
		}
		if err := writeFileAtomic(path, []byte(cred.AccessToken+"\n"), 0o600); err != nil {
			return err
		}
		if e.json() {
			return e.printJSON(map[string]any{"token_file": path, "expires_at": cred.ExpiresAt})
		}
		fmt.Fprintf(e.Stdout, "Wrote the access token to %s (expires at %s).\n", path, cred.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		fmt.Fprintf(e.Stdout, "gcloud uses it with: export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=%s\n", path)
		return nil
	}
	if cred.CredentialsJSON == "" {
		return &cliError{code: exitRefused, msg: fmt.Sprintf("connector '%s' hands out temporary tokens, which no ADC file can hold; run `gcpconn serve-metadata %s --resource-type %s` and point GCE_METADATA_HOST at it (tokens refresh), or use `gcpconn login --static` for a token file", name, name, cred.ResourceType)}
	}
	path := p.str("adc-file")
	if path == "" {
		path = client.ADCPath(e.Getenv)
		if path == "" {
			return errors.New("HOME is not set: pass --adc-file")
		}
	}
	if err := writeFileAtomic(path, []byte(strings.TrimSpace(cred.CredentialsJSON)+"\n"), 0o600); err != nil {
		return err
	}
	if e.json() {
		return e.printJSON(map[string]any{"adc_file": path})
	}
	fmt.Fprintf(e.Stdout, "Updated the local application default credentials file at '%s'.\n", path)
	return nil
}
