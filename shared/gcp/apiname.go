package gcp

import "strings"

// apiPrefixes maps what upstream's callers say they were doing (the start of its "what") to
// the Google API that answered, in the short names of googleapis.com hosts. The name is the
// "api" of the upstream_error log event and the label of the upstream error metric, so it
// must stay few and stable; TestAPIOfEveryCall checks that every call in this package maps.
var apiPrefixes = []struct{ prefix, api string }{
	{"JWT-bearer grant", "oauth2"},
	{"refresh grant", "oauth2"},
	{"STS token exchange", "sts"},
	{"down-scope token exchange", "sts"},
	{"metadata server token", "metadata"},
	{"generateAccessToken", "iamcredentials"},
	{"get project", "cloudresourcemanager"},
	{"test permissions on project", "cloudresourcemanager"},
	{"list GCS buckets", "storage"},
	{"test permissions on bucket", "storage"},
	{"get GCS bucket", "storage"},
	{"list GKE clusters", "container"},
	{"get GKE cluster", "container"},
	{"get Artifact Registry", "artifactregistry"},
	{"list Artifact Registry", "artifactregistry"},
	{"create a key", "iam"},
	{"list the keys", "iam"},
	{"delete key", "iam"},
}

// apiOf returns the Google API a call described by what went to, or "other".
func apiOf(what string) string {
	for _, p := range apiPrefixes {
		if strings.HasPrefix(what, p.prefix) {
			return p.api
		}
	}
	return "other"
}
