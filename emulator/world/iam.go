package world

import (
	"sort"
	"strings"

	"github.com/gcpconn/gcpconn/emulator/tokens"
)

// predefinedRoles are the Google predefined roles the fake knows, reduced to the
// permissions the fake services check (plus their obvious siblings).
var predefinedRoles = map[string][]string{
	"roles/owner":  {"*"},
	"roles/editor": {"storage.*", "container.*", "artifactregistry.*", "secretmanager.*", "pubsub.*", "datastore.*", "resourcemanager.projects.get", "resourcemanager.projects.list", "iam.serviceAccounts.get", "iam.serviceAccounts.list", "iam.serviceAccounts.actAs"},
	"roles/viewer": {"*.*.get", "*.*.list", "resourcemanager.projects.get"},
	"roles/browser": {
		"resourcemanager.projects.get", "resourcemanager.projects.list",
	},
	"roles/storage.admin":       {"storage.*", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/storage.objectAdmin": {"storage.objects.*", "storage.folders.*", "storage.managedFolders.*", "storage.multipartUploads.*", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/storage.objectUser": {
		"storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list", "storage.objects.update", "storage.objects.restore",
		"storage.multipartUploads.*", "storage.folders.*", "storage.managedFolders.*", "resourcemanager.projects.get", "resourcemanager.projects.list",
	},
	"roles/storage.objectCreator": {"storage.objects.create", "storage.multipartUploads.create", "storage.multipartUploads.abort", "storage.multipartUploads.listParts", "storage.folders.create", "storage.managedFolders.create"},
	"roles/storage.objectViewer": {
		"storage.objects.get", "storage.objects.list", "storage.folders.get", "storage.folders.list",
		"storage.managedFolders.get", "storage.managedFolders.list", "resourcemanager.projects.get", "resourcemanager.projects.list",
	},
	"roles/storage.bucketViewer":                 {"storage.buckets.get", "storage.buckets.list", "storage.buckets.getIamPolicy"},
	"roles/storage.legacyBucketReader":           {"storage.buckets.get", "storage.objects.list"},
	"roles/storage.legacyBucketWriter":           {"storage.buckets.get", "storage.objects.list", "storage.objects.create", "storage.objects.delete", "storage.multipartUploads.*"},
	"roles/storage.legacyBucketOwner":            {"storage.buckets.get", "storage.buckets.update", "storage.buckets.getIamPolicy", "storage.buckets.setIamPolicy", "storage.objects.list", "storage.objects.create", "storage.objects.delete", "storage.multipartUploads.*"},
	"roles/storage.legacyObjectReader":           {"storage.objects.get"},
	"roles/container.admin":                      {"container.*", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/container.clusterViewer":              {"container.clusters.get", "container.clusters.list"},
	"roles/container.viewer":                     {"container.*.get", "container.*.list", "container.clusters.getCredentials", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/container.developer":                  {"container.clusters.get", "container.clusters.list", "container.clusters.getCredentials", "container.namespaces.*", "container.pods.*", "container.deployments.*", "container.services.*", "container.configMaps.*", "container.secrets.*", "container.jobs.*", "container.replicaSets.*", "container.statefulSets.*", "container.events.*", "container.thirdPartyObjects.*", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/artifactregistry.reader":              {"artifactregistry.repositories.get", "artifactregistry.repositories.list", "artifactregistry.repositories.downloadArtifacts", "artifactregistry.repositories.readViaVirtualRepository", "artifactregistry.repositories.listEffectiveTags", "artifactregistry.*.get", "artifactregistry.*.list", "artifactregistry.locations.get", "artifactregistry.locations.list"},
	"roles/artifactregistry.writer":              {"artifactregistry.repositories.get", "artifactregistry.repositories.list", "artifactregistry.repositories.downloadArtifacts", "artifactregistry.repositories.uploadArtifacts", "artifactregistry.repositories.readViaVirtualRepository", "artifactregistry.*.get", "artifactregistry.*.list", "artifactregistry.tags.create", "artifactregistry.tags.update", "artifactregistry.locations.get", "artifactregistry.locations.list"},
	"roles/artifactregistry.createOnPushWriter":  {"artifactregistry.repositories.get", "artifactregistry.repositories.list", "artifactregistry.repositories.downloadArtifacts", "artifactregistry.repositories.uploadArtifacts", "artifactregistry.repositories.createOnPush", "artifactregistry.*.get", "artifactregistry.*.list", "artifactregistry.tags.create", "artifactregistry.tags.update", "artifactregistry.locations.get", "artifactregistry.locations.list"},
	"roles/artifactregistry.repoAdmin":           {"artifactregistry.repositories.*", "artifactregistry.*.get", "artifactregistry.*.list", "artifactregistry.tags.*", "artifactregistry.versions.*", "artifactregistry.locations.get", "artifactregistry.locations.list"},
	"roles/artifactregistry.admin":               {"artifactregistry.*", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/iam.serviceAccountTokenCreator":       {"iam.serviceAccounts.get", "iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken", "iam.serviceAccounts.implicitDelegation", "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/iam.serviceAccountOpenIdTokenCreator": {"iam.serviceAccounts.getOpenIdToken"},
	"roles/iam.serviceAccountKeyAdmin":           {"iam.serviceAccountKeys.*", "iam.serviceAccounts.get", "iam.serviceAccounts.list", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/iam.serviceAccountUser":               {"iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/iam.workloadIdentityUser":             {"iam.serviceAccounts.get", "iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken", "iam.serviceAccounts.list"},
	"roles/secretmanager.admin":                  {"secretmanager.*", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/secretmanager.secretAccessor":         {"secretmanager.versions.access"},
	"roles/secretmanager.secretVersionAdder":     {"secretmanager.versions.add"},
	"roles/secretmanager.secretVersionManager":   {"secretmanager.versions.add", "secretmanager.versions.enable", "secretmanager.versions.disable", "secretmanager.versions.destroy", "secretmanager.versions.get", "secretmanager.versions.list", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/secretmanager.viewer":                 {"secretmanager.secrets.get", "secretmanager.secrets.list", "secretmanager.versions.get", "secretmanager.versions.list", "secretmanager.locations.get", "secretmanager.locations.list", "secretmanager.secrets.getIamPolicy", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/pubsub.publisher":                     {"pubsub.topics.publish"},
	"roles/pubsub.subscriber":                    {"pubsub.subscriptions.consume", "pubsub.topics.attachSubscription"},
	"roles/pubsub.admin":                         {"pubsub.*"},
	"roles/datastore.user":                       {"datastore.*", "resourcemanager.projects.get", "resourcemanager.projects.list"},
	"roles/run.invoker":                          {"run.routes.invoke", "run.jobs.run"},
	"roles/cloudfunctions.invoker":               {"cloudfunctions.functions.invoke"},
}

// PredefinedRoles lists the names of the built-in roles, sorted.
func PredefinedRoles() []string {
	names := make([]string, 0, len(predefinedRoles))
	for n := range predefinedRoles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// RolePermissions returns the permission patterns of a predefined or custom role.
func (w *World) RolePermissions(role string) ([]string, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.rolePermissionsLocked(role)
}

func (w *World) rolePermissionsLocked(role string) ([]string, bool) {
	if p, ok := predefinedRoles[role]; ok {
		return p, true
	}
	p, ok := w.Roles[role]
	return p, ok
}

// RoleGrants reports whether role includes permission.
func (w *World) RoleGrants(role, permission string) bool {
	perms, ok := w.RolePermissions(role)
	return ok && anyMatch(perms, permission)
}

func anyMatch(patterns []string, permission string) bool {
	for _, p := range patterns {
		if PermissionMatches(p, permission) {
			return true
		}
	}
	return false
}

// PermissionMatches reports whether a role's permission pattern covers permission. "*"
// matches one dot-separated segment; a trailing "*" segment matches one or more.
func PermissionMatches(pattern, permission string) bool {
	ps := strings.Split(pattern, ".")
	xs := strings.Split(permission, ".")
	for i, p := range ps {
		if i == len(ps)-1 && p == "*" {
			return len(xs) > i
		}
		if i >= len(xs) || (p != "*" && p != xs[i]) {
			return false
		}
	}
	return len(ps) == len(xs)
}

// NormalizeResource turns a resource name into the canonical form bindings use:
// the "//service.googleapis.com/" prefix is dropped, project numbers become ids and
// "projects/-/serviceAccounts/EMAIL" names the account's own project.
func (w *World) NormalizeResource(resource string) string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.normalizeResourceLocked(resource)
}

func (w *World) normalizeResourceLocked(resource string) string {
	if strings.HasPrefix(resource, "//") {
		if i := strings.Index(resource[2:], "/"); i >= 0 {
			resource = resource[2+i+1:]
		}
	}
	resource = strings.TrimSuffix(resource, "/")
	parts := strings.Split(resource, "/")
	if len(parts) < 2 || parts[0] != "projects" {
		return resource
	}
	switch {
	case parts[1] == "-" && len(parts) >= 4 && parts[2] == "serviceAccounts":
		if sa, ok := w.findServiceAccountLocked(parts[3]); ok {
			parts[1] = sa.Project
		}
	case parts[1] != "_" && parts[1] != "-":
		if p, ok := w.findProjectLocked(parts[1]); ok {
			parts[1] = p.ID
		}
	}
	if len(parts) >= 4 && parts[2] == "serviceAccounts" {
		parts[3] = strings.ToLower(parts[3])
	}
	return strings.Join(parts, "/")
}

// ancestorsLocked returns resource and its ancestors, nearest first. A bucket's parent
// is its project; everything else under "projects/P/" has "projects/P" as an ancestor.
func (w *World) ancestorsLocked(resource string) []string {
	resource = w.normalizeResourceLocked(resource)
	chain := []string{resource}
	parts := strings.Split(resource, "/")
	if len(parts) < 2 || parts[0] != "projects" {
		return chain
	}
	if parts[1] == "_" {
		// projects/_/buckets/B[/objects/O...]
		if len(parts) >= 4 && parts[2] == "buckets" {
			bucket := strings.Join(parts[:4], "/")
			if bucket != resource {
				chain = append(chain, bucket)
			}
			if b, ok := w.findBucketLocked(parts[3]); ok {
				chain = append(chain, "projects/"+b.Project)
			}
		}
		return chain
	}
	// projects/P/a/x/b/y: add projects/P/a/x and projects/P.
	for n := len(parts) - 2; n >= 2; n -= 2 {
		chain = append(chain, strings.Join(parts[:n], "/"))
	}
	return chain
}

// Allowed reports whether member holds permission on resource through a binding on the
// resource or one of its ancestors. Disabled service accounts hold nothing.
func (w *World) Allowed(member, permission, resource string) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if email, ok := strings.CutPrefix(member, "serviceAccount:"); ok {
		if sa, found := w.findServiceAccountLocked(email); found && sa.Disabled {
			return false
		}
	}
	chain := w.ancestorsLocked(resource)
	var attrs tokens.Attributes
	for _, res := range chain {
		for _, b := range w.Bindings {
			if b.Resource != res || !memberIn(member, b.Members) {
				continue
			}
			perms, ok := w.rolePermissionsLocked(b.Role)
			if !ok || !anyMatch(perms, permission) {
				continue
			}
			if b.Condition != "" {
				if attrs == nil {
					attrs = conditionAttributes(chain[0], permission)
				}
				if ok, err := tokens.EvalCondition(b.Condition, attrs); err != nil || !ok {
					continue
				}
			}
			return true
		}
	}
	return false
}

// conditionAttributes are what an IAM condition sees of a request.
func conditionAttributes(resource, permission string) tokens.Attributes {
	service, _, _ := strings.Cut(permission, ".")
	a := tokens.Attributes{"resource.name": resource, "resource.service": service + ".googleapis.com"}
	parts := strings.Split(resource, "/")
	switch {
	case len(parts) >= 6 && parts[2] == "buckets" && parts[4] == "objects":
		a["resource.type"] = "storage.googleapis.com/Object"
	case len(parts) == 4 && parts[2] == "buckets":
		a["resource.type"] = "storage.googleapis.com/Bucket"
	case len(parts) == 2:
		a["resource.type"] = "cloudresourcemanager.googleapis.com/Project"
	case len(parts) == 6 && parts[4] == "clusters":
		a["resource.type"] = "container.googleapis.com/Cluster"
	case len(parts) == 6 && parts[4] == "repositories":
		a["resource.type"] = "artifactregistry.googleapis.com/Repository"
	case len(parts) == 4 && parts[2] == "secrets":
		a["resource.type"] = "secretmanager.googleapis.com/Secret"
	case len(parts) == 4 && parts[2] == "serviceAccounts":
		a["resource.type"] = "iam.googleapis.com/ServiceAccount"
	}
	return a
}

// memberIn reports whether member is one of the binding members, directly or through a
// principalSet (a whole workload identity pool), allAuthenticatedUsers or allUsers.
func memberIn(member string, members []string) bool {
	for _, m := range members {
		switch {
		case strings.EqualFold(m, member):
			return true
		case m == "allUsers":
			return true
		case m == "allAuthenticatedUsers" && member != "":
			return true
		case strings.HasPrefix(m, "principalSet://") && strings.HasSuffix(m, "/*"):
			pool := strings.TrimSuffix(strings.TrimPrefix(m, "principalSet://"), "*")
			if strings.HasPrefix(member, "principal://"+pool+"subject/") {
				return true
			}
		case strings.HasPrefix(m, "domain:"):
			if at := strings.LastIndex(member, "@"); at >= 0 && strings.EqualFold(member[at+1:], m[len("domain:"):]) {
				return true
			}
		}
	}
	return false
}
