package infratest

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// The configuration that may run with the invoker check off for federated callers.
const (
	boundIssuers   = `[{"name":"gh","issuer":"https://token.actions.githubusercontent.com","audiences":["x"],"bound_claims":{"repository_owner_id":"1"}}]`
	unboundIssuers = `[{"name":"k8s","issuer":"https://k8s.example","audiences":["x"],"allow_unbound":true}]`
)

// invokerChecks returns, per function, the invoker-iam-check flag of its gcloud run services
// update command in cmds ("on", "off", or "" when none sets it).
func invokerChecks(t *testing.T, cmds [][]string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, c := range cmds {
		if !hasPrefix(c, "gcloud", "run", "services", "update") {
			continue
		}
		switch {
		case slices.Contains(c, "--invoker-iam-check"):
			got[c[4]] = "on"
		case slices.Contains(c, "--no-invoker-iam-check"):
			got[c[4]] = "off"
		}
	}
	return got
}

// TestDeployShFederatedFunctions: deploy.sh turns Cloud Run's invoker check off for exactly
// the federated_functions and on for every other function, on every deploy; it refuses the
// setting (before calling gcloud, also in --dry-run) unless the trusted issuers all have
// bound claims and an allowlist and a rate limit are set, and refuses any configuration the
// functions would refuse at start.
func TestDeployShFederatedFunctions(t *testing.T) {
	path, log := fakeGcloud(t, true)
	good := []string{"--dry-run", "--federated-functions=mint-token,verify,list", "--trusted-issuers=" + boundIssuers,
		"--allowed-callers=domain:acme.com", project, region}
	out, stderr, err := runDeploy(t, path, good...)
	if err != nil {
		t.Fatalf("deploy.sh %v = %v\n%s", good, err, stderr)
	}
	cmds := gcloudCommands(t, out)
	got := invokerChecks(t, cmds)
	for name := range registered(t) {
		name = FunctionName(name)
		want := "on"
		if name == "mint-token" || name == "verify" || name == "list" {
			want = "off"
		}
		if got[name] != want {
			t.Errorf("invoker check of %s = %q; want %s (all: %v)", name, got[name], want, got)
		}
	}
	checkGcloudFlags(t, "deploy.sh", cmds)
	if out, _, err := runDeploy(t, path, "--dry-run", project, region); err != nil || slices.Contains(invokerValues(invokerChecks(t, gcloudCommands(t, out))), "off") {
		t.Errorf("deploy.sh without federated functions = %v; want the invoker check on everywhere", err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no trusted issuers", []string{"--federated-functions=mint-token", "--allowed-callers=domain:acme.com"}, "GCPCONN_TRUSTED_ISSUERS is empty"},
		{"issuer without bound claims", []string{"--federated-functions=mint-token", "--trusted-issuers=" + unboundIssuers, "--allowed-callers=domain:acme.com"}, "has no bound claims"},
		{"no allowlist", []string{"--federated-functions=mint-token", "--trusted-issuers=" + boundIssuers}, "GCPCONN_ALLOWED_CALLERS is empty"},
		{"no rate limit", []string{"--federated-functions=mint-token", "--trusted-issuers=" + boundIssuers, "--allowed-callers=domain:acme.com", "--rate-limit=0"}, "GCPCONN_RATE_LIMIT is 0"},
		{"sweep is not for federated callers", []string{"--federated-functions=sweep", "--trusted-issuers=" + boundIssuers, "--allowed-callers=domain:acme.com"}, `"sweep" is not one of the functions callers use`},
		{"bad issuer JSON", []string{"--trusted-issuers=[{"}, "GCPCONN_TRUSTED_ISSUERS"},
		{"admin glob that crosses a boundary", []string{"--trusted-issuers=" + boundIssuers, "--admins=gh:repo:acme*"}, `GCPCONN_ADMINS[0] "gh:repo:acme*": a glob must end at a separator`},
		{"admin of an unknown issuer", []string{"--admins=nope:repo:x"}, `names issuer "nope"`},
		{"bad allowlist", []string{"--allowed-callers=acme.com"}, "GCPCONN_ALLOWED_CALLERS[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"--dry-run"}, tc.args...), project, region)
			out, stderr, err := runDeploy(t, path, args...)
			if err == nil || !strings.Contains(stderr, tc.want) || strings.Contains(out, "gcloud functions deploy") {
				t.Errorf("deploy.sh %v = %v, stderr %q; want refused naming %q before any deploy", args, err, stderr, tc.want)
			}
		})
	}
	for _, args := range [][]string{{"--federated-functions=mint-token", "--allowed-callers=domain:acme.com", project, region}} {
		if _, _, err := runDeploy(t, path, args...); err == nil {
			t.Errorf("deploy.sh %v (not a dry run) succeeded", args)
		}
	}
	if _, err := os.Stat(log); err == nil {
		t.Error("deploy.sh called gcloud although the configuration was refused")
	}
}

func invokerValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestCloudBuildFederatedFunctions: the Cloud Build substitutions reach deploy.sh, which
// turns the invoker check off for exactly those functions.
func TestCloudBuildFederatedFunctions(t *testing.T) {
	out := cloudBuildDeployPlan(t, map[string]string{
		"_TRUSTED_ISSUERS": boundIssuers, "_FEDERATED_FUNCTIONS": "register,mint-token",
		"_ALLOWED_CALLERS": "domain:acme.com", "_RATE_LIMIT": "30",
	})
	got := invokerChecks(t, gcloudCommands(t, out))
	for name, v := range got {
		if want := map[bool]string{true: "off", false: "on"}[name == "register" || name == "mint-token"]; v != want {
			t.Errorf("Cloud Build: invoker check of %s = %s; want %s", name, v, want)
		}
	}
	if len(got) != len(registered(t)) {
		t.Errorf("Cloud Build sets the invoker check on %d functions; want all %d", len(got), len(registered(t)))
	}
	for _, c := range gcloudCommands(t, out) {
		if hasPrefix(c, "gcloud", "functions", "deploy") {
			d := gcloudDeployment(t, c)
			if d.Env["GCPCONN_ALLOWED_CALLERS"] != "domain:acme.com" || d.Env["GCPCONN_RATE_LIMIT"] != "30" {
				t.Errorf("%s: allowlist, rate limit = %q, %q", d.Name, d.Env["GCPCONN_ALLOWED_CALLERS"], d.Env["GCPCONN_RATE_LIMIT"])
			}
		}
	}
}

// TestTerraformFederatedFunctions: Terraform sets the invoker check on every function (off
// for federated_functions), and its precondition allows the setting only with trusted
// issuers that all have bound claims, an allowlist and a rate limit.
func TestTerraformFederatedFunctions(t *testing.T) {
	list := func(s ...string) cty.Value {
		var vs []cty.Value
		for _, x := range s {
			vs = append(vs, cty.StringVal(x))
		}
		return cty.ListVal(vs)
	}
	vars := map[string]cty.Value{"federated_functions": list("mint-token", "verify"), "trusted_issuers": cty.StringVal(boundIssuers),
		"allowed_callers": list("domain:acme.com")}
	m := loadInfra(t, vars)
	r := m.Find("resource", "terraform_data", "invoker_iam_check")
	if r == nil {
		t.Fatal("no terraform_data.invoker_iam_check")
	}
	var cmds [][]string
	for _, in := range r.Instances {
		ps, err := in.Blocks("provisioner")
		if err != nil || len(ps) != 1 {
			t.Fatalf("invoker_iam_check[%s]: want one provisioner (%v)", in.KeyString(), err)
		}
		words, err := SplitCommands(str(t, ps[0], "command"))
		if err != nil || len(words) != 1 {
			t.Fatalf("invoker_iam_check[%s]: want one command, have %q (%v)", in.KeyString(), words, err)
		}
		cmds = append(cmds, words[0])
	}
	got := invokerChecks(t, cmds)
	if len(got) != len(registered(t)) || got["mint-token"] != "off" || got["verify"] != "off" || got["list"] != "on" || got["sweep"] != "on" {
		t.Errorf("Terraform invoker checks = %v; want off for mint-token and verify, on for the other %d", got, len(registered(t))-2)
	}
	checkGcloudFlags(t, "infra (Terraform)", cmds)
	if ok := m.Locals["federated_ok"]; !ok.True() {
		t.Errorf("local.federated_ok = %#v for a complete configuration; want true", ok)
	}
	for name, change := range map[string]map[string]cty.Value{
		"no issuers":     {"trusted_issuers": cty.StringVal("")},
		"unbound issuer": {"trusted_issuers": cty.StringVal(unboundIssuers)},
		"no allowlist":   {"allowed_callers": cty.ListValEmpty(cty.String)},
		"no rate limit":  {"rate_limit": cty.NumberIntVal(0)},
	} {
		v := map[string]cty.Value{}
		for k, x := range vars {
			v[k] = x
		}
		for k, x := range change {
			v[k] = x
		}
		if ok := loadInfra(t, v).Locals["federated_ok"]; ok.True() {
			t.Errorf("%s: local.federated_ok = true; want the precondition to refuse it", name)
		}
	}
}
