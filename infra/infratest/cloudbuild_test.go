package infratest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// cloudBuild is the part of a Cloud Build config the checks read.
type cloudBuild struct {
	Substitutions map[string]string `yaml:"substitutions"`
	Options       struct {
		DynamicSubstitutions bool     `yaml:"dynamicSubstitutions"`
		Volumes              []volume `yaml:"volumes"`
	} `yaml:"options"`
	Steps []struct {
		ID         string   `yaml:"id"`
		Name       string   `yaml:"name"`
		Entrypoint string   `yaml:"entrypoint"`
		Args       []string `yaml:"args"`
		Env        []string `yaml:"env"`
		WaitFor    []string `yaml:"waitFor"`
	} `yaml:"steps"`
}

type volume struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
}

var substRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)`)

// substitute expands Cloud Build substitutions in s the way Cloud Build does with
// dynamicSubstitutions: $$ is a literal $, ${_X} and $_X come from subs (themselves expanded),
// and PROJECT_ID is demo-project. Shell variables in scripts are written $${...}, so they stay.
func substitute(s string, subs map[string]string, depth int) (string, error) {
	if depth > 5 {
		return "", fmt.Errorf("substitutions nest too deep in %q", s)
	}
	var err error
	out := substRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sm := substRef.FindStringSubmatch(m)
		name := sm[1] + sm[2]
		if name == "PROJECT_ID" {
			return project
		}
		v, ok := subs[name]
		if !ok {
			err = fmt.Errorf("unknown substitution %s in %q", name, s)
			return m
		}
		v, e := substitute(v, subs, depth+1)
		if e != nil {
			err = e
		}
		return v
	})
	return out, err
}

// loadCloudBuild parses cloudbuild.yaml; expand applies its substitutions, with _REGION as a
// trigger for this region sets it and overrides as a trigger's --substitutions would.
func loadCloudBuild(t *testing.T, overrides map[string]string) (*cloudBuild, func(string) string) {
	t.Helper()
	var cb cloudBuild
	if err := yaml.Unmarshal([]byte(readFile(t, "cloudbuild.yaml")), &cb); err != nil {
		t.Fatalf("parse cloudbuild.yaml: %v", err)
	}
	if !cb.Options.DynamicSubstitutions {
		t.Error("cloudbuild.yaml: options.dynamicSubstitutions is off, so substitution defaults cannot use ${PROJECT_ID}")
	}
	cb.Substitutions["_REGION"] = region
	for k, v := range overrides {
		cb.Substitutions[k] = v
	}
	expand := func(s string) string {
		v, err := substitute(s, cb.Substitutions, 0)
		if err != nil {
			t.Errorf("cloudbuild.yaml: %v", err)
		}
		return v
	}
	return &cb, expand
}

// cloudBuildDeployPlan finds the step that runs scripts/deploy.sh, checks how it runs, and
// returns the --dry-run plan of the same invocation (its arguments after substitution).
func cloudBuildDeployPlan(t *testing.T, overrides map[string]string) string {
	t.Helper()
	cb, expand := loadCloudBuild(t, overrides)
	var args []string
	for _, s := range cb.Steps {
		if len(s.Args) > 0 && s.Entrypoint == "bash" && s.Args[0] == "scripts/deploy.sh" {
			if args != nil {
				t.Errorf("cloudbuild.yaml: more than one step runs scripts/deploy.sh")
			}
			if strings.Join(s.WaitFor, ",") != "test" {
				t.Errorf("cloudbuild.yaml: step %s waits for %v; want [test] (deploy only tested code)", s.ID, s.WaitFor)
			}
			if !slices.Contains(s.Env, "GO=/usr/local/go/bin/go") {
				t.Errorf("cloudbuild.yaml: step %s does not point GO at the Go the test step installs", s.ID)
			}
			for _, a := range s.Args[1:] {
				args = append(args, expand(a))
			}
			continue
		}
		// No step may deploy in another way (gcloud functions deploy outside deploy.sh).
		for _, a := range append([]string{s.Entrypoint}, s.Args...) {
			if strings.Contains(a, "deploy") || strings.Contains(a, "allow-unauthenticated") || strings.Contains(a, "run services") {
				t.Errorf("cloudbuild.yaml: step %s deploys or changes a function outside scripts/deploy.sh", s.ID)
			}
		}
	}
	if len(args) == 0 || args[0] != "--functions-only" {
		t.Fatalf("cloudbuild.yaml: no step runs scripts/deploy.sh --functions-only (args %q)", args)
	}
	if !slices.Contains(cb.Options.Volumes, volume{Name: "go", Path: "/usr/local/go"}) {
		t.Errorf("cloudbuild.yaml: the Go release is not kept in a volume at /usr/local/go for the deploy step")
	}
	path, _ := fakeGcloud(t, true)
	out, stderr, err := runDeploy(t, path, append([]string{"--dry-run"}, args...)...)
	if err != nil {
		t.Fatalf("cloudbuild.yaml's deploy.sh invocation (as --dry-run %q) = %v\n%s", args, err, stderr)
	}
	return out
}

// TestCloudBuildDeploysThroughDeploySh runs the deploy step's scripts/deploy.sh invocation as a
// dry run: with the default substitutions it deploys every function of the manifest as the
// other readers do, only the functions (the project's setup is infra/'s), and adds the audience.
func TestCloudBuildDeploysThroughDeploySh(t *testing.T) {
	cmds := gcloudCommands(t, cloudBuildDeployPlan(t, nil))
	var deps []deployment
	for _, c := range cmds {
		switch {
		case hasPrefix(c, "gcloud", "functions", "deploy"):
			d := gcloudDeployment(t, c)
			flags, _ := Flags(c)
			if r := flags["region"]; len(r) != 1 || r[0] != region {
				t.Errorf("deploy %s region = %v; want %s", d.Name, r, region)
			}
			deps = append(deps, d)
		case hasPrefix(c, "gcloud", "run", "services", "update"):
		default:
			t.Errorf("cloudbuild.yaml's deploy step runs %q; want only function deploys and audiences", strings.Join(c, " "))
		}
	}
	checkDeployments(t, "cloudbuild.yaml", deps, expectation{
		gcloud:         true,
		serviceAccount: runtimeSA,
		triggerSA:      eventsSA,
		topic:          topicName,
		env:            wantEnv(t, schedulerSA, topicID, sweepTopicID, nil),
	})
	checkAudiences(t, cmds, deps)

	// The test step runs the one test command with the emulators image.
	cb, _ := loadCloudBuild(t, nil)
	if len(cb.Steps) == 0 || cb.Steps[0].ID != "test" {
		t.Fatal("cloudbuild.yaml: the first step must be the test step (id test)")
	}
	test := cb.Steps[0]
	if test.Name != "gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators" {
		t.Errorf("cloudbuild.yaml: test step image = %q; want Google's emulators image", test.Name)
	}
	if script := strings.Join(test.Args, "\n"); !strings.Contains(script, "scripts/test.sh") {
		t.Error("cloudbuild.yaml: the test step does not run scripts/test.sh")
	}
}

// TestCloudBuildSubstitutionsReachTheFunctions: every substitution a trigger may set ends up
// in the deployed functions' settings.
func TestCloudBuildSubstitutionsReachTheFunctions(t *testing.T) {
	out := cloudBuildDeployPlan(t, map[string]string{
		"_ADMINS":                       "ops@example.com",
		"_ENABLE_IMPLICIT_AUTH_METHODS": "true",
		"_REVOCATION_WINDOW":            "1m",
		"_MAX_KEY_AGE":                  "90d",
		"_ROTATION_IDENTITY":            "service",
		"_TRUSTED_ISSUERS":              `[{"name":"gh","issuer":"https://token.actions.githubusercontent.com","audiences":["x"],"bound_claims":{"repository_owner_id":"1"}}]`,
		"_FIRESTORE_DATABASE":           "conn",
		"_RUNTIME":                      "go127",
		"_SECRET_TOPIC":                 "t2",
		"_PUBLIC_INGRESS":               "internal-and-gclb",
		"_INTERNAL_INGRESS":             "internal-only",
		"_MIN_INSTANCES":                "2",
		"_MAX_INSTANCES":                "7",
	})
	want := map[string]string{
		"GCPCONN_ADMINS":                       "ops@example.com," + schedulerSA,
		"GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS": "true",
		"GCPCONN_REVOCATION_WINDOW":            "1m",
		"GCPCONN_MAX_KEY_AGE":                  "90d",
		"GCPCONN_ROTATION_IDENTITY":            "service",
		"GCPCONN_TRUSTED_ISSUERS":              `[{"name":"gh","issuer":"https://token.actions.githubusercontent.com","audiences":["x"],"bound_claims":{"repository_owner_id":"1"}}]`,
		"GCPCONN_FIRESTORE_DATABASE":           "conn",
		"GCPCONN_SECRET_TOPIC":                 "projects/demo-project/topics/t2",
	}
	for _, c := range gcloudCommands(t, out) {
		if !hasPrefix(c, "gcloud", "functions", "deploy") {
			continue
		}
		d := gcloudDeployment(t, c)
		flags, _ := Flags(c)
		for k, v := range want {
			if d.Env[k] != v {
				t.Errorf("%s: %s = %q; want %q", d.Name, k, d.Env[k], v)
			}
		}
		wantMin, wantIngress := "0", "internal-and-gclb"
		if d.Name == "mint-token" {
			wantMin = "2"
		}
		if d.Name == "sweep" || d.Name == "sweep-shard" || d.Name == "refresh" {
			wantIngress = "internal-only"
		}
		got := map[string]string{"runtime": d.Runtime, "ingress-settings": d.Ingress,
			"min-instances": strings.Join(flags["min-instances"], ","), "max-instances": strings.Join(flags["max-instances"], ",")}
		for k, v := range map[string]string{"runtime": "go127", "ingress-settings": wantIngress, "min-instances": wantMin, "max-instances": "7"} {
			if got[k] != v {
				t.Errorf("%s: --%s = %q; want %q", d.Name, k, got[k], v)
			}
		}
		if d.Topic != "" && d.Topic != "t2" {
			t.Errorf("%s: trigger topic = %q; want t2", d.Name, d.Topic)
		}
	}
}

func TestSubstitute(t *testing.T) {
	subs := map[string]string{"_A": "a-${PROJECT_ID}", "_B": "${_A}/b", "_LOOP": "${_LOOP}"}
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"x", "x", false},
		{"${_A}", "a-demo-project", false},
		{"$_A!", "a-demo-project!", false},
		{"${_B}", "a-demo-project/b", false},
		{"$${fn} $$HOME", "${fn} $HOME", false},
		{"${_NOPE}", "", true},
		{"${_LOOP}", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := substitute(tt.in, subs, 0)
			if (err != nil) != tt.wantErr {
				t.Fatalf("substitute(%q) error = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("substitute(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}
