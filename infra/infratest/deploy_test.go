package infratest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/internal/testenv"
)

// The deployment every check expects, for project demo-project in europe-west1.
const (
	project      = "demo-project"
	region       = "europe-west1"
	baseURL      = "https://europe-west1-demo-project.cloudfunctions.net"
	runtimeSA    = "gcpconn-runtime@demo-project.iam.gserviceaccount.com"
	schedulerSA  = "gcpconn-scheduler@demo-project.iam.gserviceaccount.com"
	eventsSA     = "gcpconn-events@demo-project.iam.gserviceaccount.com"
	topicName    = "gcpconn-secret-events"
	topicID      = "projects/demo-project/topics/gcpconn-secret-events"
	sweepTopic   = "gcpconn-sweep"
	sweepDLQ     = "gcpconn-sweep-dead-letter"
	sweepTopicID = "projects/demo-project/topics/gcpconn-sweep"
	eventType    = "google.cloud.pubsub.topic.v1.messagePublished"
	goRuntime    = "go126"
)

// repoRoot is the module root, two levels up from this package.
const repoRoot = "../.."

func TestMain(m *testing.M) { testenv.Main(m) }

// deployment is one function as a deployer (Terraform, Cloud Build, deploy.sh) deploys it.
type deployment struct {
	Name           string
	EntryPoint     string
	Runtime        string
	Source         string // what is uploaded: "." (the module root) for gcloud
	ServiceAccount string
	Env            map[string]string
	Ingress        string
	LatestTraffic  bool   // a deploy moves all traffic to the new revision (ends a rollback pin)
	HTTP           bool   // HTTP trigger
	NoUnauth       bool   // --no-allow-unauthenticated given (gcloud only)
	AllowUnauth    bool   // anything that would allow unauthenticated calls
	Topic          string // event trigger topic, as the deployer names it
	EventType      string
	TriggerSA      string
}

// expectation is what a deployer's settings must evaluate to.
type expectation struct {
	gcloud         bool // a gcloud command line (Cloud Build, deploy.sh), not Terraform
	serviceAccount string
	triggerSA      string
	topic          string
	env            map[string]string
}

// wantEnv is the environment the manifest (infra/functions.json) gives every function when the
// deployer computes admins and the secret topic as given and sets the settings in given.
func wantEnv(t *testing.T, admins, topic, sweepTopic string, given map[string]string) map[string]string {
	t.Helper()
	m := loadManifest(t)
	in := map[string]string{"project_id": project, "audience": baseURL, "admins": admins, "secret_topic": topic, "sweep_topic": sweepTopic}
	for k, v := range m.Settings {
		in[k] = fmt.Sprint(v)
	}
	maps.Copy(in, given)
	env := map[string]string{}
	for name, e := range m.Env {
		if e.Value != nil {
			env[name] = *e.Value
			continue
		}
		v, ok := in[e.Setting]
		if !ok {
			t.Fatalf("infra/functions.json: env %s names setting %q, which nobody sets", name, e.Setting)
		}
		env[name] = v
	}
	return env
}

// functionEnv is env plus the function's own timeout (the manifest's timeout_env), as every
// deployer must set it when the settings are the manifest's defaults.
func functionEnv(t *testing.T, name string, env map[string]string) map[string]string {
	t.Helper()
	m := loadManifest(t)
	f, ok := m.Functions[name]
	if !ok || m.TimeoutEnv == "" {
		return env
	}
	env = maps.Clone(env)
	env[m.TimeoutEnv] = manifestString(m.Settings[f.Timeout])
	return env
}

// registered returns the entry points of the module root, failing the test if there are none.
func registered(t *testing.T) map[string]string {
	t.Helper()
	eps, err := Registered(repoRoot)
	if err != nil {
		t.Fatalf("Registered(%s) = %v", repoRoot, err)
	}
	if len(eps) == 0 {
		t.Fatalf("Registered(%s) found no functions.HTTP or functions.CloudEvent call in the root package (entrypoints.go)", repoRoot)
	}
	return eps
}

// checkDeployments compares what a deployer deploys with what entrypoints.go registers.
func checkDeployments(t *testing.T, deployer string, deps []deployment, want expectation) {
	t.Helper()
	eps := registered(t)
	byName := map[string]deployment{}
	for _, d := range deps {
		if _, dup := byName[d.Name]; dup {
			t.Errorf("%s deploys %q twice", deployer, d.Name)
		}
		byName[d.Name] = d
	}
	for ep, kind := range eps {
		name := FunctionName(ep)
		d, ok := byName[name]
		if !ok {
			t.Errorf("%s does not deploy %q (entry point %s, registered in entrypoints.go)", deployer, name, ep)
			continue
		}
		if d.EntryPoint != ep {
			t.Errorf("%s: %s entry point = %q; want %q", deployer, name, d.EntryPoint, ep)
		}
		switch kind {
		case KindHTTP:
			if !d.HTTP || d.Topic != "" {
				t.Errorf("%s: %s is registered as HTTP but not deployed with (only) an HTTP trigger", deployer, name)
			}
			if want.gcloud && !d.NoUnauth {
				t.Errorf("%s: %s is deployed without --no-allow-unauthenticated", deployer, name)
			}
		case KindCloudEvent:
			if d.HTTP {
				t.Errorf("%s: %s is registered as a CloudEvent function but deployed with an HTTP trigger", deployer, name)
			}
			if d.Topic != want.topic || d.EventType != eventType {
				t.Errorf("%s: %s trigger = (topic %q, event %q); want (%q, %q)", deployer, name, d.Topic, d.EventType, want.topic, eventType)
			}
			if d.TriggerSA != want.triggerSA {
				t.Errorf("%s: %s trigger service account = %q; want %q", deployer, name, d.TriggerSA, want.triggerSA)
			}
		}
	}
	for name, d := range byName {
		if _, ok := eps[d.EntryPoint]; !ok {
			t.Errorf("%s deploys %q with entry point %q, which entrypoints.go does not register", deployer, name, d.EntryPoint)
		} else if FunctionName(d.EntryPoint) != name {
			t.Errorf("%s deploys entry point %s as %q; want %q", deployer, d.EntryPoint, name, FunctionName(d.EntryPoint))
		}
		if d.AllowUnauth {
			t.Errorf("%s: %s allows unauthenticated calls", deployer, name)
		}
		if d.Runtime != goRuntime {
			t.Errorf("%s: %s runtime = %q; want %q", deployer, name, d.Runtime, goRuntime)
		}
		if want.gcloud && d.Source != "." {
			t.Errorf("%s: %s source = %q; want \".\" (the module root)", deployer, name, d.Source)
		}
		if d.ServiceAccount != want.serviceAccount {
			t.Errorf("%s: %s service account = %q; want %q", deployer, name, d.ServiceAccount, want.serviceAccount)
		}
		// Callers reach the user-facing functions from anywhere (IAM still applies); sweep and
		// refresh are only called by Cloud Scheduler and Eventarc, from inside the project.
		wantIngress := "all"
		if d.EntryPoint == "Sweep" || d.EntryPoint == "SweepShard" || eps[d.EntryPoint] == KindCloudEvent {
			wantIngress = "internal-only"
		}
		if got := ingressName(d.Ingress); got != wantIngress {
			t.Errorf("%s: %s ingress = %q; want %s", deployer, name, d.Ingress, wantIngress)
		}
		if !d.LatestTraffic {
			t.Errorf("%s: %s deploys do not move traffic to the latest revision, so an upgrade after a rollback would not take effect", deployer, name)
		}
		if got := diffEnv(d.Env, functionEnv(t, name, want.env)); got != "" {
			t.Errorf("%s: %s env differs from the service contract:\n%s", deployer, name, got)
		}
	}
}

// ingressName spells Terraform's and gcloud's ingress values the gcloud way.
func ingressName(v string) string {
	switch v {
	case "ALLOW_ALL":
		return "all"
	case "ALLOW_INTERNAL_ONLY":
		return "internal-only"
	case "ALLOW_INTERNAL_AND_GCLB":
		return "internal-and-gclb"
	}
	return v
}

func diffEnv(got, want map[string]string) string {
	var lines []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("  %s missing; want %q", k, w))
		case g != w:
			lines = append(lines, fmt.Sprintf("  %s = %q; want %q", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("  %s = %q is not expected", k, g))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// gcloudDeployment reads a `gcloud functions deploy` command line.
func gcloudDeployment(t *testing.T, words []string) deployment {
	t.Helper()
	flags, args := Flags(words)
	one := func(name string) string {
		vs := flags[name]
		if len(vs) > 1 {
			t.Errorf("%v: --%s given %d times", args, name, len(vs))
		}
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	d := deployment{
		EntryPoint:     one("entry-point"),
		Runtime:        one("runtime"),
		Source:         one("source"),
		ServiceAccount: one("service-account"),
		Ingress:        one("ingress-settings"),
		TriggerSA:      one("trigger-service-account"),
		Topic:          one("trigger-topic"),
	}
	if len(args) >= 4 {
		d.Name = args[3]
	}
	if _, ok := flags["gen2"]; !ok {
		t.Errorf("deploy %s: not --gen2", d.Name)
	}
	if v := one("run-service-account"); v != "" {
		d.ServiceAccount = v
	}
	_, d.HTTP = flags["trigger-http"]
	_, d.LatestTraffic = flags["serve-all-traffic-latest-revision"]
	_, d.NoUnauth = flags["no-allow-unauthenticated"]
	_, d.AllowUnauth = flags["allow-unauthenticated"]
	if d.Topic != "" {
		d.EventType = eventType // what --trigger-topic subscribes to
	}
	for _, other := range []string{"trigger-event", "trigger-event-filters", "trigger-bucket", "trigger-resource"} {
		if _, ok := flags[other]; ok {
			t.Errorf("deploy %s: unexpected --%s", d.Name, other)
		}
	}
	if v := one("set-env-vars"); v != "" {
		env, err := EnvVars(v)
		if err != nil {
			t.Errorf("deploy %s: %v", d.Name, err)
		}
		d.Env = env
	}
	return d
}

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
