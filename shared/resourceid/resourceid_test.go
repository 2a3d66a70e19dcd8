package resourceid

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/internal/input"
)

func TestParse_Valid(t *testing.T) {
	tests := []struct {
		rt   Type
		in   string
		want ID
		str  string // canonical form
	}{
		// gcp-generic
		{GCPGeneric, "my-project", ID{Type: GCPGeneric, Project: "my-project"}, "my-project"},
		{GCPGeneric, "projects/my-project", ID{Type: GCPGeneric, Project: "my-project"}, "my-project"},
		{GCPGeneric, "abcdef", ID{Type: GCPGeneric, Project: "abcdef"}, "abcdef"},
		{GCPGeneric, "a23456789012345678901234567890", ID{Type: GCPGeneric, Project: "a23456789012345678901234567890"}, "a23456789012345678901234567890"},
		{GCPGeneric, "example.com:my-proj", ID{Type: GCPGeneric, Project: "example.com:my-proj"}, "example.com:my-proj"},
		{GCPGeneric, "projects/sub.example.co.uk:my-proj", ID{Type: GCPGeneric, Project: "sub.example.co.uk:my-proj"}, "sub.example.co.uk:my-proj"},

		// gcs-bucket
		{GCSBucket, "my-bucket", ID{Type: GCSBucket, Name: "my-bucket"}, "gs://my-bucket"},
		{GCSBucket, "gs://my-bucket", ID{Type: GCSBucket, Name: "my-bucket"}, "gs://my-bucket"},
		{GCSBucket, "gs://my-bucket/", ID{Type: GCSBucket, Name: "my-bucket"}, "gs://my-bucket"},
		{GCSBucket, "gs://my-bucket/a/b/c.txt", ID{Type: GCSBucket, Name: "my-bucket", Path: "a/b/c.txt"}, "gs://my-bucket"},
		{GCSBucket, "gs://my-bucket/dir with spaces/ünïcode", ID{Type: GCSBucket, Name: "my-bucket", Path: "dir with spaces/ünïcode"}, "gs://my-bucket"},
		{GCSBucket, "abc", ID{Type: GCSBucket, Name: "abc"}, "gs://abc"},
		{GCSBucket, "my_bucket_1", ID{Type: GCSBucket, Name: "my_bucket_1"}, "gs://my_bucket_1"},
		{GCSBucket, "0bucket9", ID{Type: GCSBucket, Name: "0bucket9"}, "gs://0bucket9"},
		{GCSBucket, strings.Repeat("b", 63), ID{Type: GCSBucket, Name: strings.Repeat("b", 63)}, "gs://" + strings.Repeat("b", 63)},
		{GCSBucket, "gs://assets.example.com", ID{Type: GCSBucket, Name: "assets.example.com"}, "gs://assets.example.com"},
		{GCSBucket, dottedBucket(222), ID{Type: GCSBucket, Name: dottedBucket(222)}, "gs://" + dottedBucket(222)},
		{GCSBucket, "gs://eu.artifacts.my-project.appspot.com/containers", ID{Type: GCSBucket, Name: "eu.artifacts.my-project.appspot.com", Path: "containers"}, "gs://eu.artifacts.my-project.appspot.com"},
		{GCSBucket, "1.2.3.4.5", ID{Type: GCSBucket, Name: "1.2.3.4.5"}, "gs://1.2.3.4.5"},

		// kubernetes-cluster
		{KubernetesCluster, "my-cluster", ID{Type: KubernetesCluster, Name: "my-cluster"}, "my-cluster"},
		{KubernetesCluster, "c", ID{Type: KubernetesCluster, Name: "c"}, "c"},
		{KubernetesCluster, "us-east1/my-cluster", ID{Type: KubernetesCluster, Location: "us-east1", Name: "my-cluster"}, "us-east1/my-cluster"},
		{KubernetesCluster, "us-east1-b/my-cluster", ID{Type: KubernetesCluster, Location: "us-east1-b", Name: "my-cluster"}, "us-east1-b/my-cluster"},
		{KubernetesCluster, "northamerica-northeast2/c1", ID{Type: KubernetesCluster, Location: "northamerica-northeast2", Name: "c1"}, "northamerica-northeast2/c1"},
		{KubernetesCluster, "europe-west12-a/c1", ID{Type: KubernetesCluster, Location: "europe-west12-a", Name: "c1"}, "europe-west12-a/c1"},
		{KubernetesCluster, "projects/my-project/locations/europe-west1/clusters/prod",
			ID{Type: KubernetesCluster, Project: "my-project", Location: "europe-west1", Name: "prod"}, "europe-west1/prod"},
		{KubernetesCluster, "projects/example.com:my-proj/locations/us-central1-c/clusters/prod",
			ID{Type: KubernetesCluster, Project: "example.com:my-proj", Location: "us-central1-c", Name: "prod"}, "us-central1-c/prod"},
		{KubernetesCluster, "https://container.googleapis.com/v1/projects/my-project/locations/us-east1/clusters/prod",
			ID{Type: KubernetesCluster, Project: "my-project", Location: "us-east1", Name: "prod"}, "us-east1/prod"},
		{KubernetesCluster, "https://container.googleapis.com/v1/projects/my-project/zones/us-east1-d/clusters/prod",
			ID{Type: KubernetesCluster, Project: "my-project", Location: "us-east1-d", Name: "prod"}, "us-east1-d/prod"},
		{KubernetesCluster, "https://container.googleapis.com/v1beta1/projects/my-project/locations/us-east1/clusters/prod",
			ID{Type: KubernetesCluster, Project: "my-project", Location: "us-east1", Name: "prod"}, "us-east1/prod"},
		{KubernetesCluster, "//container.googleapis.com/projects/my-project/locations/us-east1/clusters/prod",
			ID{Type: KubernetesCluster, Project: "my-project", Location: "us-east1", Name: "prod"}, "us-east1/prod"},
		{KubernetesCluster, "gke_my-project_us-east1-b_prod",
			ID{Type: KubernetesCluster, Project: "my-project", Location: "us-east1-b", Name: "prod"}, "us-east1-b/prod"},
		{KubernetesCluster, "us-central1-ai1a/tpu", ID{Type: KubernetesCluster, Location: "us-central1-ai1a", Name: "tpu"}, "us-central1-ai1a/tpu"},
		{KubernetesCluster, strings.Repeat("c", 40), ID{Type: KubernetesCluster, Name: strings.Repeat("c", 40)}, strings.Repeat("c", 40)},

		// docker-registry: Artifact Registry URIs
		{DockerRegistry, "us-docker.pkg.dev/my-project/repo",
			ID{Type: DockerRegistry, Host: "us-docker.pkg.dev", Project: "my-project", Location: "us", Name: "repo"}, "us-docker.pkg.dev/my-project/repo"},
		{DockerRegistry, "https://europe-west1-docker.pkg.dev/my-project/repo",
			ID{Type: DockerRegistry, Host: "europe-west1-docker.pkg.dev", Project: "my-project", Location: "europe-west1", Name: "repo"}, "europe-west1-docker.pkg.dev/my-project/repo"},
		{DockerRegistry, "europe-docker.pkg.dev/my-project/repo/",
			ID{Type: DockerRegistry, Host: "europe-docker.pkg.dev", Project: "my-project", Location: "europe", Name: "repo"}, "europe-docker.pkg.dev/my-project/repo"},
		{DockerRegistry, "asia-docker.pkg.dev/my-project/repo/team/app:v1.2",
			ID{Type: DockerRegistry, Host: "asia-docker.pkg.dev", Project: "my-project", Location: "asia", Name: "repo", Path: "team/app:v1.2"}, "asia-docker.pkg.dev/my-project/repo"},
		{DockerRegistry, "https://us-east1-docker.pkg.dev/my-project/repo/app@sha256:0123abcd",
			ID{Type: DockerRegistry, Host: "us-east1-docker.pkg.dev", Project: "my-project", Location: "us-east1", Name: "repo", Path: "app@sha256:0123abcd"}, "us-east1-docker.pkg.dev/my-project/repo"},
		{DockerRegistry, "us-docker.pkg.dev/example.com/my-proj/repo/app",
			ID{Type: DockerRegistry, Host: "us-docker.pkg.dev", Project: "example.com:my-proj", Location: "us", Name: "repo", Path: "app"}, "us-docker.pkg.dev/example.com/my-proj/repo"},
		// docker-registry: Artifact Registry resource names
		{DockerRegistry, "projects/my-project/locations/us-central1/repositories/repo",
			ID{Type: DockerRegistry, Host: "us-central1-docker.pkg.dev", Project: "my-project", Location: "us-central1", Name: "repo"}, "us-central1-docker.pkg.dev/my-project/repo"},
		{DockerRegistry, "projects/example.com:my-proj/locations/europe/repositories/r",
			ID{Type: DockerRegistry, Host: "europe-docker.pkg.dev", Project: "example.com:my-proj", Location: "europe", Name: "r"}, "europe-docker.pkg.dev/example.com/my-proj/r"},
		// docker-registry: the gcr.io-domain repositories in their Artifact Registry spellings
		{DockerRegistry, "projects/my-project/locations/europe/repositories/eu.gcr.io",
			ID{Type: DockerRegistry, Host: "europe-docker.pkg.dev", Project: "my-project", Location: "europe", Name: "eu.gcr.io"}, "europe-docker.pkg.dev/my-project/eu.gcr.io"},
		{DockerRegistry, "projects/zenml-core/locations/us/repositories/gcr.io",
			ID{Type: DockerRegistry, Host: "us-docker.pkg.dev", Project: "zenml-core", Location: "us", Name: "gcr.io"}, "us-docker.pkg.dev/zenml-core/gcr.io"},
		{DockerRegistry, "us-docker.pkg.dev/zenml-core/gcr.io",
			ID{Type: DockerRegistry, Host: "us-docker.pkg.dev", Project: "zenml-core", Location: "us", Name: "gcr.io"}, "us-docker.pkg.dev/zenml-core/gcr.io"},
		{DockerRegistry, "https://us-docker.pkg.dev/zenml-core/us.gcr.io/zenml:latest",
			ID{Type: DockerRegistry, Host: "us-docker.pkg.dev", Project: "zenml-core", Location: "us", Name: "us.gcr.io", Path: "zenml:latest"}, "us-docker.pkg.dev/zenml-core/us.gcr.io"},
		{DockerRegistry, "europe-docker.pkg.dev/zenml-core/eu.gcr.io/",
			ID{Type: DockerRegistry, Host: "europe-docker.pkg.dev", Project: "zenml-core", Location: "europe", Name: "eu.gcr.io"}, "europe-docker.pkg.dev/zenml-core/eu.gcr.io"},
		{DockerRegistry, "asia-docker.pkg.dev/example.com/my-proj/asia.gcr.io",
			ID{Type: DockerRegistry, Host: "asia-docker.pkg.dev", Project: "example.com:my-proj", Location: "asia", Name: "asia.gcr.io"}, "asia-docker.pkg.dev/example.com/my-proj/asia.gcr.io"},
		// docker-registry: legacy Container Registry
		{DockerRegistry, "gcr.io/google-containers/pause:3.9", // Google's own public projects hold "google"
			ID{Type: DockerRegistry, Host: "gcr.io", Project: "google-containers", Location: "us", Name: "gcr.io", Path: "pause:3.9"}, "gcr.io/google-containers"},
		{DockerRegistry, "gcr.io/my-project",
			ID{Type: DockerRegistry, Host: "gcr.io", Project: "my-project", Location: "us", Name: "gcr.io"}, "gcr.io/my-project"},
		{DockerRegistry, "https://eu.gcr.io/my-project/app:latest",
			ID{Type: DockerRegistry, Host: "eu.gcr.io", Project: "my-project", Location: "europe", Name: "eu.gcr.io", Path: "app:latest"}, "eu.gcr.io/my-project"},
		{DockerRegistry, "us.gcr.io/my-project/",
			ID{Type: DockerRegistry, Host: "us.gcr.io", Project: "my-project", Location: "us", Name: "us.gcr.io"}, "us.gcr.io/my-project"},
		{DockerRegistry, "asia.gcr.io/example.com/my-proj/a/b",
			ID{Type: DockerRegistry, Host: "asia.gcr.io", Project: "example.com:my-proj", Location: "asia", Name: "asia.gcr.io", Path: "a/b"}, "asia.gcr.io/example.com/my-proj"},
	}
	for _, tt := range tests {
		t.Run(string(tt.rt)+"/"+tt.in, func(t *testing.T) {
			got, err := Parse(tt.rt, tt.in)
			if err != nil {
				t.Fatalf("Parse(%s, %q) error = %v; want nil", tt.rt, tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%s, %q) = %#v; want %#v", tt.rt, tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("Parse(%s, %q).String() = %q; want %q", tt.rt, tt.in, s, tt.str)
			}
			again, err := Parse(tt.rt, tt.str)
			if err != nil || again != got.Canonical() {
				t.Errorf("Parse(%s, %q) = %#v, %v; want %#v, nil", tt.rt, tt.str, again, err, got.Canonical())
			}
		})
	}
}

// dottedBucket returns a valid dotted bucket name of n characters made of 63-character parts.
func dottedBucket(n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		part := min(63, n-b.Len())
		b.WriteString(strings.Repeat("a", part))
	}
	return b.String()
}

func TestParse_Invalid(t *testing.T) {
	tests := []struct {
		rt   Type
		in   string
		want string // substring of the message, besides the type, the quoted input and the formats
	}{
		{GCPGeneric, "", "the resource id is empty"},
		{GCPGeneric, "short", `project id "short" must be 6 to 30 characters long`},
		{GCPGeneric, "a234567890123456789012345678901", "must be 6 to 30 characters long"},
		{GCPGeneric, "My-Project", "must start with a lowercase letter"},
		{GCPGeneric, "1project", "must start with a lowercase letter"},
		{GCPGeneric, "projects/123456789012", `"123456789012" is a project number; give the project id instead`},
		{GCPGeneric, "my-project-", "must not end with a hyphen"},
		{GCPGeneric, "my_project", "only lowercase letters, digits and hyphens"},
		{GCPGeneric, "projects/", "the project id is empty"},
		{GCPGeneric, "projects/my-project/zones", "only lowercase letters, digits and hyphens"},
		{GCPGeneric, "example:my-proj", "must be a DNS name such as example.com"},
		{GCPGeneric, "Example.com:my-proj", "must be a lowercase DNS name"},
		{GCPGeneric, "example..com:my-proj", "must be a lowercase DNS name"},
		{GCPGeneric, "example.com:abc", "must be 6 to 30 characters long"},
		{GCPGeneric, " my-project", "must start with a lowercase letter"},

		{GCSBucket, "ab", "must be 3 to 63 characters long"},
		{GCSBucket, "gs://", "the bucket name is empty"},
		{GCSBucket, "gs:///path", "the bucket name is empty"},
		{GCSBucket, strings.Repeat("b", 64), "must be 3 to 63 characters long (up to 222 with dots)"},
		{GCSBucket, dottedBucket(223), "names with dots are at most 222"},
		{GCSBucket, strings.Repeat("a", 64) + ".com", "dot-separated part longer than 63 characters"},
		{GCSBucket, "My-Bucket", "may contain only lowercase letters, digits, '-', '_' and '.'"},
		{GCSBucket, "my bucket", "may contain only lowercase letters"},
		{GCSBucket, "-bucket", "must start and end with a letter or digit"},
		{GCSBucket, "bucket_", "must start and end with a letter or digit"},
		{GCSBucket, ".bucket", "must start and end with a letter or digit"},
		{GCSBucket, "my..bucket", `must not contain ".."`},
		{GCSBucket, "my.-bucket", `must not contain ".-"`},
		{GCSBucket, "my-.bucket", `must not contain "-."`},
		{GCSBucket, "192.168.5.4", "must not be an IP address"},
		{GCSBucket, "gs://10.0.0.1/x", "must not be an IP address"},
		{GCSBucket, "goog-data", `must not start with "goog"`},
		{GCSBucket, "my-google-bucket", `must not contain "google"`},
		{GCSBucket, "my-g00gle-bucket", "close misspelling"},
		{GCSBucket, "bucket/path", "a bucket name has no slashes"},
		{GCSBucket, "s3://bucket", `scheme "s3://" is not accepted; a bucket URI starts with gs://`},
		{GCSBucket, "GS://bucket", `scheme "GS://" is not accepted`},
		{GCSBucket, "gs://bucket/a\nb", "without control characters"},
		{GCSBucket, "gs://bucket/\xff", "valid UTF-8"},

		{KubernetesCluster, "", "the resource id is empty"},
		{KubernetesCluster, "My-Cluster", "may contain only lowercase letters, digits and hyphens"},
		{KubernetesCluster, "1cluster", "must start with a lowercase letter"},
		{KubernetesCluster, "cluster-", "must end with a letter or digit"},
		{KubernetesCluster, strings.Repeat("c", 41), "longer than 40 characters"},
		{KubernetesCluster, "my_cluster", "may contain only lowercase letters"},
		{KubernetesCluster, "us-east1/", "the cluster name is empty"},
		{KubernetesCluster, "/my-cluster", "the location before the slash is empty"},
		{KubernetesCluster, "us/my-cluster", `location "us" is not a region (us-east1) or zone (us-east1-b)`},
		{KubernetesCluster, "us-east/my-cluster", `location "us-east" is not a region`},
		{KubernetesCluster, "us-east01/my-cluster", `location "us-east01" is not a region`},
		{KubernetesCluster, "us-east1-bb/my-cluster", `location "us-east1-bb" is not a region`},
		{KubernetesCluster, "us-east1/a/b", "too many slashes"},
		{KubernetesCluster, "us-central1-ai/tpu", `location "us-central1-ai" is not a region`},
		{KubernetesCluster, "us-central1-aia/tpu", `location "us-central1-aia" is not a region`},
		{KubernetesCluster, "us-central1-b-c/tpu", `location "us-central1-b-c" is not a region`},
		{KubernetesCluster, "projects/my-project/clusters/prod", "a full cluster name reads projects/PROJECT_ID/locations/LOCATION/clusters/NAME"},
		{KubernetesCluster, "projects/my-project/locations/us-east1/clusters/prod/nodePools/p", "a full cluster name reads"},
		{KubernetesCluster, "projects/x/locations/us-east1/clusters/prod", `project id "x" must be 6 to 30 characters long`},
		{KubernetesCluster, "projects/my-project/locations/-/clusters/prod", `location "-" is not a region`},
		{KubernetesCluster, "https://container.googleapis.com/v2/projects/my-project/locations/us-east1/clusters/prod", `a URL is accepted only as a GKE self-link`},
		{KubernetesCluster, "http://10.0.0.1/prod", `not "http://..."`},
		{KubernetesCluster, "gke_my-project_prod", "a gcloud context name reads gke_PROJECT_ID_LOCATION_NAME"},
		{KubernetesCluster, "gke_my-project_mars1_prod", `location "mars1" is not a region`},

		{DockerRegistry, "", "the resource id is empty"},
		{DockerRegistry, "docker.io/library/alpine", `host "docker.io" is neither LOCATION-docker.pkg.dev nor a gcr.io host`},
		{DockerRegistry, "http://us-docker.pkg.dev/my-project/repo", `scheme "http://" is not accepted; registry URIs use https:// or no scheme`},
		{DockerRegistry, "eu-docker.pkg.dev/my-project/repo", `location "eu" is not an Artifact Registry region`},
		{DockerRegistry, "US-docker.pkg.dev/my-project/repo", `location "US" is not an Artifact Registry region`},
		{DockerRegistry, "us-docker.pkg.dev/my-project", "the URI names no repository"},
		{DockerRegistry, "us-docker.pkg.dev/my-project/", "the URI names no repository"},
		{DockerRegistry, "us-docker.pkg.dev/My-Project/repo", "must start with a lowercase letter"},
		{DockerRegistry, "us-docker.pkg.dev/my-project/Repo", `repository id "Repo" may contain only lowercase letters, digits and hyphens`},
		{DockerRegistry, "us-docker.pkg.dev/my-project/1repo", `repository id "1repo" must start with a lowercase letter`},
		{DockerRegistry, "us-docker.pkg.dev/my-project/repo-", "must end with a letter or digit"},
		{DockerRegistry, "us-docker.pkg.dev/my-project/" + strings.Repeat("r", 64), "longer than 63 characters"},
		{DockerRegistry, "us-docker.pkg.dev/my-project/repo//img", "the image path has an empty segment"},
		{DockerRegistry, "us-docker.pkg.dev/my-project/repo/im g", "printable ASCII characters without spaces"},
		{DockerRegistry, "us-docker.pkg.dev/example.com:my-proj/repo", "only lowercase letters, digits and hyphens"},
		{DockerRegistry, "gcr.io", "the URI names no project: gcr.io/PROJECT_ID"},
		{DockerRegistry, "https://europe-west4-docker.pkg.dev/", "the URI names no project: europe-west4-docker.pkg.dev/PROJECT_ID"},
		{DockerRegistry, "eu.gcr.io/shrt", `project id "shrt" must be 6 to 30 characters long`},
		{DockerRegistry, "europe.gcr.io/my-project", `host "europe.gcr.io" is neither`},
		{DockerRegistry, "projects/my-project/locations/us/repositories", "a repository name reads projects/PROJECT_ID/locations/LOCATION/repositories/REPOSITORY"},
		{DockerRegistry, "projects/my-project/locations/eu/repositories/repo", `location "eu" is not an Artifact Registry region`},
		{DockerRegistry, "projects/my-project/locations/us/repositories/eu.gcr.io", `repository "eu.gcr.io" lives in location "europe", not "us"`},
		{DockerRegistry, "us-docker.pkg.dev/my-project/eu.gcr.io", `repository "eu.gcr.io" lives in location "europe", not "us"`},
		{DockerRegistry, "europe-west1-docker.pkg.dev/my-project/gcr.io", `repository "gcr.io" lives in location "us", not "europe-west1"`},
		{DockerRegistry, "us-docker.pkg.dev/my-project/europe.gcr.io", `repository id "europe.gcr.io" may contain only`},
		{DockerRegistry, "us-docker.pkg.dev/my-project/my.repo", `repository id "my.repo" may contain only`},
		{DockerRegistry, "projects/my-project/locations/us/repositories/my.repo", `repository id "my.repo" may contain only`},
		{DockerRegistry, "projects/my-project/locations/us/repositories/", "the repository id is empty"},
	}
	for _, tt := range tests {
		t.Run(string(tt.rt)+"/"+tt.in, func(t *testing.T) {
			got, err := Parse(tt.rt, tt.in)
			if err == nil {
				t.Fatalf("Parse(%s, %q) = %#v, nil; want error containing %q", tt.rt, tt.in, got, tt.want)
			}
			if got != (ID{}) {
				t.Errorf("Parse(%s, %q) = %#v with an error; want the zero ID", tt.rt, tt.in, got)
			}
			checkIDError(t, err, tt.rt, tt.in, tt.want)
		})
	}
}

// checkIDError checks the shape every resource id error shares: invalid on field
// resource_id, naming the type, echoing the input, listing the formats, plus want.
func checkIDError(t *testing.T, err error, rt Type, in, want string) {
	t.Helper()
	if kindOf(err) != invalid || fieldOf(err) != "resource_id" {
		t.Errorf("Parse(%s, %q) error kind, field = %q, %q; want %q, %q", rt, in, kindOf(err), fieldOf(err), invalid, "resource_id")
	}
	msg := messageOf(err)
	for _, w := range []string{want, "(" + string(rt) + ")", input.Quote(in), "accepted formats: " + strings.Join(idFormats[rt].accepted, " | ")} {
		if !strings.Contains(msg, w) {
			t.Errorf("Parse(%s, %q) error = %q; want it to contain %q", rt, in, msg, w)
		}
	}
}

func TestParse_UnknownType(t *testing.T) {
	_, err := Parse("s3-bucket", "my-bucket")
	if kindOf(err) != invalid || fieldOf(err) != "resource_type" {
		t.Fatalf(`Parse("s3-bucket", ...) error = %v (field %q); want invalid on resource_type`, err, fieldOf(err))
	}
	for _, w := range []string{`"s3-bucket"`, "gcp-generic, gcs-bucket, kubernetes-cluster, docker-registry"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf(`Parse("s3-bucket", ...) error = %q; want it to contain %q`, err, w)
		}
	}
}

func TestParse_EchoIsSafe(t *testing.T) {
	long := "gs://" + strings.Repeat("é", 300) // 605 bytes, cut in the middle of runes
	tests := []struct {
		name, in string
		want     []string
		notWant  []string
	}{
		{"control characters escaped", "bad\x1b[31mbucket\n", []string{`"bad\x1b[31mbucket\n"`}, []string{"\x1b", "\n"}},
		{"long input cut", long, []string{"... (605 bytes)"}, []string{strings.Repeat("é", 60)}},
		{"too long", strings.Repeat("a", MaxLen+1), []string{"longer than 1024 bytes", "(1025 bytes)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(GCSBucket, tt.in)
			if err == nil {
				t.Fatalf("Parse(gcs-bucket, %q) error = nil; want an error", tt.in)
			}
			msg := messageOf(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Parse(gcs-bucket, %q) error = %q; want it to contain %q", tt.in, msg, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(msg, w) {
					t.Errorf("Parse(gcs-bucket, %q) error = %q; want it not to contain %q", tt.in, msg, w)
				}
			}
			if len(msg) > 1000 {
				t.Errorf("Parse(gcs-bucket, %q) error is %d bytes; want at most 1000", tt.in, len(msg))
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		rt      Type
		in      string
		project string
		want    string
		wantErr string // "" when no error
	}{
		{GCPGeneric, "my-project", "my-project", "my-project", ""},
		{GCPGeneric, "projects/my-project", "my-project", "my-project", ""},
		{GCPGeneric, "other-project", "my-project", "", `gcp-generic resource id "other-project" is project "other-project", but the connector only gives access to its configured project "my-project"`},
		{GCPGeneric, "example.com:my-proj", "example.com:my-proj", "example.com:my-proj", ""},
		{GCPGeneric, "my-proj", "example.com:my-proj", "", `configured project "example.com:my-proj"`},
		// Buckets are global: no project check here (verify checks the project's listing).
		{GCSBucket, "gs://someone-elses-bucket/x", "my-project", "gs://someone-elses-bucket", ""},
		{KubernetesCluster, "prod", "my-project", "prod", ""},
		{KubernetesCluster, "us-east1/prod", "my-project", "us-east1/prod", ""},
		{KubernetesCluster, "projects/my-project/locations/us-east1/clusters/prod", "my-project", "us-east1/prod", ""},
		{KubernetesCluster, "projects/other-project/locations/us-east1/clusters/prod", "my-project", "",
			`kubernetes-cluster resource id "projects/other-project/locations/us-east1/clusters/prod" is in project "other-project", but the connector is configured for project "my-project"`},
		{KubernetesCluster, "gke_other-project_us-east1_prod", "my-project", "", `is in project "other-project"`},
		{DockerRegistry, "https://us-docker.pkg.dev/my-project/repo/img:1", "my-project", "us-docker.pkg.dev/my-project/repo", ""},
		{DockerRegistry, "us-docker.pkg.dev/other-project/repo", "my-project", "",
			`docker-registry resource id "us-docker.pkg.dev/other-project/repo" is in project "other-project", but the connector is configured for project "my-project"`},
		{DockerRegistry, "eu.gcr.io/other-project/img", "my-project", "", `is in project "other-project"`},
		{DockerRegistry, "gcr.io/example.com/my-proj", "example.com:my-proj", "gcr.io/example.com/my-proj", ""},
		{DockerRegistry, "projects/other-project/locations/us/repositories/r", "my-project", "", `is in project "other-project"`},
		{DockerRegistry, "us-docker.pkg.dev/my-project/repo", "", "us-docker.pkg.dev/my-project/repo", ""},
		{DockerRegistry, "us-docker.pkg.dev/my-project/Repo", "my-project", "", `repository id "Repo"`},
	}
	for _, tt := range tests {
		t.Run(string(tt.rt)+"/"+tt.in, func(t *testing.T) {
			got, err := Canonical(tt.rt, tt.in, tt.project)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Errorf("Canonical(%s, %q, %q) = %q, %v; want %q, nil", tt.rt, tt.in, tt.project, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(messageOf(err), tt.wantErr) {
				t.Fatalf("Canonical(%s, %q, %q) = %q, %v; want error containing %q", tt.rt, tt.in, tt.project, got, err, tt.wantErr)
			}
			if kindOf(err) != invalid || fieldOf(err) != "resource_id" {
				t.Errorf("Canonical(%s, %q, %q) error kind, field = %q, %q; want %q, resource_id", tt.rt, tt.in, tt.project, kindOf(err), fieldOf(err), invalid)
			}
		})
	}
}

func TestMatchCluster(t *testing.T) {
	listed := []string{"us-east1/prod", "europe-west1-b/prod", "us-east1/staging", "asia-east1/dev", "us-east1/staging", "not a cluster id!"}
	tests := []struct {
		want     string
		got      string
		wantKind string
		wantMsg  string
	}{
		{want: "staging", got: "us-east1/staging"},
		{want: "dev", got: "asia-east1/dev"},
		{want: "us-east1/prod", got: "us-east1/prod"},
		{want: "europe-west1-b/prod", got: "europe-west1-b/prod"},
		{want: "projects/my-project/locations/us-east1/clusters/prod", got: "us-east1/prod"},
		{want: "prod", wantKind: invalid, wantMsg: `GKE cluster name "prod" is ambiguous: it matches clusters in 2 locations (europe-west1-b/prod, us-east1/prod); use location/name to pick one`},
		{want: "missing", wantKind: unmatched, wantMsg: `GKE cluster "missing" not found or not accessible`},
		{want: "europe-west1/prod", wantKind: unmatched, wantMsg: `"europe-west1/prod" not found`},
		{want: "Bad_Name", wantKind: invalid, wantMsg: "invalid GKE cluster (kubernetes-cluster) resource id"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := MatchCluster(listed, tt.want)
			if tt.wantKind == "" {
				if err != nil || got != tt.got {
					t.Errorf("MatchCluster(listed, %q) = %q, %v; want %q, nil", tt.want, got, err, tt.got)
				}
				return
			}
			if kindOf(err) != tt.wantKind || !strings.Contains(messageOf(err), tt.wantMsg) {
				t.Errorf("MatchCluster(listed, %q) = %q, %v (kind %q); want kind %q with %q", tt.want, got, err, kindOf(err), tt.wantKind, tt.wantMsg)
			}
		})
	}
	if got, err := MatchCluster(nil, "prod"); kindOf(err) != unmatched {
		t.Errorf("MatchCluster(nil, %q) = %q, %v; want unmatched", "prod", got, err)
	}
}

func TestIDAccessors(t *testing.T) {
	tests := []struct {
		rt          Type
		in          string
		host        string
		repository  string
		clusterName string // with the connector project my-project
	}{
		{DockerRegistry, "https://europe-west1-docker.pkg.dev/my-project/repo/app:1", "europe-west1-docker.pkg.dev", "projects/my-project/locations/europe-west1/repositories/repo", ""},
		{DockerRegistry, "us-docker.pkg.dev/example.com/my-proj/repo", "us-docker.pkg.dev", "projects/example.com:my-proj/locations/us/repositories/repo", ""},
		{DockerRegistry, "eu.gcr.io/my-project/app", "eu.gcr.io", "projects/my-project/locations/europe/repositories/eu.gcr.io", ""},
		{DockerRegistry, "gcr.io/my-project", "gcr.io", "projects/my-project/locations/us/repositories/gcr.io", ""},
		{DockerRegistry, "us-docker.pkg.dev/my-project/gcr.io", "us-docker.pkg.dev", "projects/my-project/locations/us/repositories/gcr.io", ""},
		{DockerRegistry, "projects/my-project/locations/asia/repositories/asia.gcr.io", "asia-docker.pkg.dev", "projects/my-project/locations/asia/repositories/asia.gcr.io", ""},
		{KubernetesCluster, "us-east1-b/prod", "", "", "projects/my-project/locations/us-east1-b/clusters/prod"},
		{KubernetesCluster, "projects/example.com:other-proj/locations/us-east1/clusters/prod", "", "", "projects/example.com:other-proj/locations/us-east1/clusters/prod"},
		{KubernetesCluster, "prod", "", "", ""},
		{GCSBucket, "gs://b-1/x", "", "", ""},
		{GCPGeneric, "my-project", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.rt)+"/"+tt.in, func(t *testing.T) {
			r, err := Parse(tt.rt, tt.in)
			if err != nil {
				t.Fatalf("Parse(%s, %q) error = %v", tt.rt, tt.in, err)
			}
			if got := r.RegistryHost(); got != tt.host {
				t.Errorf("Parse(%s, %q).RegistryHost() = %q; want %q", tt.rt, tt.in, got, tt.host)
			}
			if got := r.RepositoryName(); got != tt.repository {
				t.Errorf("Parse(%s, %q).RepositoryName() = %q; want %q", tt.rt, tt.in, got, tt.repository)
			}
			if got, want := r.IsGCR(), strings.Contains(tt.host, "gcr.io"); got != want {
				t.Errorf("Parse(%s, %q).IsGCR() = %v; want %v", tt.rt, tt.in, got, want)
			}
			if got := r.ClusterName("my-project"); got != tt.clusterName {
				t.Errorf("Parse(%s, %q).ClusterName(my-project) = %q; want %q", tt.rt, tt.in, got, tt.clusterName)
			}
		})
	}
}

func TestLegacyGCR(t *testing.T) {
	tests := []struct{ in, want string }{
		{"us-docker.pkg.dev/zenml-core/gcr.io", "gcr.io/zenml-core"},
		{"projects/zenml-core/locations/us/repositories/us.gcr.io", "us.gcr.io/zenml-core"},
		{"europe-docker.pkg.dev/zenml-core/eu.gcr.io/app:1", "eu.gcr.io/zenml-core"},
		{"asia-docker.pkg.dev/example.com/my-proj/asia.gcr.io", "asia.gcr.io/example.com/my-proj"},
		{"gcr.io/zenml-core", ""},
		{"europe-west1-docker.pkg.dev/zenml-core/test", ""},
	}
	for _, tt := range tests {
		r, err := Parse(DockerRegistry, tt.in)
		if err != nil {
			t.Fatalf("Parse(docker-registry, %q) error = %v", tt.in, err)
		}
		l, ok := r.LegacyGCR()
		if got := l.String(); got != tt.want || ok != (tt.want != "") {
			t.Errorf("Parse(%q).LegacyGCR() = %q, %v; want %q", tt.in, got, ok, tt.want)
			continue
		}
		if ok && (l.RepositoryName() != r.RepositoryName() || l.RegistryHost() != r.Name) {
			t.Errorf("Parse(%q).LegacyGCR() = %#v; want the same repository %s behind host %s", tt.in, l, r.RepositoryName(), r.Name)
		}
		if again, err := Parse(DockerRegistry, tt.want); ok && (err != nil || again != l) {
			t.Errorf("Parse(%q) = %#v, %v; want %#v (LegacyGCR of %q)", tt.want, again, err, l, tt.in)
		}
	}
}

func ExampleParse_spellings() {
	for _, in := range []struct {
		rt Type
		id string
	}{
		{GCSBucket, "gs://assets.example.com/images/logo.png"},
		{KubernetesCluster, "projects/my-project/locations/us-east1/clusters/prod"},
		{KubernetesCluster, "gke_my-project_us-east1-b_prod"},
		{DockerRegistry, "https://europe-docker.pkg.dev/example.com/my-proj/repo/app:1.0"},
		{DockerRegistry, "projects/my-project/locations/us-central1/repositories/images"},
		{DockerRegistry, "eu.gcr.io/my-project/app"},
	} {
		r, err := Parse(in.rt, in.id)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(r)
	}
	// Output:
	// gs://assets.example.com
	// us-east1/prod
	// us-east1-b/prod
	// europe-docker.pkg.dev/example.com/my-proj/repo
	// us-central1-docker.pkg.dev/my-project/images
	// eu.gcr.io/my-project
}

func ExampleCanonical_projectScope() {
	_, err := Canonical(DockerRegistry, "us-docker.pkg.dev/other-project/repo", "my-project")
	fmt.Println(err)
	// Output:
	// docker-registry resource id "us-docker.pkg.dev/other-project/repo" is in project "other-project", but the connector is configured for project "my-project"
}

func ExampleMatchCluster_ambiguous() {
	listed := []string{"us-east1/prod", "europe-west1-b/prod", "us-east1/staging"}
	fmt.Println(MatchCluster(listed, "staging"))
	fmt.Println(MatchCluster(listed, "prod"))
	// Output:
	// us-east1/staging <nil>
	//  GKE cluster name "prod" is ambiguous: it matches clusters in 2 locations (europe-west1-b/prod, us-east1/prod); use location/name to pick one
}

func ExampleID_RegistryHost() {
	r, _ := Parse(DockerRegistry, "https://europe-west1-docker.pkg.dev/my-project/repo/app:1.0")
	fmt.Println(r.RegistryHost())
	fmt.Println(r.RepositoryName())
	// Output:
	// europe-west1-docker.pkg.dev
	// projects/my-project/locations/europe-west1/repositories/repo
}

// TestCanonicalRemembered: an accepted id is remembered (asking again allocates nothing), and
// remembered answers stay right across more ids than Canonical keeps, for the same id under
// another project (refused there) and under another type.
func TestCanonicalRemembered(t *testing.T) {
	for round := range 3 {
		for i := range 3 * canonicalSlots {
			in := fmt.Sprintf("us-docker.pkg.dev/proj-%d/repo/img:%d", i%7, i)
			want := fmt.Sprintf("us-docker.pkg.dev/proj-%d/repo", i%7)
			if got, err := Canonical(DockerRegistry, in, fmt.Sprintf("proj-%d", i%7)); err != nil || got != want {
				t.Fatalf("round %d: Canonical(%q) = %q, %v; want %q", round, in, got, err, want)
			}
			if _, err := Canonical(DockerRegistry, in, "elsewhere"); err == nil {
				t.Fatalf("round %d: Canonical(%q) in project elsewhere accepted", round, in)
			}
		}
	}
	if got, err := Canonical(GCSBucket, "gs://bkt-1/x", "p"); err != nil || got != "gs://bkt-1" {
		t.Errorf("Canonical(gcs-bucket, gs://bkt-1/x) = %q, %v; want gs://bkt-1", got, err)
	}
	if _, err := Canonical(GCPGeneric, "gs://bkt-1/x", "p"); err == nil {
		t.Errorf("Canonical(gcp-generic, gs://bkt-1/x) accepted after gcs-bucket did")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Canonical(GCSBucket, "gs://bkt-1/x", "p") }); n != 0 {
		t.Errorf("Canonical of a remembered id allocates %v times; want 0", n)
	}
}

// TestEveryTypeHasIDFormats checks that every type of Types has a complete id format (title,
// accepted spellings, parser, canonical form) and none other does, and that a canonical id of
// each type parses back to itself: a type added to Types without its id syntax fails here.
func TestEveryTypeHasIDFormats(t *testing.T) {
	canonical := map[Type]string{
		GCPGeneric:        "my-project",
		GCSBucket:         "gs://my-bucket",
		KubernetesCluster: "us-east1/my-cluster",
		DockerRegistry:    "europe-docker.pkg.dev/my-project/images",
	}
	if len(idFormats) != len(Types) {
		t.Errorf("idFormats has %d types; Types has %d", len(idFormats), len(Types))
	}
	for _, rt := range Types {
		f, ok := idFormats[rt]
		if !ok || f.rt != rt || f.title == "" || len(f.accepted) == 0 || f.parse == nil || f.canonical == nil {
			t.Errorf("%s: id format incomplete: %+v", rt, f)
			continue
		}
		want, ok := canonical[rt]
		if !ok {
			t.Errorf("%s: no canonical id to check in this test", rt)
			continue
		}
		r, err := Parse(rt, want)
		if err != nil || r.Type != rt || r.String() != want {
			t.Errorf("Parse(%s, %q) = %+v (%q), %v; want its canonical form back", rt, want, r, r.String(), err)
		}
	}
	if got := (ID{}).String(); got != "" {
		t.Errorf("ID{}.String() = %q; want \"\"", got)
	}
}
