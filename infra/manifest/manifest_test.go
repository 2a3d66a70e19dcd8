package manifest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testManifest = `{
  "settings": {"go_runtime": "go126", "public_ingress": "ALLOW_ALL", "internal_ingress": "ALLOW_INTERNAL_ONLY",
    "request_timeout_seconds": 60, "memory": "512Mi", "cpu": "1", "concurrency": 80, "min_instances": 0,
    "max_instances": 10, "secret_topic_name": "topic", "revocation_window": "30s"},
  "secret_prefix": "gcpconn-",
  "event_type": "google.cloud.pubsub.topic.v1.messagePublished",
  "functions": {
    "verify": {"entry_point": "Verify", "trigger": "http", "ingress": "public_ingress", "timeout": "request_timeout_seconds", "caller": "users"},
    "refresh": {"entry_point": "Refresh", "trigger": "secret_topic", "ingress": "internal_ingress", "timeout": "request_timeout_seconds", "caller": "eventarc"}
  },
  "env": {"GCPCONN_STORE": {"value": "google"}, "GCPCONN_PROJECT": {"setting": "project_id"},
    "GCPCONN_REVOCATION_WINDOW": {"setting": "revocation_window"}},
  "timeout_env": "GCPCONN_TIMEOUT_SECONDS"
}`

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "functions.json")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct{ name, old, new, want string }{
		{"unknown field", `"secret_prefix"`, `"secret_prefx"`, "unknown field"},
		{"bad trigger", `"trigger": "http"`, `"trigger": "pubsub"`, "neither http nor secret_topic"},
		{"unknown setting", `"timeout": "request_timeout_seconds", "caller": "users"`, `"timeout": "nope", "caller": "users"`, `unknown setting "nope"`},
		{"unknown concurrency setting", `"caller": "eventarc"`, `"caller": "eventarc", "concurrency": "nope"`, `unknown setting "nope"`},
		{"no entry point", `"entry_point": "Verify", `, ``, "no entry_point"},
		{"value and setting", `{"value": "google"}`, `{"value": "google", "setting": "x"}`, "exactly one of value and setting"},
		{"timeout env also in env", `"GCPCONN_TIMEOUT_SECONDS"`, `"GCPCONN_STORE"`, "timeout_env GCPCONN_STORE is also in env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, strings.Replace(testManifest, tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestGcloudDeploy(t *testing.T) {
	m, err := Load(write(t, testManifest))
	if err != nil {
		t.Fatal(err)
	}
	base := Deploy{Project: "p", Region: "r", RuntimeSA: "rt@p", EventsSA: "ev@p", Given: map[string]string{"project_id": "p"}}
	tests := []struct {
		name    string
		fn      string
		edit    func(*Deploy)
		want    []string // arguments that must be there
		wantErr string
	}{
		{"http defaults", "verify", nil, []string{"--entry-point=Verify", "--ingress-settings=all", "--timeout=60s", "--min-instances=0",
			"--set-env-vars=^;^GCPCONN_PROJECT=p;GCPCONN_REVOCATION_WINDOW=30s;GCPCONN_STORE=google;GCPCONN_TIMEOUT_SECONDS=60", "--trigger-http", "--no-allow-unauthenticated"}, ""},
		{"event trigger", "refresh", nil, []string{"--ingress-settings=internal-only", "--trigger-topic=topic", "--trigger-service-account=ev@p", "--retry"}, ""},
		{"given settings win", "verify", func(d *Deploy) {
			d.Given = map[string]string{"project_id": "p", "revocation_window": "1m", "public_ingress": "internal-and-gclb"}
			d.MinInstances = map[string]string{"verify": "2"}
		}, []string{"--ingress-settings=internal-and-gclb", "--min-instances=2", "--set-env-vars=^;^GCPCONN_PROJECT=p;GCPCONN_REVOCATION_WINDOW=1m;GCPCONN_STORE=google;GCPCONN_TIMEOUT_SECONDS=60"}, ""},
		{"empty means default", "verify", func(d *Deploy) { d.Given = map[string]string{"project_id": "p", "revocation_window": ""} },
			[]string{"--set-env-vars=^;^GCPCONN_PROJECT=p;GCPCONN_REVOCATION_WINDOW=30s;GCPCONN_STORE=google;GCPCONN_TIMEOUT_SECONDS=60"}, ""},
		{"own timeout", "verify", func(d *Deploy) { d.Given = map[string]string{"project_id": "p", "request_timeout_seconds": "90"} },
			[]string{"--timeout=90s", "--set-env-vars=^;^GCPCONN_PROJECT=p;GCPCONN_REVOCATION_WINDOW=30s;GCPCONN_STORE=google;GCPCONN_TIMEOUT_SECONDS=90"}, ""},
		{"semicolon", "verify", func(d *Deploy) { d.Given = map[string]string{"project_id": "p;q"} }, nil, "must not contain ';'"},
		{"missing computed setting", "verify", func(d *Deploy) { d.Given = nil }, nil, "setting project_id has no value"},
		{"unknown function", "nope", nil, nil, `no function "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := base
			if tt.edit != nil {
				tt.edit(&d)
			}
			args, err := m.GcloudDeploy(tt.fn, d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("GcloudDeploy = %v; want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !slices.Contains(args, w) {
					t.Errorf("GcloudDeploy(%s) = %q; missing %q", tt.fn, args, w)
				}
			}
		})
	}
}

func TestGcloudIngress(t *testing.T) {
	for in, want := range map[string]string{"ALLOW_ALL": "all", "ALLOW_INTERNAL_ONLY": "internal-only",
		"ALLOW_INTERNAL_AND_GCLB": "internal-and-gclb", "internal-only": "internal-only"} {
		if got := GcloudIngress(in); got != want {
			t.Errorf("GcloudIngress(%q) = %q; want %q", in, got, want)
		}
	}
}
