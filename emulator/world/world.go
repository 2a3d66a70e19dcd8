// Package world is the fake Google Cloud's model of who exists and who may do what.
//
// A World holds projects, service accounts (each with a real RSA key, generated on first
// use), users (with OAuth refresh tokens), workload identity pools, roles, IAM bindings and
// the resources the fake services serve: buckets, GKE clusters and Artifact Registry
// repositories. It is loaded from YAML (JSON is accepted too) or built in with Demo.
//
// Vocabulary:
//   - A member is an IAM principal string: "serviceAccount:EMAIL", "user:EMAIL",
//     "principal://iam.googleapis.com/projects/NUM/locations/global/workloadIdentityPools/POOL/subject/SUB",
//     and, in bindings only, "principalSet://iam.googleapis.com/projects/NUM/locations/global/workloadIdentityPools/POOL/*",
//     "allAuthenticatedUsers" and "allUsers".
//   - A resource is an IAM resource name: "projects/P", "projects/_/buckets/B",
//     "projects/_/buckets/B/objects/O", "projects/P/locations/L/clusters/C",
//     "projects/P/locations/L/repositories/R", "projects/P/serviceAccounts/EMAIL",
//     "projects/P/secrets/S". Full names ("//storage.googleapis.com/projects/_/buckets/B")
//     and project numbers are accepted and normalised.
//   - A role is a named set of permissions. Predefined roles ("roles/owner",
//     "roles/storage.objectAdmin", ...) are built in; World.Roles adds custom ones. A
//     permission pattern may use "*" for one dot-separated segment, and a trailing "*"
//     for the rest ("storage.*").
//   - A binding grants a role to members on a resource; it applies to the resource and
//     everything below it (every resource's ancestor is its project).
//
// A World is safe for concurrent use: fake services may add buckets and bindings while
// others check permissions. Read its exported fields directly only before sharing it;
// afterwards use the methods (View, Update, Find*, Add*).
package world

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gcpconn/gcpconn/emulator/tokens"
)

// World is the state of the fake Google Cloud.
type World struct {
	Projects              []Project           `yaml:"projects" json:"projects"`
	ServiceAccounts       []ServiceAccount    `yaml:"service_accounts" json:"service_accounts"`
	Users                 []User              `yaml:"users" json:"users"`
	WorkloadPools         []WorkloadPool      `yaml:"workload_pools" json:"workload_pools"`
	Roles                 map[string][]string `yaml:"roles" json:"roles,omitempty"`
	Bindings              []Binding           `yaml:"bindings" json:"bindings"`
	Buckets               []Bucket            `yaml:"buckets" json:"buckets"`
	Clusters              []Cluster           `yaml:"clusters" json:"clusters"`
	Repositories          []Repository        `yaml:"repositories" json:"repositories"`
	RuntimeServiceAccount string              `yaml:"runtime_service_account" json:"runtime_service_account"`

	mu     sync.RWMutex
	keys   map[string]*Key   // each account's first key, by email, generated on first use
	saKeys map[string][]*Key // each account's live keys (the first one included), by email
	clock  func() time.Time  // key creation times; time.Now when nil (SetClock)
	warmup time.Duration     // how long new keys take to work (SetKeyWarmup)
}

// Project is a GCP project: its id and its number.
type Project struct {
	ID     string `yaml:"id" json:"id"`
	Number int64  `yaml:"number" json:"number"`
}

// ServiceAccount is a GCP service account. Its RSA key is generated on first use.
type ServiceAccount struct {
	Email       string `yaml:"email" json:"email"`
	Project     string `yaml:"project" json:"project"`
	DisplayName string `yaml:"display_name" json:"display_name,omitempty"`
	Disabled    bool   `yaml:"disabled" json:"disabled,omitempty"`
	// ExtendedLifetime marks the account as listed in the org policy
	// constraints/iam.allowServiceAccountCredentialLifetimeExtension: generateAccessToken
	// may then issue tokens for up to 12 hours instead of 1.
	ExtendedLifetime bool `yaml:"extended_lifetime" json:"extended_lifetime,omitempty"`
}

// User is a Google user account that has authorised an OAuth client.
type User struct {
	Email        string `yaml:"email" json:"email"`
	RefreshToken string `yaml:"refresh_token" json:"-"`
	ClientID     string `yaml:"client_id" json:"client_id"`
	ClientSecret string `yaml:"client_secret" json:"-"`
	// Scopes the refresh token was granted; empty means cloud-platform, userinfo.email
	// and openid.
	Scopes []string `yaml:"scopes" json:"scopes,omitempty"`
}

// WorkloadPool is one provider of a workload identity pool. It trusts the fake's own
// OIDC issuer.
type WorkloadPool struct {
	Project  string `yaml:"project" json:"project"`
	Pool     string `yaml:"pool" json:"pool"`
	Provider string `yaml:"provider" json:"provider"`
	// AllowedAudiences are the JWT audiences the provider accepts besides its default
	// ("//iam.googleapis.com/..." and "https://iam.googleapis.com/..." provider names).
	AllowedAudiences []string `yaml:"allowed_audiences" json:"allowed_audiences,omitempty"`
	// AttributeMapping maps "google.subject" and "attribute.NAME" to claims of the
	// external token ("assertion.CLAIM"). Default: google.subject = assertion.sub.
	// Each mapped attribute makes the identity a member of
	// "principalSet://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/attribute.NAME/VALUE".
	AttributeMapping map[string]string `yaml:"attribute_mapping" json:"attribute_mapping,omitempty"`
	// AttributeCondition, when set, must hold for a token to be accepted (CEL subset over
	// assertion.CLAIM and attribute.NAME), e.g. "assertion.repository_owner == 'zenml-io'".
	AttributeCondition string `yaml:"attribute_condition" json:"attribute_condition,omitempty"`
}

// Binding grants Role to Members on Resource (and everything below it).
type Binding struct {
	Resource string   `yaml:"resource" json:"resource"`
	Role     string   `yaml:"role" json:"role"`
	Members  []string `yaml:"members" json:"members"`
	// Condition, when set, is an IAM condition in the CEL subset of tokens.EvalCondition;
	// the binding applies only to requests where it holds. It sees resource.name (the
	// requested resource, normalised), resource.type and resource.service, for example
	// "resource.name.startsWith('projects/_/buckets/zenml-')".
	Condition string `yaml:"condition" json:"condition,omitempty"`
}

// Bucket is a GCS bucket; Objects maps object names to their contents.
type Bucket struct {
	Name     string            `yaml:"name" json:"name"`
	Project  string            `yaml:"project" json:"project"`
	Location string            `yaml:"location" json:"location"`
	Objects  map[string]string `yaml:"objects" json:"objects,omitempty"`
}

// Cluster is a GKE cluster.
type Cluster struct {
	Name        string `yaml:"name" json:"name"`
	Project     string `yaml:"project" json:"project"`
	Location    string `yaml:"location" json:"location"`
	DNSEndpoint bool   `yaml:"dns_endpoint" json:"dns_endpoint,omitempty"`
}

// Repository is an Artifact Registry repository. Format is DOCKER, MAVEN, NPM or PYTHON.
type Repository struct {
	Name     string `yaml:"name" json:"name"`
	Project  string `yaml:"project" json:"project"`
	Location string `yaml:"location" json:"location"`
	Format   string `yaml:"format" json:"format"`
}

//go:embed demo.yaml
var demoYAML []byte

// DemoYAML returns the text of the built-in demo world, for copying and editing.
func DemoYAML() []byte { return bytes.Clone(demoYAML) }

// Demo returns a fresh copy of the built-in demo world (demo.yaml), which mirrors the
// seed product page: project zenml-core with its buckets, cluster and registries, and
// service accounts with and without access.
func Demo() *World {
	w, err := Parse(demoYAML)
	if err != nil {
		// demo.yaml is embedded and covered by tests; failing here is a build defect.
		panic("world: embedded demo.yaml is invalid: " + err.Error())
	}
	return w
}

// Load reads and validates a world file (YAML or JSON).
func Load(path string) (*World, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read world: %w", err)
	}
	w, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("world %s: %w", path, err)
	}
	return w, nil
}

// Parse decodes and validates a world document (YAML or JSON).
func Parse(b []byte) (*World, error) {
	w := &World{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(w); err != nil {
		return nil, fmt.Errorf("parse world: %w", err)
	}
	if err := w.normalize(); err != nil {
		return nil, err
	}
	return w, nil
}

var (
	projectIDRE = regexp.MustCompile(`^[a-z]([a-z0-9.:-]*[a-z0-9])?$`)
	saEmailRE   = regexp.MustCompile(`^[a-z0-9-]+@([a-z](?:[a-z0-9-]*[a-z0-9])?)\.iam\.gserviceaccount\.com$`)
)

// normalize fills defaults and validates references. Called before the world is shared.
func (w *World) normalize() error {
	seenProject, seenSA, errs := w.normalizePrincipals()
	errs = append(errs, w.normalizeResources(seenProject, seenSA)...)
	return errors.Join(errs...)
}

// normalizePrincipals checks projects, service accounts, users and workload pools, and
// returns the project ids and service-account emails it found for the resources' checks.
func (w *World) normalizePrincipals() (seenProject, seenSA map[string]bool, errs []error) {
	seenProject = map[string]bool{}
	for i := range w.Projects {
		p := &w.Projects[i]
		if !projectIDRE.MatchString(p.ID) {
			errs = append(errs, fmt.Errorf("project %q: invalid id", p.ID))
			continue
		}
		if seenProject[p.ID] {
			errs = append(errs, fmt.Errorf("project %q: duplicate", p.ID))
		}
		seenProject[p.ID] = true
		if p.Number == 0 {
			p.Number = derivedNumber(p.ID)
		}
	}
	seenSA = map[string]bool{}
	for i := range w.ServiceAccounts {
		sa := &w.ServiceAccounts[i]
		sa.Email = strings.ToLower(sa.Email)
		if sa.Project == "" {
			if m := saEmailRE.FindStringSubmatch(sa.Email); m != nil {
				sa.Project = m[1]
			}
		}
		if !strings.Contains(sa.Email, "@") {
			errs = append(errs, fmt.Errorf("service account %q: invalid email", sa.Email))
		}
		if !seenProject[sa.Project] {
			errs = append(errs, fmt.Errorf("service account %q: unknown project %q", sa.Email, sa.Project))
		}
		if seenSA[sa.Email] {
			errs = append(errs, fmt.Errorf("service account %q: duplicate", sa.Email))
		}
		seenSA[sa.Email] = true
	}
	for i := range w.Users {
		u := &w.Users[i]
		u.Email = strings.ToLower(u.Email)
		if !strings.Contains(u.Email, "@") {
			errs = append(errs, fmt.Errorf("user %q: invalid email", u.Email))
		}
		if u.RefreshToken == "" || u.ClientID == "" || u.ClientSecret == "" {
			errs = append(errs, fmt.Errorf("user %q: refresh_token, client_id and client_secret are required", u.Email))
		}
	}
	for _, p := range w.WorkloadPools {
		if !seenProject[p.Project] || p.Pool == "" || p.Provider == "" {
			errs = append(errs, fmt.Errorf("workload pool %q/%q: needs a known project, a pool and a provider", p.Pool, p.Provider))
		}
		for k, v := range p.AttributeMapping {
			if (k != "google.subject" && !strings.HasPrefix(k, "attribute.")) || !strings.HasPrefix(v, "assertion.") {
				errs = append(errs, fmt.Errorf("workload pool %q/%q: attribute_mapping %q: %q: want google.subject or attribute.NAME mapped to assertion.CLAIM", p.Pool, p.Provider, k, v))
			}
		}
		if _, err := tokens.EvalCondition(p.AttributeCondition, tokens.Attributes{}); err != nil {
			errs = append(errs, fmt.Errorf("workload pool %q/%q: attribute_condition: %w", p.Pool, p.Provider, err))
		}
	}
	return seenProject, seenSA, errs
}

// normalizeResources checks roles, buckets, clusters, repositories, bindings and the runtime
// service account against the principals normalizePrincipals found.
func (w *World) normalizeResources(seenProject, seenSA map[string]bool) []error {
	var errs []error
	for name, perms := range w.Roles {
		if _, ok := predefinedRoles[name]; ok {
			errs = append(errs, fmt.Errorf("role %q: redefines a predefined role", name))
		}
		if len(perms) == 0 {
			errs = append(errs, fmt.Errorf("role %q: no permissions", name))
		}
	}
	for i := range w.Buckets {
		b := &w.Buckets[i]
		if !seenProject[b.Project] || b.Name == "" {
			errs = append(errs, fmt.Errorf("bucket %q: needs a name and a known project", b.Name))
		}
		if b.Location == "" {
			b.Location = "US"
		}
	}
	for _, c := range w.Clusters {
		if !seenProject[c.Project] || c.Name == "" || c.Location == "" {
			errs = append(errs, fmt.Errorf("cluster %q: needs a name, a location and a known project", c.Name))
		}
	}
	for i := range w.Repositories {
		r := &w.Repositories[i]
		r.Format = strings.ToUpper(r.Format)
		if r.Format == "" {
			r.Format = "DOCKER"
		}
		if !seenProject[r.Project] || r.Name == "" || r.Location == "" {
			errs = append(errs, fmt.Errorf("repository %q: needs a name, a location and a known project", r.Name))
		}
	}
	for i := range w.Bindings {
		b := &w.Bindings[i]
		if err := w.checkBindingLocked(b); err != nil {
			errs = append(errs, err)
		}
	}
	w.RuntimeServiceAccount = strings.ToLower(w.RuntimeServiceAccount)
	if w.RuntimeServiceAccount != "" && !seenSA[w.RuntimeServiceAccount] {
		errs = append(errs, fmt.Errorf("runtime_service_account %q: not a service account of this world", w.RuntimeServiceAccount))
	}
	return errs
}

// checkBindingLocked validates a binding and normalises its resource. Callers hold mu
// (or own the world exclusively).
func (w *World) checkBindingLocked(b *Binding) error {
	if _, ok := w.rolePermissionsLocked(b.Role); !ok {
		return fmt.Errorf("binding on %q: unknown role %q", b.Resource, b.Role)
	}
	res := w.normalizeResourceLocked(b.Resource)
	if !strings.HasPrefix(res, "projects/") {
		return fmt.Errorf("binding with role %q: invalid resource %q", b.Role, b.Resource)
	}
	b.Resource = res
	if len(b.Members) == 0 {
		return fmt.Errorf("binding on %q: no members", b.Resource)
	}
	for _, m := range b.Members {
		if !validMember(m) {
			return fmt.Errorf("binding on %q: invalid member %q", b.Resource, m)
		}
	}
	if _, err := tokens.EvalCondition(b.Condition, tokens.Attributes{}); err != nil {
		return fmt.Errorf("binding on %q: %w", b.Resource, err)
	}
	return nil
}

func validMember(m string) bool {
	switch {
	case m == "allUsers", m == "allAuthenticatedUsers":
		return true
	case strings.HasPrefix(m, "serviceAccount:"), strings.HasPrefix(m, "user:"),
		strings.HasPrefix(m, "group:"), strings.HasPrefix(m, "domain:"):
		return strings.Contains(m, ":") && len(m) > strings.Index(m, ":")+1
	case strings.HasPrefix(m, "principal://iam.googleapis.com/"), strings.HasPrefix(m, "principalSet://iam.googleapis.com/"):
		return true
	}
	return false
}

// derivedNumber gives a project without a number a stable 12-digit one.
func derivedNumber(id string) int64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return int64(100000000000 + h%899999999999)
}

// View runs fn with the world locked for reading. fn must not call other World methods.
func (w *World) View(fn func(w *World)) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	fn(w)
}

// Update runs fn with the world locked for writing. fn must not call other World methods.
func (w *World) Update(fn func(w *World)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fn(w)
}

// FindProject returns the project with the given id or number.
func (w *World) FindProject(idOrNumber string) (Project, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.findProjectLocked(idOrNumber)
}

func (w *World) findProjectLocked(idOrNumber string) (Project, bool) {
	n, numErr := strconv.ParseInt(idOrNumber, 10, 64)
	return find(w.Projects, func(p Project) bool { return p.ID == idOrNumber || (numErr == nil && p.Number == n) })
}

// FindServiceAccount returns the service account with the given email or numeric
// unique id (see UniqueID).
func (w *World) FindServiceAccount(email string) (ServiceAccount, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.findServiceAccountLocked(email)
}

func (w *World) findServiceAccountLocked(email string) (ServiceAccount, bool) {
	email = strings.ToLower(email)
	byID := email != "" && strings.Trim(email, "0123456789") == ""
	return find(w.ServiceAccounts, func(sa ServiceAccount) bool { return sa.Email == email || (byID && UniqueID(sa.Email) == email) })
}

// FindUser returns the user with the given email.
func (w *World) FindUser(email string) (User, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	email = strings.ToLower(email)
	return find(w.Users, func(u User) bool { return u.Email == email })
}

// FindUserByRefreshToken returns the user whose refresh token this is.
func (w *World) FindUserByRefreshToken(refreshToken string) (User, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return find(w.Users, func(u User) bool { return u.RefreshToken == refreshToken })
}

// FindWorkloadPool returns the provider named by project (id or number), pool and provider.
func (w *World) FindWorkloadPool(project, pool, provider string) (WorkloadPool, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	p, ok := w.findProjectLocked(project)
	if !ok {
		return WorkloadPool{}, false
	}
	return find(w.WorkloadPools, func(wp WorkloadPool) bool { return wp.Project == p.ID && wp.Pool == pool && wp.Provider == provider })
}

// FindBucket returns the bucket with the given name.
func (w *World) FindBucket(name string) (Bucket, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.findBucketLocked(name)
}

func (w *World) findBucketLocked(name string) (Bucket, bool) {
	return find(w.Buckets, func(b Bucket) bool { return b.Name == name })
}

// BucketsIn returns the buckets of a project (all buckets when project is empty).
func (w *World) BucketsIn(project string) []Bucket {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return filter(w.Buckets, func(b Bucket) bool { return project == "" || b.Project == project })
}

// ClustersIn returns the clusters of a project in a location ("" or "-" for all).
func (w *World) ClustersIn(project, location string) []Cluster {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return filter(w.Clusters, func(c Cluster) bool { return c.Project == project && inLocation(location, c.Location) })
}

// RepositoriesIn returns the repositories of a project in a location ("" or "-" for all).
func (w *World) RepositoriesIn(project, location string) []Repository {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return filter(w.Repositories, func(r Repository) bool { return r.Project == project && inLocation(location, r.Location) })
}

// find returns the first of items that ok admits.
func find[T any](items []T, ok func(T) bool) (T, bool) {
	if i := slices.IndexFunc(items, ok); i >= 0 {
		return items[i], true
	}
	var zero T
	return zero, false
}

// filter returns the items that ok admits.
func filter[T any](items []T, ok func(T) bool) []T {
	var out []T
	for _, it := range items {
		if ok(it) {
			out = append(out, it)
		}
	}
	return out
}

// inLocation reports whether a resource in location got is listed for location want ("" or
// "-" for every location).
func inLocation(want, got string) bool { return want == "" || want == "-" || got == want }

// AddBucket adds a bucket at run time.
func (w *World) AddBucket(b Bucket) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.findProjectLocked(b.Project); !ok || b.Name == "" {
		return fmt.Errorf("add bucket %q: needs a name and a known project", b.Name)
	}
	if _, ok := w.findBucketLocked(b.Name); ok {
		return fmt.Errorf("add bucket %q: already exists", b.Name)
	}
	if b.Location == "" {
		b.Location = "US"
	}
	w.Buckets = append(w.Buckets, b)
	return nil
}

// RemoveBucket removes a bucket at run time; it reports whether the bucket existed.
func (w *World) RemoveBucket(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, b := range w.Buckets {
		if b.Name == name {
			w.Buckets = append(w.Buckets[:i], w.Buckets[i+1:]...)
			return true
		}
	}
	return false
}

// AddBinding grants a role at run time.
func (w *World) AddBinding(b Binding) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b.Members = append([]string(nil), b.Members...)
	if err := w.checkBindingLocked(&b); err != nil {
		return fmt.Errorf("add binding: %w", err)
	}
	w.Bindings = append(w.Bindings, b)
	return nil
}

// RemoveMember removes member from every binding of role on resource; it reports
// whether anything changed.
func (w *World) RemoveMember(resource, role, member string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	resource = w.normalizeResourceLocked(resource)
	changed := false
	kept := w.Bindings[:0]
	for _, b := range w.Bindings {
		if b.Resource == resource && b.Role == role {
			var ms []string
			for _, m := range b.Members {
				if m == member {
					changed = true
					continue
				}
				ms = append(ms, m)
			}
			b.Members = ms
			if len(ms) == 0 {
				continue
			}
		}
		kept = append(kept, b)
	}
	w.Bindings = kept
	return changed
}

// SetServiceAccountDisabled disables or enables a service account at run time.
func (w *World) SetServiceAccountDisabled(email string, disabled bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	email = strings.ToLower(email)
	for i := range w.ServiceAccounts {
		if w.ServiceAccounts[i].Email == email {
			w.ServiceAccounts[i].Disabled = disabled
			return true
		}
	}
	return false
}

// MemberForEmail returns the IAM member for an account email: "serviceAccount:" for
// service accounts (of this world, or any *.gserviceaccount.com address), "user:" otherwise.
func (w *World) MemberForEmail(email string) string {
	email = strings.ToLower(email)
	if _, ok := w.FindServiceAccount(email); ok || strings.HasSuffix(email, ".gserviceaccount.com") {
		return "serviceAccount:" + email
	}
	return "user:" + email
}

// ServiceAccountResource returns the IAM resource name of a service account of this world.
func (w *World) ServiceAccountResource(email string) (string, bool) {
	sa, ok := w.FindServiceAccount(email)
	if !ok {
		return "", false
	}
	return "projects/" + sa.Project + "/serviceAccounts/" + sa.Email, true
}
