package resourceid

import (
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/internal/input"
)

// The fuzz tests check the properties every resource id parser must have, for any input:
// it never panics; an error is invalid on resource_id, bounded in size and lists the
// accepted formats; a parsed id's canonical form is printable ASCII and re-parses to itself
// with the same ID (less the parts the canonical form drops, see Canonical).
//
// Run one with, for example:
//
//	go test ./shared/resourceid -run '^$' -fuzz '^FuzzParse_GCSBucket$' -fuzztime 60s
//
// Seed corpora live in testdata/fuzz/<FuzzName>/.

func FuzzParse_GCPGeneric(f *testing.F) {
	for _, s := range []string{
		"my-project", "projects/my-project", "example.com:my-proj", "projects/example.com:my-proj",
		"a23456789012345678901234567890", "short", "My-Project", "my-project-", "example:my-proj",
		"a.b:c-d-e-f", "projects/", ":", "projects/projects/my-project",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParseProperties(t, GCPGeneric, s) })
}

func FuzzParse_GCSBucket(f *testing.F) {
	for _, s := range []string{
		"my-bucket", "gs://my-bucket", "gs://my-bucket/a/b", "gs://assets.example.com/x", "a.b.c",
		dottedBucket(222), dottedBucket(223), "192.168.5.4", "goog-x", "g00gle", "my..bucket", "gs://",
		"gs:///x", "a_b", "1.2.3.4.5", "gs://b-1/\xff", "ab",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParseProperties(t, GCSBucket, s) })
}

func FuzzParse_KubernetesCluster(f *testing.F) {
	for _, s := range []string{
		"prod", "us-east1/prod", "us-east1-b/prod", "projects/my-project/locations/us-east1/clusters/prod",
		"https://container.googleapis.com/v1/projects/my-project/zones/us-east1-b/clusters/prod",
		"https://container.googleapis.com/v1beta1/projects/my-project/locations/us-east1/clusters/prod",
		"//container.googleapis.com/projects/example.com:my-proj/locations/us-east1/clusters/prod",
		"gke_my-project_us-east1-b_prod", "gke_example.com:my-proj_europe-west12_c", "/prod", "us-east1/",
		"us/prod", "us-east01/prod", "gke__", "projects/////",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := checkParseProperties(t, KubernetesCluster, s)
		if r.Location != "" {
			listed := []string{"us-east1/other", r.String()}
			if got, err := MatchCluster(listed, s); err != nil || got != r.String() {
				t.Errorf("MatchCluster(%q, %q) = %q, %v; want %q, nil", listed, s, got, err, r.String())
			}
		}
	})
}

func FuzzParse_DockerRegistry(f *testing.F) {
	for _, s := range []string{
		"us-docker.pkg.dev/my-project/repo", "https://europe-west1-docker.pkg.dev/my-project/repo/app:1",
		"us-docker.pkg.dev/example.com/my-proj/repo/a/b@sha256:00", "projects/my-project/locations/us/repositories/repo",
		"projects/example.com:my-proj/locations/europe/repositories/eu.gcr.io", "gcr.io/my-project",
		"https://asia.gcr.io/example.com/my-proj/img", "eu.gcr.io/my-project/", "us-docker.pkg.dev/my-project/repo//x",
		"docker.io/library/alpine", "gcr.io", "us-docker.pkg.dev/example.com", "projects/a/locations/b/repositories/",
		"us-docker.pkg.dev/zenml-core/gcr.io", "projects/zenml-core/locations/us/repositories/gcr.io",
		"https://asia-docker.pkg.dev/example.com/my-proj/asia.gcr.io/img:1", "europe-west1-docker.pkg.dev/my-project/eu.gcr.io",
		"us-docker.pkg.dev/my-project/us.gcr.io.x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := checkParseProperties(t, DockerRegistry, s)
		if r.Type == DockerRegistry && (r.RegistryHost() == "" || !strings.HasPrefix(r.String(), r.RegistryHost()+"/")) {
			t.Errorf("Parse(docker-registry, %q): host %q does not start canonical %q", s, r.RegistryHost(), r.String())
		}
	})
}

// checkParseProperties parses s and checks the properties above; it returns the parsed id (the
// zero ID when s does not parse).
func checkParseProperties(t *testing.T, rt Type, s string) ID {
	t.Helper()
	r, err := Parse(rt, s)
	if err != nil {
		if kindOf(err) != invalid || fieldOf(err) != "resource_id" {
			t.Fatalf("Parse(%s, %q) error kind, field = %q, %q; want %q, resource_id", rt, s, kindOf(err), fieldOf(err), invalid)
		}
		msg := messageOf(err)
		if !strings.Contains(msg, "("+string(rt)+")") || !strings.Contains(msg, "accepted formats: ") {
			t.Fatalf("Parse(%s, %q) error = %q; want the type and the accepted formats", rt, s, msg)
		}
		if len(msg) > 2000 {
			t.Fatalf("Parse(%s, %q) error is %d bytes; want at most 2000", rt, s, len(msg))
		}
		if r != (ID{}) {
			t.Fatalf("Parse(%s, %q) = %#v with an error; want the zero ID", rt, s, r)
		}
		return ID{}
	}
	c := r.String()
	if r.Type != rt || c == "" || !input.All(c, input.IsPrintableASCII) {
		t.Fatalf("Parse(%s, %q) = %#v, canonical %q; want type %s and a non-empty printable canonical form", rt, s, r, c, rt)
	}
	again, err := Parse(rt, c)
	if err != nil {
		t.Fatalf("Parse(%s, %q) (canonical of %q) error = %v; want nil", rt, c, s, err)
	}
	if again != r.Canonical() {
		t.Fatalf("Parse(%s, %q) (canonical of %q) = %#v; want %#v", rt, c, s, again, r.Canonical())
	}
	if c2 := again.String(); c2 != c {
		t.Fatalf("canonical of canonical %q of %q = %q; want it unchanged", c, s, c2)
	}
	if got, err := Canonical(rt, s, ""); err != nil || got != c {
		t.Fatalf("Canonical(%s, %q, \"\") = %q, %v; want %q, nil", rt, s, got, err, c)
	}
	if r.Project != "" {
		if got, err := Canonical(rt, s, r.Project); err != nil || got != c {
			t.Fatalf("Canonical(%s, %q, %q) = %q, %v; want %q, nil", rt, s, r.Project, got, err, c)
		}
		if _, err := Canonical(rt, s, "another-project"); r.Project != "another-project" && kindOf(err) != invalid {
			t.Fatalf("Canonical(%s, %q, another-project) error = %v; want invalid (project %q)", rt, s, err, r.Project)
		}
	}
	return r
}
