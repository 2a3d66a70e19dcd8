package infratest

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// Placeholders for values Google assigns.
const (
	tfRuntimeSA   = "${google_service_account.runtime.email}"
	tfSchedulerSA = "${google_service_account.scheduler.email}"
	tfEventsSA    = "${google_service_account.events.email}"
	tfTopic       = "${google_pubsub_topic.topic[\"secret_events\"].id}"
	tfSweepTopic  = "${google_pubsub_topic.topic[\"sweep\"].id}"
)

func loadInfra(t *testing.T, vars map[string]cty.Value) *Module {
	t.Helper()
	all := map[string]cty.Value{"project_id": cty.StringVal(project)}
	for k, v := range vars {
		all[k] = v
	}
	m, err := LoadModule("..", all)
	if err != nil {
		t.Fatalf("LoadModule(infra) = %v", err)
	}
	return m
}

func str(t *testing.T, in *Instance, name string) string {
	t.Helper()
	s, err := in.String(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

func block(t *testing.T, in *Instance, typ string) *Instance {
	t.Helper()
	b, err := in.Block(typ)
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return b
}

func TestTerraformDeploysEveryEntryPoint(t *testing.T) {
	m := loadInfra(t, nil)
	var deps []deployment
	for _, r := range m.OfType("google_cloudfunctions2_function") {
		for _, in := range r.Instances {
			d := deployment{Name: str(t, in, "name")}
			if loc := str(t, in, "location"); loc != region {
				t.Errorf("%s location = %q; want %q", d.Name, loc, region)
			}
			bc := block(t, in, "build_config")
			d.EntryPoint = str(t, bc, "entry_point")
			d.Runtime = str(t, bc, "runtime")
			src := block(t, block(t, bc, "source"), "storage_source")
			if obj := str(t, src, "object"); obj != "${google_storage_bucket_object.source.name}" {
				t.Errorf("%s source object = %q; want the module upload", d.Name, obj)
			}
			sc := block(t, in, "service_config")
			d.ServiceAccount = str(t, sc, "service_account_email")
			d.Ingress = str(t, sc, "ingress_settings")
			d.LatestTraffic = str(t, sc, "all_traffic_on_latest_revision") == "true"
			env, err := sc.StringMap("environment_variables")
			if err != nil {
				t.Fatal(err)
			}
			d.Env = env
			for _, name := range []string{"max_instance_count", "timeout_seconds", "min_instance_count"} {
				if s := str(t, sc, name); s == "" {
					t.Errorf("%s: service_config.%s is not set", d.Name, name)
				}
			}
			triggers, err := in.Blocks("event_trigger")
			if err != nil {
				t.Fatal(err)
			}
			d.HTTP = len(triggers) == 0 // gen2 functions without an event trigger are HTTP
			for _, tr := range triggers {
				d.Topic = str(t, tr, "pubsub_topic")
				d.EventType = str(t, tr, "event_type")
				d.TriggerSA = str(t, tr, "service_account_email")
				if got := str(t, tr, "trigger_region"); got != region {
					t.Errorf("%s trigger region = %q; want %q", d.Name, got, region)
				}
			}
			deps = append(deps, d)
		}
	}
	checkDeployments(t, "infra (Terraform)", deps, expectation{
		serviceAccount: tfRuntimeSA,
		triggerSA:      tfEventsSA,
		topic:          tfTopic,
		env:            wantEnv(t, tfSchedulerSA, tfTopic, tfSweepTopic, nil),
	})

	topics := m.Find("resource", "google_pubsub_topic", "topic")
	if topics == nil || topics.Instance("secret_events") == nil {
		t.Fatal(`no google_pubsub_topic.topic["secret_events"]`)
	}
	if got := str(t, topics.Instance("secret_events"), "name"); got != topicName {
		t.Errorf("secret topic name = %q; want %q", got, topicName)
	}
}

// iamGrant is one IAM member resource: who gets which role where.
type iamGrant struct {
	Address   string
	Type      string
	Member    string
	Role      string
	On        string // the project, service, service account or topic
	Condition string // the IAM condition expression, "" when unconditional
}

func iamGrants(t *testing.T, m *Module) []iamGrant {
	t.Helper()
	var out []iamGrant
	for _, r := range m.Resources {
		if r.Mode != "resource" || !strings.Contains(r.Type, "_iam_") {
			continue
		}
		for _, in := range r.Instances {
			g := iamGrant{Address: r.Address() + "[" + in.KeyString() + "]", Type: r.Type, Member: str(t, in, "member"), Role: str(t, in, "role")}
			for _, attr := range []string{"name", "service", "service_account_id", "topic", "subscription", "project"} {
				if s := str(t, in, attr); s != "" {
					g.On = s
					break
				}
			}
			conds, err := in.Blocks("condition")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range conds {
				g.Condition = str(t, c, "expression")
			}
			out = append(out, g)
		}
	}
	return out
}

func TestTerraformInvokers(t *testing.T) {
	m := loadInfra(t, map[string]cty.Value{
		"invokers": cty.TupleVal([]cty.Value{cty.StringVal("group:ci@example.com"), cty.StringVal("user:dev@example.com")}),
	})
	invokers := map[string][]string{} // function placeholder name -> members
	for _, g := range iamGrants(t, m) {
		if g.Member == "allUsers" || g.Member == "allAuthenticatedUsers" {
			t.Errorf("%s grants %s to %s", g.Address, g.Role, g.Member)
		}
		if g.Role == "roles/run.invoker" || g.Role == "roles/cloudfunctions.invoker" {
			invokers[g.On] = append(invokers[g.On], g.Member)
		}
	}
	fn := func(name string) string {
		r := m.Find("resource", "google_cloudfunctions2_function", "function")
		for _, in := range r.Instances {
			if in.KeyString() == name {
				return "${google_cloudfunctions2_function.function[\"" + name + "\"].name}"
			}
		}
		t.Fatalf("function %s is not deployed", name)
		return ""
	}
	tests := []struct {
		function string
		want     []string
	}{
		{"register", []string{"group:ci@example.com", "user:dev@example.com"}},
		{"verify", []string{"group:ci@example.com", "user:dev@example.com"}},
		{"list", []string{"group:ci@example.com", "user:dev@example.com"}},
		{"mint-token", []string{"group:ci@example.com", "user:dev@example.com"}},
		{"sweep", []string{"serviceAccount:" + tfSchedulerSA}},
		{"refresh", []string{"serviceAccount:" + tfEventsSA}},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			got := append([]string(nil), invokers[fn(tt.function)]...)
			if strings.Join(sortStrings(got), " ") != strings.Join(sortStrings(tt.want), " ") {
				t.Errorf("run.invoker on %s = %v; want %v", tt.function, got, tt.want)
			}
		})
	}

	// The invokers variable refuses the public principals.
	for _, member := range []string{"allUsers", "allAuthenticatedUsers"} {
		ok, err := variableValid(m, "invokers", cty.TupleVal([]cty.Value{cty.StringVal(member)}))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			t.Errorf("variable invokers accepts %q", member)
		}
	}
	ok, err := variableValid(m, "invokers", cty.TupleVal([]cty.Value{cty.StringVal("group:ci@example.com")}))
	if err != nil || !ok {
		t.Errorf("variable invokers refuses group:ci@example.com (err %v)", err)
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// variableValid evaluates the validation conditions of variable name for value.
func variableValid(m *Module, name string, value cty.Value) (bool, error) {
	for _, b := range m.blocks["variable"] {
		if b.Labels[0] != name {
			continue
		}
		vars := map[string]cty.Value{}
		for k, v := range m.Vars {
			vars[k] = v
		}
		vars[name] = value
		ctx := m.ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"var": cty.ObjectVal(vars)}
		valid := true
		for _, vb := range b.Body.Blocks {
			if vb.Type != "validation" {
				continue
			}
			v, diags := vb.Body.Attributes["condition"].Expr.Value(ctx)
			if diags.HasErrors() {
				return false, diags
			}
			valid = valid && v.True()
		}
		return valid, nil
	}
	return false, errors.New("no variable " + name)
}

// TestTerraformRuntimeRoles pins the runtime account's roles to the documented list.
func TestTerraformRuntimeRoles(t *testing.T) {
	m := loadInfra(t, nil)
	member := "serviceAccount:" + tfRuntimeSA
	got := map[string]iamGrant{}
	for _, g := range iamGrants(t, m) {
		if g.Member == member {
			got[g.Role] = g
		}
	}
	want := map[string]string{ // role -> the condition it must carry ("" none)
		"roles/datastore.user":                                `resource.name == "projects/demo-project/databases/(default)"`,
		"roles/logging.logWriter":                             "",
		"roles/cloudtrace.agent":                              "",
		"${google_project_iam_custom_role.secret_creator.id}": "",
		"${google_project_iam_custom_role.secret_manager.id}": `resource.name.startsWith("projects/${data.google_project.this.number}/secrets/gcpconn-") || resource.name.startsWith("projects/demo-project/secrets/gcpconn-")`,
		"roles/pubsub.publisher":                              "", // on the sweep topic only (below)
	}
	if g := got["roles/pubsub.publisher"]; g.Type != "google_pubsub_topic_iam_member" || g.On != "${google_pubsub_topic.topic[\"sweep\"].name}" {
		t.Errorf("runtime pubsub.publisher granted on %s %q; want the sweep topic only", g.Type, g.On)
	}
	for role, cond := range want {
		g, ok := got[role]
		if !ok {
			t.Errorf("runtime account lacks %s", role)
			continue
		}
		if g.Condition != cond {
			t.Errorf("runtime %s condition = %q; want %q", role, g.Condition, cond)
		}
	}
	for role, g := range got {
		if _, ok := want[role]; !ok {
			t.Errorf("runtime account has undocumented role %s (%s)", role, g.Address)
		}
	}

	perms := func(name string) []string {
		r := m.Find("resource", "google_project_iam_custom_role", name)
		if r == nil {
			t.Fatalf("no custom role %s", name)
		}
		v, _, err := r.Instances[0].Attr("permissions")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, p := it.Element()
			out = append(out, p.AsString())
		}
		return out
	}
	for _, p := range perms("secret_creator") {
		if p != "secretmanager.secrets.create" && p != "secretmanager.secrets.list" {
			t.Errorf("unconditional secret_creator role has %s, which is checked on secrets (put it in secret_manager)", p)
		}
	}
	for _, p := range perms("secret_manager") {
		if !strings.HasPrefix(p, "secretmanager.") || strings.Contains(p, "IamPolicy") {
			t.Errorf("secret_manager role has %s; want only Secret Manager data permissions", p)
		}
	}

	// With no variables set, nothing else reaches the runtime account: no impersonation, no
	// implicit reader roles.
	for _, g := range iamGrants(t, m) {
		if g.Role == "roles/iam.serviceAccountTokenCreator" && g.Member == member {
			t.Errorf("%s grants Token Creator by default", g.Address)
		}
	}
	m = loadInfra(t, map[string]cty.Value{"impersonation_targets": cty.TupleVal([]cty.Value{cty.StringVal("deployer@other.iam.gserviceaccount.com")})})
	found := false
	for _, g := range iamGrants(t, m) {
		if g.Role == "roles/iam.serviceAccountTokenCreator" && g.Member == member {
			found = true
			if g.Type != "google_service_account_iam_member" || g.On != "projects/-/serviceAccounts/deployer@other.iam.gserviceaccount.com" {
				t.Errorf("Token Creator granted by %s on %q; want on the listed service account only", g.Address, g.On)
			}
		}
	}
	if !found {
		t.Error("impersonation_targets does not grant Token Creator")
	}
}

func TestTerraformSecretNotifications(t *testing.T) {
	m := loadInfra(t, nil)
	var publisher bool
	for _, g := range iamGrants(t, m) {
		if g.Type == "google_pubsub_topic_iam_member" && g.Role == "roles/pubsub.publisher" &&
			g.On == "${google_pubsub_topic.topic[\"secret_events\"].name}" &&
			g.Member == "serviceAccount:${google_project_service_identity.secretmanager.email}" {
			publisher = true
		}
		if g.Role == "roles/eventarc.eventReceiver" && g.Member != "serviceAccount:"+tfEventsSA {
			t.Errorf("eventarc.eventReceiver granted to %s; want the trigger account", g.Member)
		}
	}
	if !publisher {
		t.Error("the Secret Manager service agent cannot publish to the secret topic")
	}
	sm := m.Find("resource", "google_project_service_identity", "secretmanager")
	if sm == nil || str(t, sm.Instances[0], "service") != "secretmanager.googleapis.com" {
		t.Error("no service identity for secretmanager.googleapis.com")
	}
}

func TestTerraformScheduler(t *testing.T) {
	m := loadInfra(t, nil)
	jobs := m.OfType("google_cloud_scheduler_job")
	if len(jobs) != 1 || len(jobs[0].Instances) != 1 {
		t.Fatalf("want one scheduler job, have %d", len(jobs))
	}
	job := jobs[0].Instances[0]
	if got := str(t, job, "region"); got != region {
		t.Errorf("scheduler region = %q; want %q", got, region)
	}
	ht := block(t, job, "http_target")
	if got, want := str(t, ht, "uri"), baseURL+"/"+FunctionName("Sweep"); got != want {
		t.Errorf("scheduler uri = %q; want %q", got, want)
	}
	if got := str(t, ht, "http_method"); got != "POST" {
		t.Errorf("scheduler method = %q; want POST", got)
	}
	oidc := block(t, ht, "oidc_token")
	if got := str(t, oidc, "service_account_email"); got != tfSchedulerSA {
		t.Errorf("scheduler OIDC account = %q; want %q", got, tfSchedulerSA)
	}
	if got := str(t, oidc, "audience"); got != baseURL {
		t.Errorf("scheduler OIDC audience = %q; want %q (GCPCONN_AUDIENCE)", got, baseURL)
	}
}

func TestTerraformOutputs(t *testing.T) {
	m := loadInfra(t, nil)
	for name, want := range map[string]string{"base_url": baseURL, "audience": baseURL, "secret_topic": tfTopic} {
		out, ok := m.Outputs[name]
		if !ok {
			t.Errorf("no output %q", name)
			continue
		}
		if got := str(t, out, "value"); got != want {
			t.Errorf("output %s = %q; want %q", name, got, want)
		}
	}
	m = loadInfra(t, map[string]cty.Value{"audience": cty.StringVal("https://gcpconn.example.com")})
	if got := str(t, m.Outputs["audience"], "value"); got != "https://gcpconn.example.com" {
		t.Errorf("output audience with var.audience set = %q", got)
	}
}

func TestTerraformVariablesDocumented(t *testing.T) {
	m := loadInfra(t, nil)
	for _, b := range m.blocks["variable"] {
		d, ok := b.Body.Attributes["description"]
		if !ok {
			t.Errorf("variable %s has no description", b.Labels[0])
			continue
		}
		v, diags := d.Expr.Value(nil)
		if diags.HasErrors() || v.Type() != cty.String || len(v.AsString()) < 20 {
			t.Errorf("variable %s: description too short", b.Labels[0])
		}
	}
}

func TestTerraformProvidersPinned(t *testing.T) {
	m := loadInfra(t, nil)
	tf := m.blocks["terraform"]
	if len(tf) != 1 {
		t.Fatalf("want one terraform block, have %d", len(tf))
	}
	var rp *Instance
	for _, b := range tf[0].Body.Blocks {
		if b.Type == "required_providers" {
			rp = &Instance{Key: cty.NilVal, Body: b.Body, ctx: m.ctx}
		}
	}
	if rp == nil {
		t.Fatal("no required_providers")
	}
	for name := range rp.Body.Attributes {
		v, _, err := rp.Attr(name)
		if err != nil {
			t.Fatal(err)
		}
		ver := v.GetAttr("version").AsString()
		if !strings.HasPrefix(ver, "~>") && !strings.HasPrefix(ver, "=") {
			t.Errorf("provider %s version %q is not pinned (use ~> or =)", name, ver)
		}
	}
	for _, want := range []string{"google", "google-beta"} {
		if _, ok := rp.Body.Attributes[want]; !ok {
			t.Errorf("provider %s is not required", want)
		}
	}
}

// TestTerraformFmt runs terraform fmt -check when terraform is installed.
func TestTerraformFmt(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH: skipping terraform fmt -check (the HCL is still parsed by the other tests)")
	}
	cmd := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", ".")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("terraform fmt -check -recursive infra/ = %v\n%s\nrun: terraform fmt -recursive infra/", err, out)
	}
}
