// Package manifest reads infra/functions.json, gcpconn's one deploy manifest: the functions
// (name, entry point, trigger, ingress, timeout, who calls them), their environment, and the
// defaults of the deploy settings (runtime, memory, concurrency, instances, the revocation
// window, trusted issuers, ...). Terraform reads the same file with jsondecode; this package
// turns it into `gcloud functions deploy` arguments for scripts/deploy.sh (see gcloudargs).
package manifest

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// Function is one deployed function.
type Function struct {
	EntryPoint string `json:"entry_point"` // the name entrypoints.go registers
	Trigger    string `json:"trigger"`     // "http", or "secret_topic" (Eventarc on the secret topic)
	Ingress    string `json:"ingress"`     // the setting that holds its ingress
	Timeout    string `json:"timeout"`     // the setting that holds its timeout in seconds
	Caller     string `json:"caller"`      // "users" (the invokers), "scheduler" or "eventarc"
	// Concurrency names the setting that holds how many requests one instance serves at once;
	// "" means the "concurrency" setting.
	Concurrency string `json:"concurrency,omitempty"`
}

// ConcurrencySetting is the setting that holds f's request concurrency.
func (f Function) ConcurrencySetting() string {
	if f.Concurrency != "" {
		return f.Concurrency
	}
	return "concurrency"
}

// EnvVar is one environment variable: a fixed Value or the value of a Setting.
type EnvVar struct {
	Value   *string `json:"value,omitempty"`
	Setting string  `json:"setting,omitempty"`
}

// Manifest is infra/functions.json.
type Manifest struct {
	Settings     map[string]any      `json:"settings"` // deploy settings and their defaults
	SecretPrefix string              `json:"secret_prefix"`
	EventType    string              `json:"event_type"`
	Functions    map[string]Function `json:"functions"`
	Env          map[string]EnvVar   `json:"env"`
	// TimeoutEnv names the variable that carries each function's own timeout (its Timeout
	// setting, in seconds) to the process, which makes it the deadline of every request;
	// "" means none.
	TimeoutEnv string `json:"timeout_env,omitempty"`
}

// Load reads and checks the manifest at path.
func Load(path string) (*Manifest, error) {
	var m Manifest
	if err := readJSON(path, &m); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// readJSON decodes the JSON file at path into v, refusing fields v does not have; a decoding
// error names the file.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func (m *Manifest) check() error {
	if len(m.Functions) == 0 {
		return fmt.Errorf("no functions")
	}
	for name, f := range m.Functions {
		if f.EntryPoint == "" {
			return fmt.Errorf("function %s: no entry_point", name)
		}
		if f.Trigger != "http" && f.Trigger != "secret_topic" {
			return fmt.Errorf("function %s: trigger %q is neither http nor secret_topic", name, f.Trigger)
		}
		for _, s := range []string{f.Ingress, f.Timeout, f.ConcurrencySetting()} {
			if _, ok := m.Settings[s]; !ok {
				return fmt.Errorf("function %s: unknown setting %q", name, s)
			}
		}
	}
	for name, e := range m.Env {
		if (e.Value == nil) == (e.Setting == "") {
			return fmt.Errorf("env %s: want exactly one of value and setting", name)
		}
	}
	if _, clash := m.Env[m.TimeoutEnv]; clash {
		return fmt.Errorf("timeout_env %s is also in env: each function sets it to its own timeout", m.TimeoutEnv)
	}
	return nil
}

// Names returns the names of the functions that caller invokes (all for ""), sorted.
func (m *Manifest) Names(caller string) []string {
	names := make([]string, 0, len(m.Functions))
	for n, f := range m.Functions {
		if caller == "" || f.Caller == caller {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Setting returns setting name from given (the deployer's values), else the manifest default.
// An empty given value means the default too.
func (m *Manifest) Setting(name string, given map[string]string) (string, error) {
	if v := given[name]; v != "" {
		return v, nil
	}
	v, ok := m.Settings[name]
	if !ok {
		if _, set := given[name]; set {
			return "", nil
		}
		return "", fmt.Errorf("setting %s has no value and no default", name)
	}
	return fmt.Sprint(v), nil
}

// FederatedFunctions returns the functions whose Cloud Run invoker IAM check is turned off
// so that federated callers reach them (the setting federated_functions: comma-separated
// names, "" for none), sorted. Only functions that users call may be named.
func (m *Manifest) FederatedFunctions(given map[string]string) ([]string, error) {
	v, err := m.Setting("federated_functions", given)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range strings.Split(v, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if f, ok := m.Functions[n]; !ok || f.Caller != "users" {
			return nil, fmt.Errorf("federated_functions: %q is not one of the functions callers use (%s)", n, strings.Join(m.Names("users"), ", "))
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
