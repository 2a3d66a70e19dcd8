package infratest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// cloudBuild is the part of a Cloud Build config the checks read.
type cloudBuild struct {
	Substitutions map[string]string `yaml:"substitutions"`
	Options       struct {
		DynamicSubstitutions bool `yaml:"dynamicSubstitutions"`
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

func loadCloudBuild(t *testing.T) (*cloudBuild, func(string) string) {
	t.Helper()
	var cb cloudBuild
	if err := yaml.Unmarshal([]byte(readFile(t, "cloudbuild.yaml")), &cb); err != nil {
		t.Fatalf("parse cloudbuild.yaml: %v", err)
	}
	if !cb.Options.DynamicSubstitutions {
		t.Error("cloudbuild.yaml: options.dynamicSubstitutions is off, so substitution defaults cannot use ${PROJECT_ID}")
	}
	cb.Substitutions["_REGION"] = region // what a trigger for this region sets
	expand := func(s string) string {
		v, err := substitute(s, cb.Substitutions, 0)
		if err != nil {
			t.Errorf("cloudbuild.yaml: %v", err)
		}
		return v
	}
	return &cb, expand
}

func TestCloudBuildDeploysEveryEntryPoint(t *testing.T) {
	cb, expand := loadCloudBuild(t)
	for _, want := range []string{"_PROJECT", "_REGION", "_RUNTIME_SA"} {
		if _, ok := cb.Substitutions[want]; !ok {
			t.Errorf("cloudbuild.yaml has no substitution %s", want)
		}
	}
	var deps []deployment
	deployIDs := map[string]bool{}
	for _, s := range cb.Steps {
		args := make([]string, len(s.Args))
		for i, a := range s.Args {
			args[i] = expand(a)
		}
		if s.Entrypoint == "gcloud" && len(args) >= 3 && args[0] == "functions" && args[1] == "deploy" {
			words := append([]string{"gcloud"}, args...)
			d := gcloudDeployment(t, words)
			flags, _ := Flags(words)
			if r := flags["region"]; len(r) != 1 || r[0] != region {
				t.Errorf("cloudbuild.yaml: deploy %s region = %v; want %s", d.Name, r, region)
			}
			if p := flags["project"]; len(p) != 1 || p[0] != project {
				t.Errorf("cloudbuild.yaml: deploy %s project = %v; want %s", d.Name, p, project)
			}
			if strings.Join(s.WaitFor, ",") != "test" {
				t.Errorf("cloudbuild.yaml: step %s waits for %v; want [test] (deploy only tested code)", s.ID, s.WaitFor)
			}
			deps = append(deps, d)
			deployIDs[s.ID] = true
			continue
		}
		// No step may deploy in another way (a script calling gcloud functions deploy).
		for _, a := range args {
			if strings.Contains(a, "functions deploy") || strings.Contains(a, "allow-unauthenticated") {
				t.Errorf("cloudbuild.yaml: step %s deploys or opens a function outside a gcloud functions deploy step", s.ID)
			}
		}
	}
	checkDeployments(t, "cloudbuild.yaml", deps, expectation{
		gcloud:         true,
		serviceAccount: runtimeSA,
		triggerSA:      eventsSA,
		topic:          topicName,
		env:            wantEnv(schedulerSA, topicID),
	})

	// The test step runs the one test command with the emulators image.
	if len(cb.Steps) == 0 || cb.Steps[0].ID != "test" {
		t.Fatal("cloudbuild.yaml: the first step must be the test step (id test)")
	}
	test := cb.Steps[0]
	if test.Name != "gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators" {
		t.Errorf("cloudbuild.yaml: test step image = %q; want Google's emulators image", test.Name)
	}
	script := strings.Join(test.Args, "\n")
	if !strings.Contains(script, "scripts/test.sh") {
		t.Error("cloudbuild.yaml: the test step does not run scripts/test.sh")
	}

	// Custom audiences are set after every deploy, on every deployed function.
	var aud bool
	for _, s := range cb.Steps {
		if s.ID != "custom-audiences" {
			continue
		}
		aud = true
		for id := range deployIDs {
			if !strings.Contains(strings.Join(s.WaitFor, ","), id) {
				t.Errorf("cloudbuild.yaml: custom-audiences does not wait for %s", id)
			}
		}
		script := expand(strings.Join(s.Args, "\n"))
		if !strings.Contains(script, "--add-custom-audiences="+baseURL) {
			t.Errorf("cloudbuild.yaml: custom-audiences does not add %s", baseURL)
		}
		loop := regexp.MustCompile(`for fn in ([^;]+);`).FindStringSubmatch(script)
		if loop == nil {
			t.Fatal("cloudbuild.yaml: custom-audiences has no `for fn in ...;` loop")
		}
		covered := map[string]bool{}
		for _, name := range strings.Fields(loop[1]) {
			covered[name] = true
		}
		for _, d := range deps {
			if !covered[d.Name] {
				t.Errorf("cloudbuild.yaml: custom-audiences does not cover %s", d.Name)
			}
		}
	}
	if !aud {
		t.Error("cloudbuild.yaml: no custom-audiences step")
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
