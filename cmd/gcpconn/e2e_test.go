package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

const (
	admin = "connectors-admin@zenml-core.iam.gserviceaccount.com"
	empty = "empty-connectors@zenml-core.iam.gserviceaccount.com"
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

// TestSeedExamples walks the seed page's examples: register with auto-configure from an
// ADC file, describe with [HIDDEN], verify, list-resources, list, a connector without
// permissions, errors and exit codes, update and delete.
func TestSeedExamples(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	key, err := s.Fake.KeyJSON(admin)
	if err != nil {
		t.Fatal(err)
	}
	w.writeFile(".config/gcloud/application_default_credentials.json", key)
	var k struct {
		PrivateKey string `json:"private_key"`
	}
	_ = json.Unmarshal(key, &k)
	secretLine := strings.Split(strings.TrimSpace(k.PrivateKey), "\n")[1]

	out, errOut, code := w.gcpconn("register", "gcp-auto", "--type", "gcp", "--auto-configure")
	if code != 0 || !strings.Contains(errOut, "Auto-configured auth method service-account from "+filepath.Join(w.home, ".config/gcloud/application_default_credentials.json")) {
		t.Fatalf("register --auto-configure: exit %d\n%s\n%s", code, out, errOut)
	}
	golden(t, "register-auto.txt", out)
	out = w.ok("describe", "gcp-auto")
	golden(t, "describe.txt", out)
	if !strings.Contains(out, "│ [HIDDEN]   ┃") || strings.Contains(out, secretLine) {
		t.Errorf("describe shows the secret, or not [HIDDEN]:\n%s", out)
	}
	golden(t, "describe.json", w.ok("describe", "gcp-auto", "-o", "json"))
	golden(t, "verify-cluster.txt", w.ok("verify", "gcp-auto", "--resource-type", "kubernetes-cluster"))
	golden(t, "verify-registry.txt", w.ok("verify", "gcp-auto", "--resource-type", "docker-registry", "--resource-id", "europe-west1-docker.pkg.dev/zenml-core/test"))

	emptyKey, _ := s.Fake.KeyJSON(empty)
	p := w.writeFile("empty-connectors@zenml-core.json", emptyKey)
	out, errOut, code = w.gcpconn("register", "gcp-empty-sa", "--type", "gcp", "--auth-method", "service-account", "--service_account_json=@"+p, "--project_id=zenml-core")
	if code != exitVerify || !strings.Contains(errOut, "Expanding argument value service_account_json to contents of file "+p) ||
		!strings.Contains(errOut, "error: service connector `gcp-empty-sa` was registered, but 4 of 4 resource types reported errors") {
		t.Errorf("register gcp-empty-sa = exit %d; want %d with the expansion note and a summary\n%s", code, exitVerify, errOut)
	}
	golden(t, "register-empty-sa.txt", out)
	// The single-type bucket registration of the empty account is refused; the refusal
	// names the CLI's flag, not the API field.
	_, errOut, code = w.gcpconn("register", "gcp-empty-bucket", "--auth-method", "service-account", "--service_account_json=@"+p,
		"--project_id=zenml-core", "--resource-type", "gcs-bucket")
	if code != exitRefused || !strings.Contains(errOut, "pass --no-verify to store it anyway") || strings.Contains(errOut, "set verify to false") {
		t.Errorf("register gcp-empty-bucket = exit %d %q; want %d and the advice to pass --no-verify", code, errOut, exitRefused)
	}
	out, errOut, code = w.gcpconn("verify", "gcp-empty-sa", "--resource-type", "gcs-bucket")
	if code != exitVerify || out != "" || strings.Count(errOut, "\n") != 1 ||
		!strings.HasPrefix(errOut, "error: Service connector 'gcp-empty-sa' verification failed: ") || !strings.Contains(errOut, "storage.buckets.list") {
		t.Errorf("verify gcp-empty-sa gcs-bucket = exit %d, stdout %q, stderr %q; want exit %d and one error line", code, out, errOut, exitVerify)
	}

	out, errOut, code = w.gcpconn("list-resources", "--resource-type", "gcs-bucket")
	if code != exitVerify || !strings.Contains(errOut, "[2/2] verified") {
		t.Errorf("list-resources = exit %d, stderr %q; want %d (gcp-empty-sa fails) and progress", code, errOut, exitVerify)
	}
	golden(t, "list-resources.txt", out)
	out, _, code = w.gcpconn("list-resources", "--resource-type", "gcs-bucket", "--exclude-errors")
	if code != 0 || strings.Contains(out, "gcp-empty-sa") || !strings.Contains(out, "gs://zenml-bucket-sl") {
		t.Errorf("list-resources --exclude-errors = exit %d\n%s", code, out)
	}
	golden(t, "list.txt", w.ok("list"))
	golden(t, "list.json", w.ok("list", "--name", "gcp-auto", "-o", "json"))
	// Global flags may come before the command, as the usage line shows them.
	golden(t, "list.json", w.ok("-o", "json", "list", "--name", "gcp-auto"))
	golden(t, "list.json", w.ok("--url", s.URL, "--output=json", "list", "--name", "gcp-auto"))
	golden(t, "list-types.txt", w.ok("list-types", "--type", "gcp"))
	detailed := w.ok("list-types", "--auth-method", "service-account", "--detailed")
	if !regexp.MustCompile(`┃ service_account_json +│ yes +│ yes +│`).MatchString(detailed) {
		t.Errorf("list-types --detailed does not mark service_account_json required and secret:\n%s", detailed)
	}

	// Errors: one line with the server's code, and the exit code of that code.
	tests := []struct {
		name  string
		email string
		args  []string
		code  int
		line  string
	}{
		{"missing connector", alice, []string{"describe", "nope"}, exitNotFound, `error: not_found: `},
		{"another user's connector", bob, []string{"describe", "gcp-auto"}, exitNotFound, `error: not_found: `},
		{"duplicate name", alice, []string{"register", "gcp-auto", "--auth-method", "implicit", "--project_id=zenml-core"}, exitRefused, "error: "},
		{"bad field", alice, []string{"register", "x1", "--auth-method", "service-account", "--nope=1"}, exitRefused, "error: invalid_argument: "},
		{"unknown flag", alice, []string{"list", "--nope"}, exitUsage, "error: unknown flag --nope"},
		{"unknown command", alice, []string{"frobnicate"}, exitUsage, `error: unknown command "frobnicate"`},
		{"unknown flag before the command", alice, []string{"--token=ya29.secret", "list"}, exitUsage,
			"error: unknown flag --token before the command; the flags accepted there are --url, --id-token and -o/--output"},
		{"command flag before the command", alice, []string{"--name", "gcp-auto", "list"}, exitUsage, "error: unknown flag --name before the command"},
		{"global flag without its value", alice, []string{"--url"}, exitUsage, "error: --url needs a value (URL)"},
		{"bad id token before the command", alice, []string{"--id-token", "not-a-jwt", "list"}, exitAuth, "error: unauthenticated: "},
		{"no identity", "", []string{"list"}, exitAuth, "error: client: caller identity: GCPCONN_DEV_ISSUER is set but GCPCONN_DEV_EMAIL is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ww := *w
			ww.t, ww.email = t, tt.email
			out, errOut, code := ww.gcpconn(tt.args...)
			first := strings.SplitN(errOut, "\n", 2)[0]
			if code != tt.code || !strings.HasPrefix(first, tt.line) || out != "" {
				t.Errorf("gcpconn %v = exit %d, stderr %q, stdout %q; want exit %d and a line starting %q", tt.args, code, errOut, out, tt.code, tt.line)
			}
		})
	}

	out = w.ok("update", "gcp-auto", "--label", "team=ml", "--description", "the whole project", "--user", bob)
	if !strings.Contains(out, "Successfully updated service connector `gcp-auto`.") || !strings.Contains(out, "team=ml") || !strings.Contains(out, bob) {
		t.Errorf("update output:\n%s", out)
	}
	ww := *w
	ww.email = bob
	if out := ww.ok("verify", "gcp-auto", "--resource-type", "gcs-bucket", "--resource-id", "zenml-bucket-sl", "-o", "json"); !strings.Contains(out, `"gs://zenml-bucket-sl"`) {
		t.Errorf("verify as a user of the connector:\n%s", out)
	}
	if _, errOut, code := ww.gcpconn("delete", "gcp-auto"); code != exitNotFound && code != exitAuth {
		t.Errorf("delete as a user = exit %d (%s); want a refusal", code, errOut)
	}
	if out := w.ok("delete", "gcp-auto"); out != "Deleted service connector `gcp-auto`.\n" {
		t.Errorf("delete = %q", out)
	}
	if _, _, code := w.gcpconn("describe", "gcp-auto"); code != exitNotFound {
		t.Errorf("describe after delete = exit %d; want %d", code, exitNotFound)
	}
}

// TestAutoConfigure covers the credential types and the project sources of --auto-configure.
func TestAutoConfigure(t *testing.T) {
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	user, _ := s.Fake.KeyJSON("user@zenml.io")
	gcloud := filepath.Join(w.home, "gcloud-config")
	w.extra = []string{"CLOUDSDK_CONFIG=" + gcloud}
	w.writeFile("gcloud-config/application_default_credentials.json", user)
	w.writeFile("gcloud-config/active_config", []byte("work\n"))
	w.writeFile("gcloud-config/configurations/config_work", []byte("[core]\naccount = user@zenml.io\nproject = zenml-core\n"))

	out, errOut, code := w.gcpconn("register", "gcp-user-account", "--auto-configure", "--resource-type", "gcs-bucket", "-o", "json")
	if code != 0 {
		t.Fatalf("register user account: exit %d\n%s", code, errOut)
	}
	var reg struct {
		Connector struct {
			AuthMethod    string         `json:"auth_method"`
			Configuration map[string]any `json:"configuration"`
			Secrets       []string       `json:"secrets"`
		} `json:"connector"`
	}
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatal(err)
	}
	if reg.Connector.AuthMethod != "user-account" || reg.Connector.Configuration["project_id"] != "zenml-core" || len(reg.Connector.Secrets) != 1 {
		t.Errorf("auto-configured connector = %+v; want user-account in zenml-core (project from gcloud's active configuration)", reg.Connector)
	}

	// Explicit method that does not match the credentials.
	_, errOut, code = w.gcpconn("register", "x", "--auto-configure", "--auth-method", "service-account")
	if code != exitFailure || !strings.Contains(errOut, "cannot auto-configure auth method service-account") {
		t.Errorf("mismatched method = exit %d %q", code, errOut)
	}
	// No credentials at all.
	w2 := newWorld(t, s, alice)
	_, errOut, code = w2.gcpconn("register", "x", "--auto-configure")
	if code != exitFailure || !strings.Contains(errOut, "no GCP credentials could be detected") {
		t.Errorf("no credentials = exit %d %q", code, errOut)
	}
	// An ADC file's quota_project_id names the project when nothing else does; with no
	// project at all, auto-configuration is a usage problem (exit 2) naming --project_id.
	var adc map[string]any
	if err := json.Unmarshal(user, &adc); err != nil {
		t.Fatal(err)
	}
	delete(adc, "quota_project_id")
	noQuota, _ := json.Marshal(adc)
	adc["quota_project_id"] = "zenml-core"
	withQuota, _ := json.Marshal(adc)
	w3 := newWorld(t, s, alice)
	w3.extra = []string{"CLOUDSDK_CONFIG=" + filepath.Join(w3.home, "gcloud")}
	w3.writeFile("gcloud/application_default_credentials.json", noQuota)
	_, errOut, code = w3.gcpconn("register", "gcp-no-project", "--auto-configure", "--resource-type", "gcs-bucket")
	if code != exitUsage || !strings.Contains(errOut, "no GCP project ID could be detected: pass --project_id=ID") {
		t.Errorf("auto-configure without any project = exit %d %q; want %d naming --project_id", code, errOut, exitUsage)
	}
	w3.writeFile("gcloud/application_default_credentials.json", withQuota)
	out = w3.ok("register", "gcp-quota", "--auto-configure", "--resource-type", "gcs-bucket", "-o", "json")
	if err := json.Unmarshal([]byte(out), &reg); err != nil || reg.Connector.Configuration["project_id"] != "zenml-core" {
		t.Errorf("auto-configured from an ADC file with quota_project_id = %+v, %v; want project zenml-core", reg.Connector, err)
	}

	// GOOGLE_APPLICATION_CREDENTIALS wins over the ADC file; GOOGLE_CLOUD_PROJECT over the key.
	key, _ := s.Fake.KeyJSON(admin)
	kp := w.writeFile("key.json", key)
	w.extra = append(w.extra, "GOOGLE_APPLICATION_CREDENTIALS="+kp)
	out = w.ok("register", "gcp-sa", "--auto-configure", "--resource-type", "gcp-generic")
	if !strings.Contains(out, "zenml-core") {
		t.Errorf("register from GOOGLE_APPLICATION_CREDENTIALS:\n%s", out)
	}
	if d := w.ok("describe", "gcp-sa"); !strings.Contains(d, "service-account") {
		t.Errorf("describe gcp-sa:\n%s", d)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.Name, func(t *testing.T) {
			h := commandHelp(c)
			if !strings.HasPrefix(h, "Usage: gcpconn "+c.Name) || !strings.Contains(h, "Example") || !strings.Contains(h, "--output") {
				t.Errorf("help of %s lacks usage, examples or global flags:\n%s", c.Name, h)
			}
		})
	}
	w := &world{t: t, home: t.TempDir()}
	if out, _, code := w.gcpconn("login", "--help"); code != 0 || !strings.Contains(out, "interactiveMode") {
		t.Errorf("gcpconn login --help = exit %d\n%s", code, out)
	}
	if out, _, code := w.gcpconn("help", "token"); code != 0 || !strings.Contains(out, "--exec-credential") {
		t.Errorf("gcpconn help token = exit %d\n%s", code, out)
	}
	if _, _, code := w.gcpconn(); code != exitUsage {
		t.Errorf("gcpconn without a command = exit %d; want %d", code, exitUsage)
	}
}
