// Package resourcetype holds what gcpconn knows about each resource type, one record per type:
// the facts the type spec publishes, the words messages use, the scopes of its tokens, the
// permission a listing needs and the kind of credential it hands out. The core
// (shared/connector), the CLI (cmd/gcpconn) and the Google adapter's tests read these records
// instead of keeping maps and switches of their own, so a new resource type is one record here,
// its id syntax in package resourceid and its Google calls in shared/gcp; the tests of those
// packages fail until every part exists.
//
// # Vocabulary
//
// A resource type ([resourceid.Type]) names a kind of Google Cloud resource a connector gives
// access to: gcp-generic (a project), gcs-bucket (a Cloud Storage bucket), kubernetes-cluster
// (a GKE cluster) and docker-registry (an Artifact Registry repository or a legacy GCR host).
// Its ids, every spelling and the canonical form, are package resourceid's ([resourceid.Parse],
// [resourceid.Formats]).
//
// A type has instances when a connector may reach many resources of it, each named by an id
// (buckets, clusters, registries); gcp-generic has none: its one resource is the connector's
// project.
//
// The login kind ([Login]) says which credential a mint of the type hands out, and so what
// `gcpconn login` configures: a plain access token ([LoginToken]: an ADC file, any Google
// client), a docker login ([LoginDocker]: the token as the password of a registry host) or a
// kubeconfig ([LoginKubeconfig]: the token plus the cluster's endpoint and CA). Only
// plain-token types may hand out a connector's stored credential JSON instead of a token.
//
// A down-scoped type's tokens carry a Credential Access Boundary naming their one resource
// unless the request disables it (gcs-bucket: Google supports boundaries for Cloud Storage
// only).
package resourcetype

import (
	"slices"

	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// OAuth scopes of minted tokens.
const (
	ScopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	// ScopeUserinfoEmail lets GKE see the caller's email, so RBAC bindings on it match.
	ScopeUserinfoEmail = "https://www.googleapis.com/auth/userinfo.email"
)

// Login is the kind of credential a resource type hands out.
type Login int

// The login kinds.
const (
	LoginToken      Login = iota + 1 // an access token (an ADC file, gcloud, any Google client)
	LoginDocker                      // a token docker sends as the password of a registry host
	LoginKubeconfig                  // a token plus the cluster's endpoint and CA, for kubectl
)

// Info is the record of one resource type.
type Info struct {
	Type        resourceid.Type
	Name        string // the type spec's name: "GCS bucket"
	Noun        string // the plural in messages: "GCS buckets"
	Description string // the type spec's description
	Instances   bool   // many resources, each named by an id; false: the project itself
	// Scopes are the OAuth scopes of a token unless the request names others; Required are
	// added to the scopes a request names (userinfo.email for GKE, whose RBAC matches on it).
	Scopes, Required []string
	// ListPermission is the IAM permission a listing needs, named when a listing is empty.
	ListPermission string
	Login          Login  // which credential a mint hands out
	Downscoped     bool   // tokens carry a Credential Access Boundary by default
	Icon           string // the mark of the type in the CLI's tables
}

// records are the resource types in the order the type spec presents them (resourceid.Types).
var records = []Info{{
	Type: resourceid.GCPGeneric,
	Name: "Generic GCP resource",
	Noun: "GCP projects",
	Description: "The configured project as a whole: a plain cloud-platform token for any Google client " +
		"(Vertex AI, Cloud Build, ...). The resource id is the project id.",
	Scopes:         []string{ScopeCloudPlatform},
	ListPermission: "resourcemanager.projects.get",
	Login:          LoginToken,
	Icon:           "🔵",
}, {
	Type: resourceid.GCSBucket,
	Name: "GCS bucket",
	Noun: "GCS buckets",
	Description: "A Cloud Storage bucket. Tokens are down-scoped to the bucket with a Credential Access " +
		"Boundary by default.",
	Instances:      true,
	Scopes:         []string{ScopeCloudPlatform},
	ListPermission: "storage.buckets.list",
	Login:          LoginToken,
	Downscoped:     true,
	Icon:           "📦",
}, {
	Type:           resourceid.KubernetesCluster,
	Name:           "GKE Kubernetes cluster",
	Noun:           "GKE clusters",
	Description:    "A GKE cluster of the project: a token plus the cluster's endpoint and CA, as a kubeconfig.",
	Instances:      true,
	Scopes:         []string{ScopeCloudPlatform, ScopeUserinfoEmail},
	Required:       []string{ScopeUserinfoEmail},
	ListPermission: "container.clusters.list",
	Login:          LoginKubeconfig,
	Icon:           "🌀",
}, {
	Type: resourceid.DockerRegistry,
	Name: "GAR container registry (including legacy GCR)",
	Noun: "Docker registries",
	Description: "An Artifact Registry Docker repository, or a legacy gcr.io host of the project: a token " +
		"usable as a docker password for user oauth2accesstoken.",
	Instances:      true,
	Scopes:         []string{ScopeCloudPlatform},
	ListPermission: "artifactregistry.repositories.list",
	Login:          LoginDocker,
	Icon:           "🐳",
}}

// All returns the record of every resource type, in the order the type spec presents them.
// The caller may modify the slice but not the records' scope slices.
func All() []Info { return slices.Clone(records) }

// Of returns the record of type t; ok is false for an unknown type.
func Of(t resourceid.Type) (info Info, ok bool) {
	for i := range records {
		if records[i].Type == t {
			return records[i], true
		}
	}
	return Info{}, false
}

// DefaultScopes returns the scopes a token for t gets unless the request names others (nil
// for an unknown type), as a slice the caller may keep.
func DefaultScopes(t resourceid.Type) []string {
	info, _ := Of(t)
	return slices.Clone(info.Scopes)
}
