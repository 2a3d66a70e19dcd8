package infratest

import (
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/gcpconn/gcpconn/functions/app"
	"github.com/gcpconn/gcpconn/infra/manifest"
)

func loadManifest(t *testing.T) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Load(filepath.Join(repoRoot, "infra", "functions.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManifestMatchesEntryPoints: every function of the manifest is registered in
// entrypoints.go under its entry point with the kind its trigger needs, and every registered
// entry point is in the manifest under the name FunctionName gives it.
func TestManifestMatchesEntryPoints(t *testing.T) {
	m := loadManifest(t)
	eps := registered(t)
	wantKind := map[string]string{"http": KindHTTP, "secret_topic": KindCloudEvent}
	deployed := map[string]bool{}
	for name, f := range m.Functions {
		deployed[f.EntryPoint] = true
		kind, ok := eps[f.EntryPoint]
		switch {
		case !ok:
			t.Errorf("functions.json: %s has entry point %s, which entrypoints.go does not register", name, f.EntryPoint)
		case kind != wantKind[f.Trigger]:
			t.Errorf("functions.json: %s (trigger %s) needs a %s entry point; %s is registered as %s", name, f.Trigger, wantKind[f.Trigger], f.EntryPoint, kind)
		case FunctionName(f.EntryPoint) != name:
			t.Errorf("functions.json: entry point %s is deployed as %q; want %q", f.EntryPoint, name, FunctionName(f.EntryPoint))
		}
	}
	for ep := range eps {
		if !deployed[ep] {
			t.Errorf("entrypoints.go registers %s, which functions.json does not deploy", ep)
		}
	}
}

// TestManifestEnvIsReadByTheService: every variable the manifest sets is one the functions
// read (app.ConfigFromEnv), so a renamed or dropped variable cannot linger in the deployment.
func TestManifestEnvIsReadByTheService(t *testing.T) {
	read := map[string]bool{}
	_, _ = app.ConfigFromEnv(func(k string) string { read[k] = true; return "" })
	for name := range loadManifest(t).Env {
		if !read[name] {
			t.Errorf("functions.json sets %s, which app.ConfigFromEnv does not read", name)
		}
	}
	if m := loadManifest(t); m.TimeoutEnv == "" || !read[m.TimeoutEnv] {
		t.Errorf("functions.json timeout_env = %q; want a variable app.ConfigFromEnv reads, so that each function's timeout becomes its requests' deadline", m.TimeoutEnv)
	}
	for _, name := range []string{"GCPCONN_PROJECT", "GCPCONN_STORE", "GCPCONN_AUDIENCE", "GCPCONN_ADMINS", "GCPCONN_SECRET_TOPIC"} {
		if _, ok := loadManifest(t).Env[name]; !ok {
			t.Errorf("functions.json does not set %s, without which the deployed service cannot run", name)
		}
	}
}

// TestManifestPolicy pins what the manifest promises: callers reach register, verify, list
// and mint-token from anywhere (IAM still applies); only Cloud Scheduler and Eventarc call
// sweep and refresh, from inside the project; sweep's timeout fits the scheduler's deadline.
func TestManifestPolicy(t *testing.T) {
	m := loadManifest(t)
	wantIngress := map[string]string{"users": "public_ingress", "scheduler": "internal_ingress", "eventarc": "internal_ingress"}
	for name, f := range m.Functions {
		want, ok := wantIngress[f.Caller]
		if !ok {
			t.Errorf("%s: caller %q is not users, scheduler or eventarc", name, f.Caller)
		}
		if f.Ingress != want {
			t.Errorf("%s (called by %s): ingress setting %s; want %s", name, f.Caller, f.Ingress, want)
		}
		if (f.Caller == "eventarc") != (f.Trigger == "secret_topic") {
			t.Errorf("%s: caller %s with trigger %s", name, f.Caller, f.Trigger)
		}
	}
	if got := m.Settings["internal_ingress"]; got != "ALLOW_INTERNAL_ONLY" {
		t.Errorf("internal_ingress = %v; want ALLOW_INTERNAL_ONLY", got)
	}
	if got, _ := m.Settings["sweep_timeout_seconds"].(float64); got <= 0 || got > 1800 {
		t.Errorf("sweep_timeout_seconds = %v; want 1..1800 (the scheduler's attempt deadline)", got)
	}
}

// TestTerraformFollowsManifest: each google_cloudfunctions2_function has the manifest's
// settings, and a Terraform variable that is set overrides the manifest's default.
func TestTerraformFollowsManifest(t *testing.T) {
	m := loadManifest(t)
	tests := []struct {
		name string
		vars map[string]cty.Value
		want map[string]string // settings that differ from the manifest
	}{
		{"defaults", nil, nil},
		{"overrides", map[string]cty.Value{
			"memory": cty.StringVal("1Gi"), "max_instances": cty.NumberIntVal(3), "sweep_timeout_seconds": cty.NumberIntVal(900),
			"public_ingress": cty.StringVal("ALLOW_INTERNAL_AND_GCLB"), "revocation_window": cty.StringVal("1m"),
			"enable_implicit_auth_methods": cty.True, "go_runtime": cty.StringVal("go127"), "rotation_identity": cty.StringVal("service"),
		}, map[string]string{"memory": "1Gi", "max_instances": "3", "sweep_timeout_seconds": "900",
			"public_ingress": "ALLOW_INTERNAL_AND_GCLB", "revocation_window": "1m", "enable_implicit_auth_methods": "true", "go_runtime": "go127",
			"rotation_identity": "service"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setting := func(k string) string {
				if v, ok := tt.want[k]; ok {
					return v
				}
				return manifestString(m.Settings[k])
			}
			mod := loadInfra(t, tt.vars)
			var names []string
			for _, r := range mod.OfType("google_cloudfunctions2_function") {
				for _, in := range r.Instances {
					name := str(t, in, "name")
					names = append(names, name)
					f := m.Functions[name]
					bc, sc := block(t, in, "build_config"), block(t, in, "service_config")
					got := map[string]string{
						"entry_point": str(t, bc, "entry_point"), "runtime": str(t, bc, "runtime"),
						"timeout": str(t, sc, "timeout_seconds"), "ingress": str(t, sc, "ingress_settings"),
						"memory": str(t, sc, "available_memory"), "cpu": str(t, sc, "available_cpu"),
						"concurrency": str(t, sc, "max_instance_request_concurrency"),
						"max":         str(t, sc, "max_instance_count"), "min": str(t, sc, "min_instance_count"),
					}
					want := map[string]string{
						"entry_point": f.EntryPoint, "runtime": setting("go_runtime"),
						"timeout": setting(f.Timeout), "ingress": setting(f.Ingress),
						"memory": setting("memory"), "cpu": setting("cpu"), "concurrency": setting(f.ConcurrencySetting()),
						"max": setting("max_instances"), "min": setting("min_instances"),
					}
					for k, w := range want {
						if got[k] != w {
							t.Errorf("%s: %s = %q; want %q", name, k, got[k], w)
						}
					}
					env, err := sc.StringMap("environment_variables")
					if err != nil {
						t.Fatal(err)
					}
					if env["GCPCONN_REVOCATION_WINDOW"] != setting("revocation_window") ||
						env["GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS"] != setting("enable_implicit_auth_methods") ||
						env["GCPCONN_ROTATION_IDENTITY"] != setting("rotation_identity") ||
						env[m.TimeoutEnv] != setting(f.Timeout) {
						t.Errorf("%s: env does not follow the settings: %v", name, env)
					}
				}
			}
			sort.Strings(names)
			if got, want := names, m.Names(""); !slices.Equal(got, want) {
				t.Errorf("Terraform deploys %v; the manifest has %v", got, want)
			}
		})
	}
}

// manifestString spells a JSON value of the manifest as Terraform and gcloud see it.
func manifestString(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s, _ := v.(string)
	return s
}
