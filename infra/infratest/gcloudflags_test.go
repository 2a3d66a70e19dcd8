package infratest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// cliTree is gcloud's static completion tree (data/cli/gcloud_completions.py in the SDK): every
// command group, command and flag of the installed gcloud, without running it.
type cliTree struct {
	Commands map[string]*cliTree        `json:"commands"`
	Flags    map[string]json.RawMessage `json:"flags"` // "--name" -> "bool", "value" or a list of choices
}

// errNoGcloud means there is no gcloud (or no completion tree) to check against.
var errNoGcloud = errors.New("gcloud or its completion tree is not installed")

// loadCLITree reads the completion tree of the gcloud on PATH (or under CLOUDSDK_ROOT).
func loadCLITree() (*cliTree, error) {
	root := os.Getenv("CLOUDSDK_ROOT")
	if root == "" {
		bin, err := exec.LookPath("gcloud")
		if err != nil {
			return nil, errNoGcloud
		}
		real, err := filepath.EvalSymlinks(bin)
		if err != nil {
			return nil, fmt.Errorf("resolve gcloud: %w", err)
		}
		root = filepath.Dir(filepath.Dir(real))
	}
	src, err := os.ReadFile(filepath.Join(root, "data", "cli", "gcloud_completions.py"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoGcloud
	}
	if err != nil {
		return nil, fmt.Errorf("read gcloud's completion tree: %w", err)
	}
	i := strings.IndexByte(string(src), '{')
	if i < 0 {
		return nil, fmt.Errorf("gcloud's completion tree has no dict")
	}
	var t cliTree
	if err := json.NewDecoder(strings.NewReader(string(src[i:]))).Decode(&t); err != nil {
		return nil, fmt.Errorf("parse gcloud's completion tree: %w", err)
	}
	return &t, nil
}

// check returns what is wrong with one gcloud command line: an unknown command, or flags the
// command does not take. Global flags are allowed everywhere, and --no-X wherever bool --X is.
func (t *cliTree) check(words []string) []string {
	node, path := t, []string{"gcloud"}
	i := 1
	for ; i < len(words) && !strings.HasPrefix(words[i], "-"); i++ {
		next, ok := node.Commands[words[i]]
		if !ok {
			break
		}
		node, path = next, append(path, words[i])
	}
	name := strings.Join(path, " ")
	if len(node.Commands) > 0 {
		return []string{fmt.Sprintf("%s: %q is not a command of this group", name, strings.Join(words[len(path):min(len(path)+1, len(words))], ""))}
	}
	var problems []string
	flags, _ := Flags(words)
	for f := range flags {
		flag := "--" + f
		_, ok := node.Flags[flag]
		if !ok {
			_, ok = t.Flags[flag]
		}
		if !ok && strings.HasPrefix(f, "no-") {
			// --no-X is valid only where --X is a boolean flag.
			kind, found := node.Flags["--"+strings.TrimPrefix(f, "no-")]
			ok = found && string(kind) == `"bool"`
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown flag %s", name, flag))
		}
	}
	return problems
}

func checkGcloudFlags(t *testing.T, source string, cmds [][]string) {
	t.Helper()
	tree, err := loadCLITree()
	if errors.Is(err, errNoGcloud) {
		t.Skipf("skipping the flag check against gcloud: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cmds {
		for _, p := range tree.check(c) {
			seen[p] = true
		}
	}
	var problems []string
	for p := range seen {
		problems = append(problems, p)
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Errorf("%s: %s", source, p)
	}
}

func raw(kind string) json.RawMessage { return json.RawMessage(`"` + kind + `"`) }

func TestCLITreeCheck(t *testing.T) {
	tree := &cliTree{
		Flags: map[string]json.RawMessage{"--project": raw("value"), "--quiet": raw("bool")},
		Commands: map[string]*cliTree{"functions": {Commands: map[string]*cliTree{"deploy": {
			Flags: map[string]json.RawMessage{"--gen2": raw("bool"), "--runtime": raw("value"), "--allow-unauthenticated": raw("bool")},
		}}}},
	}
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{"gcloud", "functions", "deploy", "f", "--gen2", "--runtime=go126", "--project=p", "--quiet", "--no-allow-unauthenticated"}, ""},
		{[]string{"gcloud", "functions", "deploy", "f", "--no-runtime"}, "gcloud functions deploy: unknown flag --no-runtime"},
		{[]string{"gcloud", "functions", "deploy", "f", "--headers=x"}, "gcloud functions deploy: unknown flag --headers"},
		{[]string{"gcloud", "functions", "delpoy", "f"}, `gcloud functions: "delpoy" is not a command of this group`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			if got := strings.Join(tree.check(tt.words), "; "); got != tt.want {
				t.Errorf("check(%q) = %q; want %q", tt.words, got, tt.want)
			}
		})
	}
}

func TestDeployDryRunUsesRealGcloudFlags(t *testing.T) {
	path, _ := fakeGcloud(t, true)
	out, stderr, err := runDeploy(t, path, "--dry-run", "--invoker=group:ci@example.com",
		"--impersonation-target=sa@other-project.iam.gserviceaccount.com", "--implicit-role=data-project:roles/storage.objectViewer",
		project, region)
	if err != nil {
		t.Fatalf("deploy.sh --dry-run = %v\n%s", err, stderr)
	}
	checkGcloudFlags(t, "scripts/deploy.sh", gcloudCommands(t, out))
}

func TestCloudBuildUsesRealGcloudFlags(t *testing.T) {
	checkGcloudFlags(t, "cloudbuild.yaml", gcloudCommands(t, cloudBuildDeployPlan(t, nil)))
}

// TestTerraformGcloudCommands checks the gcloud commands Terraform runs (custom audiences).
func TestTerraformGcloudCommands(t *testing.T) {
	m := loadInfra(t, nil)
	r := m.Find("resource", "terraform_data", "custom_audience")
	if r == nil {
		t.Fatal("no terraform_data.custom_audience")
	}
	if len(r.Instances) != len(registered(t)) {
		t.Errorf("custom audiences are set on %d functions; want all %d", len(r.Instances), len(registered(t)))
	}
	var cmds [][]string
	for _, in := range r.Instances {
		ps, err := in.Blocks("provisioner")
		if err != nil || len(ps) != 1 {
			t.Fatalf("custom_audience[%s]: want one provisioner, have %d (%v)", in.KeyString(), len(ps), err)
		}
		words, err := SplitCommands(str(t, ps[0], "command"))
		if err != nil || len(words) != 1 {
			t.Fatalf("custom_audience[%s]: want one command, have %q (%v)", in.KeyString(), words, err)
		}
		c := words[0]
		flags, _ := Flags(c)
		if !hasPrefix(c, "gcloud", "run", "services", "update", in.KeyString()) ||
			len(flags["add-custom-audiences"]) != 1 || flags["add-custom-audiences"][0] != baseURL {
			t.Errorf("custom_audience[%s] runs %q; want gcloud run services update %s --add-custom-audiences=%s", in.KeyString(), c, in.KeyString(), baseURL)
		}
		cmds = append(cmds, c)
	}
	checkGcloudFlags(t, "infra (Terraform)", cmds)
}
