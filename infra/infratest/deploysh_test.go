package infratest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gcpconn/gcpconn/internal/testbuild"
)

// fakeGcloud puts a gcloud on PATH that records every call in a log and answers describes
// with exists (0) or not found (1). It returns the PATH to use and the log file.
func fakeGcloud(t *testing.T, exists bool) (path, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls.log")
	rc := "1"
	if exists {
		rc = "0"
	}
	script := `#!/usr/bin/env bash
printf '%s\n' "$*" >>"` + log + `"
case "$*" in
"auth list"*) echo tester@example.com ;;
"projects describe"*) echo 123456789012 ;;
*" describe "*) exit ` + rc + ` ;;
esac
exit 0
`
	if err := os.WriteFile(filepath.Join(dir, "gcloud"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH"), log
}

var gcloudArgsBuild struct {
	once sync.Once
	path string
	err  error
}

// gcloudArgs builds infra/manifest/gcloudargs once per test binary, for every deploy.sh run.
func gcloudArgs(t *testing.T) string {
	t.Helper()
	b := &gcloudArgsBuild
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "gcloudargs")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "gcloudargs")
		out, err := testbuild.Command(b.path, "../manifest/gcloudargs").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build gcloudargs: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func runDeploy(t *testing.T, path string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runDeployWith(t, "GCLOUDARGS="+gcloudArgs(t), path, args...)
}

// runDeployWith runs deploy.sh with the gcloud on path and one more environment entry (which
// may replace GCLOUDARGS, the manifest reader).
func runDeployWith(t *testing.T, env, path string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bash, lerr := exec.LookPath("bash")
	if lerr != nil {
		t.Skip("bash is not installed")
	}
	cmd := exec.Command(bash, append([]string{filepath.Join(repoRoot, "scripts", "deploy.sh")}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+path, "CLOUDSDK_CONFIG="+t.TempDir(), "GCLOUDARGS="+gcloudArgs(t), env)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func gcloudCommands(t *testing.T, text string) [][]string {
	t.Helper()
	cmds, err := SplitCommands(text)
	if err != nil {
		t.Fatalf("SplitCommands(plan) = %v", err)
	}
	var out [][]string
	for _, c := range cmds {
		if c[0] == "gcloud" {
			out = append(out, c)
		}
	}
	return out
}

func hasPrefix(words []string, prefix ...string) bool {
	if len(words) < len(prefix) {
		return false
	}
	for i, p := range prefix {
		if words[i] != p {
			return false
		}
	}
	return true
}

// TestDeployDryRun checks the plan that `scripts/deploy.sh --dry-run demo-project europe-west1`
// prints, and that printing it calls nothing.
func TestDeployDryRun(t *testing.T) {
	path, log := fakeGcloud(t, true)
	out, stderr, err := runDeploy(t, path, "--dry-run", project, region)
	if err != nil {
		t.Fatalf("deploy.sh --dry-run = %v\n%s", err, stderr)
	}
	if _, err := os.Stat(log); err == nil {
		calls, _ := os.ReadFile(log)
		t.Errorf("deploy.sh --dry-run called gcloud:\n%s", calls)
	}
	cmds := gcloudCommands(t, out)
	if len(cmds) == 0 {
		t.Fatalf("deploy.sh --dry-run printed no gcloud command:\n%s", out)
	}
	var deps []deployment
	for _, c := range cmds {
		if hasPrefix(c, "gcloud", "functions", "deploy") {
			d := gcloudDeployment(t, c)
			flags, _ := Flags(c)
			if r := flags["region"]; len(r) != 1 || r[0] != region {
				t.Errorf("deploy %s region = %v; want %s", d.Name, r, region)
			}
			deps = append(deps, d)
		}
	}
	checkDeployments(t, "scripts/deploy.sh", deps, expectation{
		gcloud:         true,
		serviceAccount: runtimeSA,
		triggerSA:      eventsSA,
		topic:          topicName,
		env:            wantEnv(t, schedulerSA, topicID, sweepTopicID, nil),
	})

	// Every step of the plan is there.
	checks := []struct {
		what   string
		prefix []string
		flags  map[string]string
	}{
		{"Firestore database", []string{"gcloud", "firestore", "databases", "create"}, map[string]string{"database": "(default)", "type": "firestore-native"}},
		{"Firestore index", []string{"gcloud", "firestore", "indexes", "composite", "create"}, map[string]string{"collection-group": "connectors"}},
		{"secret topic", []string{"gcloud", "pubsub", "topics", "create", topicName}, nil},
		{"topic publisher", []string{"gcloud", "pubsub", "topics", "add-iam-policy-binding", topicName}, map[string]string{
			"member": "serviceAccount:service-PROJECT_NUMBER@gcp-sa-secretmanager.iam.gserviceaccount.com", "role": "roles/pubsub.publisher"}},
		{"scheduler invokes sweep", []string{"gcloud", "run", "services", "add-iam-policy-binding", FunctionName("Sweep")}, map[string]string{
			"member": "serviceAccount:" + schedulerSA, "role": "roles/run.invoker"}},
		{"eventarc invokes refresh", []string{"gcloud", "run", "services", "add-iam-policy-binding", FunctionName("Refresh")}, map[string]string{
			"member": "serviceAccount:" + eventsSA, "role": "roles/run.invoker"}},
		{"eventarc receiver", []string{"gcloud", "projects", "add-iam-policy-binding", project}, map[string]string{
			"member": "serviceAccount:" + eventsSA, "role": "roles/eventarc.eventReceiver"}},
		{"scheduler job (create)", []string{"gcloud", "scheduler", "jobs", "create", "http", "gcpconn-sweep"}, map[string]string{
			"uri": baseURL + "/" + FunctionName("Sweep"), "oidc-service-account-email": schedulerSA, "oidc-token-audience": baseURL,
			"location": region, "http-method": "POST"}},
		{"scheduler job (update)", []string{"gcloud", "scheduler", "jobs", "update", "http", "gcpconn-sweep"}, map[string]string{
			"uri": baseURL + "/" + FunctionName("Sweep"), "oidc-service-account-email": schedulerSA, "oidc-token-audience": baseURL}},
	}
	for _, c := range checks {
		t.Run(c.what, func(t *testing.T) {
			for _, cmd := range cmds {
				if !hasPrefix(cmd, c.prefix...) {
					continue
				}
				flags, _ := Flags(cmd)
				ok := true
				for k, v := range c.flags {
					if got := flags[k]; len(got) != 1 || got[0] != v {
						ok = false
					}
				}
				if ok {
					return
				}
			}
			t.Errorf("the plan has no %q command with %v", strings.Join(c.prefix, " "), c.flags)
		})
	}

	// The APIs every piece needs are enabled.
	enabled := map[string]bool{}
	for _, c := range cmds {
		if hasPrefix(c, "gcloud", "services", "enable") {
			_, args := Flags(c)
			for _, a := range args[3:] {
				enabled[a] = true
			}
		}
	}
	for _, api := range []string{"cloudfunctions", "run", "cloudbuild", "artifactregistry", "eventarc", "pubsub",
		"cloudscheduler", "firestore", "secretmanager", "iamcredentials", "sts"} {
		if !enabled[api+".googleapis.com"] {
			t.Errorf("the plan does not enable %s.googleapis.com", api)
		}
	}

	checkAudiences(t, cmds, deps)

	// Nothing opens a function to the world, and the runtime account gets only documented roles.
	for _, c := range cmds {
		line := strings.Join(c, " ")
		if strings.Contains(line, "allUsers") || strings.Contains(line, "allAuthenticatedUsers") || strings.Contains(line, "--allow-unauthenticated") {
			t.Errorf("the plan opens a function: %s", line)
		}
		flags, _ := Flags(c)
		if hasPrefix(c, "gcloud", "projects", "add-iam-policy-binding") && flags["member"][0] == "serviceAccount:"+runtimeSA {
			switch role := flags["role"][0]; role {
			case "roles/datastore.user", "roles/logging.logWriter",
				"projects/demo-project/roles/gcpconnSecretCreator", "projects/demo-project/roles/gcpconnSecretManager":
			default:
				t.Errorf("the plan grants the runtime account undocumented role %s", role)
			}
		}
	}
	if !strings.Contains(out, "# base URL: "+baseURL) {
		t.Errorf("the plan does not print the base URL %s", baseURL)
	}
}

// checkAudiences checks that every deployed function accepts the service audience.
func checkAudiences(t *testing.T, cmds [][]string, deps []deployment) {
	t.Helper()
	for _, d := range deps {
		found := false
		for _, c := range cmds {
			flags, _ := Flags(c)
			if hasPrefix(c, "gcloud", "run", "services", "update", d.Name) && len(flags["add-custom-audiences"]) == 1 && flags["add-custom-audiences"][0] == baseURL {
				found = true
			}
		}
		if !found {
			t.Errorf("the plan does not add the custom audience to %s", d.Name)
		}
	}
}

// TestDeployIdempotent runs deploy.sh for real against a fake gcloud: in an empty project it
// creates everything; when everything exists it creates nothing and only converges.
func TestDeployIdempotent(t *testing.T) {
	tests := []struct {
		name         string
		exists       bool
		wantCreate   bool
		wantSchedule string // "create" or "update"
	}{
		{"empty project", false, true, "create"},
		{"already deployed", true, false, "update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, log := fakeGcloud(t, tt.exists)
			if _, stderr, err := runDeploy(t, path, project, region); err != nil {
				t.Fatalf("deploy.sh = %v\n%s", err, stderr)
			}
			calls, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			var creates, deploys int
			var schedule string
			for _, line := range strings.Split(string(calls), "\n") {
				w := strings.Fields(line)
				switch {
				case hasPrefix(w, "functions", "deploy"):
					deploys++
				case hasPrefix(w, "scheduler", "jobs", "create"):
					schedule = "create"
				case hasPrefix(w, "scheduler", "jobs", "update"):
					schedule = "update"
				case len(w) > 2 && (w[2] == "create" || w[1] == "create") && !hasPrefix(w, "firestore", "indexes") && !hasPrefix(w, "beta", "services", "identity"):
					creates++
				}
			}
			if got := creates > 0; got != tt.wantCreate {
				t.Errorf("deploy.sh created %d resources; want creates %v\n%s", creates, tt.wantCreate, calls)
			}
			if want := len(registered(t)); deploys != want {
				t.Errorf("deploy.sh ran %d function deploys; want %d", deploys, want)
			}
			if schedule != tt.wantSchedule {
				t.Errorf("deploy.sh scheduler job: %q; want %q", schedule, tt.wantSchedule)
			}
		})
	}
}

func TestDeployRefusesBadInput(t *testing.T) {
	path, log := fakeGcloud(t, true)
	tests := [][]string{
		{"--dry-run", project},
		{"--dry-run", "Bad_Project", region},
		{"--dry-run", project, "not a region"},
		{"--dry-run", "--invoker=allUsers", project, region},
		{"--dry-run", "--invoker=allAuthenticatedUsers", project, region},
		{"--dry-run", "--invoker=ci@example.com", project, region},
		{"--dry-run", "--bogus", project, region},
		{"--dry-run", "--rotation-identity=runtime", project, region},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if _, _, err := runDeploy(t, path, args...); err == nil {
				t.Errorf("deploy.sh %v succeeded; want a usage error", args)
			}
		})
	}
	if _, err := os.Stat(log); err == nil {
		t.Error("deploy.sh called gcloud although its arguments were refused")
	}
	out, _, err := runDeploy(t, path, "--help")
	if err != nil || !strings.Contains(out, "--dry-run") {
		t.Errorf("deploy.sh --help = %v; want usage mentioning --dry-run", err)
	}
}
