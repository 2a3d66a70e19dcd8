package manifest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Deploy is what a gcloud deployer adds to the manifest: where, as whom, and the settings it
// was given (by Terraform variable name; empty means the manifest default). The settings
// project_id, audience, admins and secret_topic have no default: the deployer computes them.
type Deploy struct {
	Project, Region string
	RuntimeSA       string // the functions' service account
	EventsSA        string // the Eventarc trigger's service account
	MinInstances    map[string]string
	Given           map[string]string
}

// GcloudIngress spells an ingress setting the gcloud way (ALLOW_INTERNAL_ONLY -> internal-only).
func GcloudIngress(v string) string {
	if !strings.HasPrefix(v, "ALLOW_") {
		return v
	}
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(v, "ALLOW_")), "_", "-")
}

// Environment returns the functions' environment: every variable of the manifest with its
// value (fixed, or the setting's from given, else the default).
func (m *Manifest) Environment(given map[string]string) (map[string]string, error) {
	env := make(map[string]string, len(m.Env))
	for n, e := range m.Env {
		if e.Value != nil {
			env[n] = *e.Value
			continue
		}
		v, err := m.Setting(e.Setting, given)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", n, err)
		}
		env[n] = v
	}
	return env, nil
}

// EnvVars returns the --set-env-vars value: ';'-separated (gcloud's ^;^ escaping), sorted.
func (m *Manifest) EnvVars(given map[string]string) (string, error) {
	env, err := m.Environment(given)
	if err != nil {
		return "", err
	}
	names := slices.Sorted(maps.Keys(env))
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if strings.Contains(env[n], ";") {
			return "", fmt.Errorf("env %s: value must not contain ';' (it separates the variables)", n)
		}
		parts = append(parts, n+"="+env[n])
	}
	return "^;^" + strings.Join(parts, ";"), nil
}

// FunctionEnvVars returns the --set-env-vars value of function name: EnvVars plus TimeoutEnv
// set to the function's own timeout in seconds.
func (m *Manifest) FunctionEnvVars(name string, given map[string]string) (string, error) {
	f, ok := m.Functions[name]
	if !ok {
		return "", fmt.Errorf("no function %q in the manifest", name)
	}
	env, err := m.EnvVars(given)
	if err != nil || m.TimeoutEnv == "" {
		return env, err
	}
	timeout, err := m.Setting(f.Timeout, given)
	if err != nil {
		return "", err
	}
	parts := strings.Split(strings.TrimPrefix(env, "^;^"), ";")
	parts = append(parts, m.TimeoutEnv+"="+timeout)
	sort.Strings(parts)
	return "^;^" + strings.Join(parts, ";"), nil
}

// GcloudDeploy returns the `gcloud functions deploy` command line of function name.
func (m *Manifest) GcloudDeploy(name string, d Deploy) ([]string, error) {
	f, ok := m.Functions[name]
	if !ok {
		return nil, fmt.Errorf("no function %q in the manifest", name)
	}
	env, err := m.FunctionEnvVars(name, d.Given)
	if err != nil {
		return nil, err
	}
	s := map[string]string{}
	for _, k := range []string{"go_runtime", f.Ingress, f.Timeout, "memory", "cpu", f.ConcurrencySetting(), "max_instances", "min_instances", "secret_topic_name"} {
		if s[k], err = m.Setting(k, d.Given); err != nil {
			return nil, err
		}
	}
	if v := d.MinInstances[name]; v != "" {
		s["min_instances"] = v
	}
	args := []string{"gcloud", "functions", "deploy", name, "--gen2", "--project=" + d.Project, "--region=" + d.Region,
		"--runtime=" + s["go_runtime"], "--source=.", "--entry-point=" + f.EntryPoint,
		"--service-account=" + d.RuntimeSA, "--set-env-vars=" + env,
		"--ingress-settings=" + GcloudIngress(s[f.Ingress]), "--timeout=" + s[f.Timeout] + "s",
		"--memory=" + s["memory"], "--cpu=" + s["cpu"], "--concurrency=" + s[f.ConcurrencySetting()],
		"--min-instances=" + s["min_instances"], "--max-instances=" + s["max_instances"],
		"--serve-all-traffic-latest-revision", "--quiet"}
	if f.Trigger == "secret_topic" {
		return append(args, "--trigger-topic="+s["secret_topic_name"], "--trigger-location="+d.Region,
			"--trigger-service-account="+d.EventsSA, "--retry"), nil
	}
	return append(args, "--trigger-http", "--no-allow-unauthenticated"), nil
}
