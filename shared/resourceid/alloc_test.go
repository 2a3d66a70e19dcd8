package resourceid

import "testing"

// parseCases are ids of every spelling, valid and refused, for the allocation test and the
// benchmark.
var parseCases = []struct {
	name string
	rt   Type
	in   string
	ok   bool
}{
	{"generic", GCPGeneric, "projects/my-project", true},
	{"generic-domain", GCPGeneric, "projects/example.com:my-proj", true},
	{"bucket", GCSBucket, "gs://my-bucket/a/b", true},
	{"cluster-short", KubernetesCluster, "us-east1/my-cluster", true},
	{"cluster-full", KubernetesCluster, "projects/my-project/locations/us-east1-b/clusters/my-cluster", true},
	{"cluster-context", KubernetesCluster, "gke_my-project_us-east1_my-cluster", true},
	{"registry-ar", DockerRegistry, "https://europe-docker.pkg.dev/my-project/images/app:1", true},
	{"registry-gcr", DockerRegistry, "eu.gcr.io/example.com/my-proj/app", true},
	{"registry-name", DockerRegistry, "projects/my-project/locations/us/repositories/gcr.io", true},
	{"bad-generic", GCPGeneric, "My-Project", false},
	{"bad-bucket", GCSBucket, "goog-bucket", false},
	{"bad-cluster", KubernetesCluster, "us-east1/My-Cluster", false},
	{"bad-registry", DockerRegistry, "us-docker.pkg.dev/my-project/", false},
}

// maxParseAllocs is how often Parse may allocate for a valid id of each case, as measured:
// splitting a full name or context into its parts and a domain into its labels costs a slice
// each, a registry URI's domain-scoped project and a repository name's docker host a string
// each; every other spelling allocates nothing.
var maxParseAllocs = map[string]float64{
	"generic-domain": 1, "cluster-full": 1, "cluster-context": 1, "registry-gcr": 2, "registry-name": 2,
}

// TestParseAllocs holds the allocations of parsing a valid id to maxParseAllocs: a refusal
// may allocate its message, an accepted id must not pay for it.
func TestParseAllocs(t *testing.T) {
	for _, tc := range parseCases {
		if !tc.ok {
			continue
		}
		if _, err := Parse(tc.rt, tc.in); err != nil {
			t.Fatalf("%s: Parse(%s, %q): %v", tc.name, tc.rt, tc.in, err)
		}
		n := testing.AllocsPerRun(100, func() { _, _ = Parse(tc.rt, tc.in) })
		if want := maxParseAllocs[tc.name]; n > want {
			t.Errorf("%s: Parse(%s, %q) allocates %v times; want at most %v", tc.name, tc.rt, tc.in, n, want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, tc := range parseCases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(tc.rt, tc.in); (err == nil) != tc.ok {
					b.Fatalf("Parse(%s, %q): %v", tc.rt, tc.in, err)
				}
			}
		})
	}
}
