package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

// The product page's example sessions, walked against the demo world.
//
// testdata/page/NN-NAME.txt holds, verbatim, one example session of the original product
// page (the page itself is not part of the repository; the sessions are): its command on the first line ($ zenml
// ...) and the output the page shows. TestPageSessions runs the same command with gcpconn
// against the fake Google Cloud's demo world (memory store) and compares the resources of the
// two RESOURCE TYPE / RESOURCE NAMES tables, type by type; for a command the page shows
// failing, both must fail naming the same Google permission. Where gcpconn differs, the
// difference must be one of pageDifferences, each of which the README's walk-through names
// (the test checks that the README holds its phrase).

// pageDifference is one way gcpconn's answer may differ from the page's.
type pageDifference struct {
	readme string // a phrase of README.md that names and explains it
	// applies reports whether the difference explains ours where the page has page, for
	// session and resource type rt.
	applies func(session, rt string, page, ours []string) bool
}

var pageDifferences = map[string]pageDifference{
	// gcpconn lists clusters canonical: location/name.
	"cluster-location": {readme: "`us-east1/zenml-test-cluster` where the page shows `zenml-test-cluster`",
		applies: func(_, rt string, page, ours []string) bool {
			if rt != "kubernetes-cluster" || len(page) != len(ours) {
				return false
			}
			for i, id := range ours {
				_, name, ok := strings.Cut(id, "/")
				if !ok || name != page[i] {
					return false
				}
			}
			return true
		}},
	// The page's end-to-end multi-type example lists 4 of the 7 buckets its other sessions list.
	"four-buckets": {readme: "lists 4 of the 7 buckets",
		applies: func(session, rt string, page, ours []string) bool {
			return strings.HasPrefix(session, "demo-multi") && rt == "gcs-bucket" && len(page) == 4 && len(ours) == 7 && subset(page, ours)
		}},
	// The empty account: the page lists the project and the gcr.io hosts without checking;
	// gcpconn checks them, and Google refuses.
	"empty-account-checked": {readme: "gcpconn checks them, so they are errors",
		applies: func(session, rt string, _, ours []string) bool {
			return session == "empty-sa" && (rt == "gcp-generic" || rt == "docker-registry") && slices.Equal(ours, []string{errorCell})
		}},
	// implicit is the service's own identity, which the demo world lets view clusters but not
	// list buckets or registries.
	"implicit-is-the-service": {readme: "`implicit` is gcpconn's own identity",
		applies: func(session, rt string, _, ours []string) bool {
			return session == "implicit" && (rt == "gcs-bucket" || rt == "docker-registry") && slices.Equal(ours, []string{errorCell})
		}},
	// The demo world's workload identity target reads objects but may not list buckets.
	"workload-identity-reader": {readme: "`wif-target@` may read objects",
		applies: func(session, rt string, _, ours []string) bool {
			return session == "workload-identity" && rt == "gcs-bucket" && slices.Equal(ours, []string{errorCell})
		}},
}

// errorCell stands for a resource type that failed (💥 error: ...), whatever the message.
const errorCell = "ERROR"

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// resourceTables reads the RESOURCE TYPE / RESOURCE NAMES tables of out (register, verify
// and list-resources output, the page's or gcpconn's): the resource names by type, an error
// cell as errorCell. For list-resources tables only the rows of connector (when not "") count.
func resourceTables(out, connector string) map[string][]string {
	got := map[string][]string{}
	typeCol, namesCol, connCol := -1, -1, -1
	rt, conn := "", ""
	for line := range strings.SplitSeq(out, "\n") {
		if !strings.HasPrefix(line, "┃") || !strings.Contains(line, "│") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "┃"), "│")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if slices.Contains(cells, "RESOURCE NAMES") {
			typeCol, namesCol, connCol = slices.Index(cells, "RESOURCE TYPE"), slices.Index(cells, "RESOURCE NAMES"), slices.Index(cells, "CONNECTOR NAME")
			continue
		}
		if typeCol < 0 || len(cells) <= max(typeCol, namesCol, connCol) {
			continue
		}
		if connCol >= 0 && cells[connCol] != "" {
			conn = cells[connCol]
		}
		if connector != "" && conn != connector {
			continue
		}
		if t := cells[typeCol]; t != "" {
			rt = t[strings.LastIndex(t, " ")+1:] // drop the emoji
		}
		name := cells[namesCol]
		switch {
		case slices.Equal(got[rt], []string{errorCell}), name == "":
			// the rest of an error message
		case strings.HasPrefix(name, "💥 error"):
			got[rt] = []string{errorCell}
		default:
			got[rt] = append(got[rt], name)
		}
	}
	return got
}

// pageSession is one example of the page and how gcpconn runs it.
type pageSession struct {
	file string   // testdata/page/FILE
	args []string // gcpconn's command line
	// connector restricts a list-resources table to one connector's rows.
	connector string
	// failing: the page shows the command failing with this Google permission or text.
	failing string
}

func pageSessions(emptyKey, adminKey, wifConfig, subjectToken string) []pageSession {
	return []pageSession{
		{file: "01-implicit.txt", args: []string{"register", "gcp-implicit", "--type", "gcp", "--auth-method", "implicit", "--auto-configure"}},
		{file: "02-user-account.txt", args: []string{"register", "gcp-user-account", "--type", "gcp", "--auth-method", "user-account", "--auto-configure"}},
		{file: "03-service-account.txt", args: []string{"register", "gcp-service-account", "--type", "gcp", "--auth-method", "service-account",
			"--resource-type", "gcs-bucket", "--project_id=zenml-core", "--service_account_json=@" + adminKey}},
		{file: "04-empty-sa.txt", args: []string{"register", "gcp-empty-sa", "--type", "gcp", "--auth-method", "service-account",
			"--service_account_json=@" + emptyKey, "--project_id=zenml-core"}},
		{file: "05-empty-sa-verify-cluster.txt", args: []string{"verify", "gcp-empty-sa", "--resource-type", "kubernetes-cluster"}, failing: "container.clusters.list"},
		{file: "06-empty-sa-verify-buckets.txt", args: []string{"verify", "gcp-empty-sa", "--resource-type", "gcs-bucket"},
			failing: "does not have storage.buckets.list access to the Google Cloud project"},
		{file: "07-empty-sa-verify-bucket.txt", args: []string{"verify", "gcp-empty-sa", "--resource-type", "gcs-bucket", "--resource-id", "zenml-bucket-sl"},
			failing: "does not have storage.buckets.get access to the Google Cloud Storage bucket"},
		{file: "08-impersonate-sa.txt", args: []string{"register", "gcp-impersonate-sa", "--type", "gcp", "--auth-method", "impersonation",
			"--service_account_json=@" + emptyKey, "--project_id=zenml-core", "--target_principal=zenml-bucket-sl@zenml-core.iam.gserviceaccount.com",
			"--resource-type", "gcs-bucket", "--resource-id", "gs://zenml-bucket-sl"}},
		{file: "09-workload-identity.txt", args: []string{"register", "gcp-workload-identity", "--type", "gcp", "--auth-method", "external-account",
			"--project_id=zenml-core", "--external_account_json=@" + wifConfig, "--subject-token", subjectToken}},
		{file: "10-oauth2-token.txt", args: []string{"register", "gcp-oauth2-token", "--type", "gcp", "--auto-configure", "--auth-method", "oauth2-token"}},
		{file: "11-auto.txt", args: []string{"register", "gcp-auto", "--type", "gcp", "--auto-configure"}},
		{file: "12-user-account-verify-cluster.txt", args: []string{"verify", "gcp-user-account", "--resource-type", "kubernetes-cluster"}},
		{file: "13-user-account-verify-registry.txt", args: []string{"verify", "gcp-user-account", "--resource-type", "docker-registry",
			"--resource-id", "europe-west1-docker.pkg.dev/zenml-core/test"}},
		{file: "14-demo-multi.txt", args: []string{"register", "gcp-demo-multi", "--type", "gcp", "--auto-configure"}},
		{file: "15-demo-multi-list-buckets.txt", args: []string{"list-resources", "--resource-type", "gcs-bucket"}, connector: "gcp-demo-multi"},
		{file: "16-demo-multi-list-clusters.txt", args: []string{"list-resources", "--resource-type", "kubernetes-cluster"}, connector: "gcp-demo-multi"},
		{file: "17-demo-multi-list-registries.txt", args: []string{"list-resources", "--resource-type", "docker-registry"}, connector: "gcp-demo-multi"},
		{file: "18-bucket-sl.txt", args: []string{"register", "gcs-zenml-bucket-sl", "--type", "gcp", "--resource-type", "gcs-bucket",
			"--resource-id", "gs://zenml-bucket-sl", "--auto-configure"}},
		{file: "19-gcr-zenml-core.txt", args: []string{"register", "gcr-zenml-core", "--type", "gcp", "--resource-type", "docker-registry", "--auto-configure"}},
		{file: "20-vertex-ai.txt", args: []string{"register", "vertex-ai-zenml-core", "--type", "gcp", "--resource-type", "gcp-generic", "--auto-configure"}},
		{file: "21-cloud-builder.txt", args: []string{"register", "gcp-cloud-builder-zenml-core", "--type", "gcp", "--resource-type", "gcp-generic", "--auto-configure"}},
	}
}

// TestPageSessions walks every example session of the product page that lists resources or
// fails (register, verify, list-resources) against the demo world through the CLI, in the
// page's order, and compares the resources with the page's, allowing only the differences
// of pageDifferences (which the README names). The local machine is the page's: gcloud's
// ADC file holds the user account user@zenml.io, the active project is zenml-core.
func TestPageSessions(t *testing.T) {
	t.Setenv("GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS", "true")
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	user, _ := s.Fake.KeyJSON("user@zenml.io")
	var adc map[string]any
	if err := json.Unmarshal(user, &adc); err != nil {
		t.Fatal(err)
	}
	adc["token_uri"] = s.Fake.BaseURL() + "/token" // the fake's OAuth2 endpoint instead of Google's
	user, _ = json.Marshal(adc)
	w.writeFile(".config/gcloud/application_default_credentials.json", user)
	w.writeFile(".config/gcloud/active_config", []byte("default\n"))
	w.writeFile(".config/gcloud/configurations/config_default", []byte("[core]\naccount = user@zenml.io\nproject = zenml-core\n"))
	emptyKey, _ := s.Fake.KeyJSON(empty)
	adminKey, _ := s.Fake.KeyJSON(admin)
	const aud = "//iam.googleapis.com/projects/728294510346/locations/global/workloadIdentityPools/ci-pool/providers/ci-oidc"
	subject, err := s.Fake.Identity().OIDCToken("ci-pipeline", aud, 0)
	if err != nil {
		t.Fatal(err)
	}
	wif := `{"type":"external_account","audience":"` + aud + `","subject_token_type":"urn:ietf:params:oauth:token-type:jwt",` +
		`"token_url":"https://sts.googleapis.com/v1/token","service_account_impersonation_url":` +
		`"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/wif-target@zenml-core.iam.gserviceaccount.com:generateAccessToken"}`
	sessions := pageSessions(w.writeFile("empty-connectors@zenml-core.json", emptyKey),
		w.writeFile("connectors-devel@zenml-core.json", adminKey), w.writeFile("clientLibraryConfig-ci.json", []byte(wif)), subject)

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, ps := range sessions {
		b, err := os.ReadFile(filepath.Join("testdata", "page", ps.file))
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		session := strings.TrimSuffix(ps.file[3:], ".txt")
		out, errOut, code := w.gcpconn(ps.args...)
		if ps.failing != "" {
			if !strings.Contains(page, ps.failing) && !strings.Contains(page, strings.Trim(ps.failing, `"`)) {
				t.Fatalf("%s: the page's output does not say %q", ps.file, ps.failing)
			}
			if code != exitVerify || !strings.Contains(errOut, ps.failing) {
				t.Errorf("%s: gcpconn %v = exit %d %q; want %d with Google's %q, as on the page", ps.file, ps.args, code, errOut, exitVerify, ps.failing)
			}
			continue
		}
		if code != 0 && code != exitVerify {
			t.Errorf("%s: gcpconn %v = exit %d\n%s", ps.file, ps.args, code, errOut)
			continue
		}
		want, got := resourceTables(page, ps.connector), resourceTables(out, ps.connector)
		if len(want) == 0 {
			t.Fatalf("%s: no resource table in the page's output", ps.file)
		}
		for _, rt := range []string{"gcp-generic", "gcs-bucket", "kubernetes-cluster", "docker-registry"} {
			p, o := want[rt], got[rt]
			if slices.Equal(p, o) {
				continue
			}
			explained := ""
			for name, d := range pageDifferences {
				if d.applies(session, rt, p, o) {
					explained = name
				}
			}
			if explained == "" {
				t.Errorf("%s: %s resources = %q; the page lists %q (no difference the README names explains it)\n%s", ps.file, rt, o, p, out)
				continue
			}
			used[explained] = true
			t.Logf("%s: %s differs from the page (%s): %q, page %q", ps.file, rt, explained, o, p)
		}
	}
	for name, d := range pageDifferences {
		if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), d.readme) {
			t.Errorf("README.md does not name difference %s (%q)", name, d.readme)
		}
		if !used[name] {
			t.Errorf("difference %s is allowed but no session needs it; drop it from pageDifferences and the README", name)
		}
	}
}
