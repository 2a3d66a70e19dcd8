// Package resourceid parses the resource ids of gcpconn: which Google Cloud resource a
// credential is for, written in any of the spellings users copy from consoles, gcloud and
// kubeconfigs, reduced to one canonical form.
//
// # Vocabulary
//
// A resource [Type] names a kind of Google Cloud resource: [GCPGeneric] (a project),
// [GCSBucket] (a Cloud Storage bucket), [KubernetesCluster] (a GKE cluster) and
// [DockerRegistry] (an Artifact Registry repository or a legacy Container Registry host).
// [Types] lists them; this package has each one's spellings, parser and canonical form.
// Package resourcetype keeps the other facts of each type, one record per type.
//
// A resource id names one resource of a type. [Parse] accepts every spelling listed on [ID]
// and checks Google's naming rules; [ID.String] is the canonical form that gcpconn stores,
// lists and compares. [Canonical] adds the project scope: the id must lie in the connector's
// project. [MatchCluster] resolves a bare cluster name against the clusters a project lists.
//
// A refusal is an [*Error]: the request field at fault (resource_id or resource_type) and a
// message safe to show the caller that names the type, quotes the input (cut and escaped) and
// lists the accepted formats. The package knows nothing of HTTP or of the connector core;
// the core (shared/connector) reads an [*Error] as invalid input, or as "not found upstream"
// when [Error.Unmatched] is set.
package resourceid

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/gcpconn/gcpconn/shared/internal/input"
)

// Type names a kind of Google Cloud resource a connector gives access to.
type Type string

// The resource types.
const (
	GCPGeneric        Type = "gcp-generic"        // a project; the id is the project id
	GCSBucket         Type = "gcs-bucket"         // a Cloud Storage bucket: gs://name
	KubernetesCluster Type = "kubernetes-cluster" // a GKE cluster: location/name
	DockerRegistry    Type = "docker-registry"    // an Artifact Registry repository or GCR host
)

// Types lists every resource type in the order the type spec presents them.
var Types = []Type{GCPGeneric, GCSBucket, KubernetesCluster, DockerRegistry}

// Error is a refused resource id or type. Its message is safe to show the caller.
type Error struct {
	Field   string // the request field at fault: resource_id or resource_type
	Message string
	// Unmatched is set by MatchCluster when the id is valid but names no listed cluster.
	Unmatched bool
}

func (e *Error) Error() string { return e.Message }

// fieldErrorf builds an *Error for field with a formatted message.
func fieldErrorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// MaxLen bounds the length of a resource id in any spelling, in bytes.
const MaxLen = 1024

// ID is one parsed resource id. Every resource type accepts several spellings of an
// id; Parse reduces any of them to an ID whose String is the canonical form,
// the one gcpconn stores, lists and compares:
//
//	gcp-generic         my-project                    also projects/my-project
//	gcs-bucket          gs://my-bucket                also my-bucket, gs://my-bucket/any/path
//	kubernetes-cluster  us-east1/my-cluster           also projects/P/locations/L/clusters/N,
//	                                                  its self-link, gke_P_L_N (a kubeconfig context)
//	                    my-cluster                    a bare name, resolved later with MatchCluster
//	docker-registry     europe-docker.pkg.dev/P/repo  also with https:// or an image path, and
//	                                                  projects/P/locations/L/repositories/R
//	                    eu.gcr.io/P                   legacy GCR hosts: gcr.io, us., eu., asia.gcr.io
//
// The gcr.io-domain repositories, the Artifact Registry repositories named gcr.io, us.gcr.io
// (both in us), eu.gcr.io (europe) and asia.gcr.io (asia) that serve the legacy hosts, have
// two ids, as Google has two addresses for them: the legacy host form (gcr.io/P) and the
// Artifact Registry form (us-docker.pkg.dev/P/gcr.io, the canonical form of their resource
// name projects/P/locations/us/repositories/gcr.io). Both name the same repository
// (RepositoryName) but different docker hosts (RegistryHost).
//
// Domain-scoped projects are spelled example.com:proj in project ids and resource names and
// example.com/proj in registry URIs.
//
// Which fields are set depends on Type:
//
//   - gcp-generic: Project.
//   - gcs-bucket: Name (the bucket); Path is the object path that followed gs://name/, if any.
//     Buckets are global, so there is no Project: a bucket's project is only known to Google.
//   - kubernetes-cluster: Name, and Location when the id named one (a region such as us-east1
//     or a zone such as us-east1-b). Project is set only when the id spelled it out (a full
//     resource name or self-link); the canonical form leaves it out, because the connector's
//     project scopes every cluster.
//   - docker-registry: Host (the docker login host), Project (resource-name form,
//     example.com:proj for domain-scoped projects), Location (a region or the multi-region us,
//     europe or asia) and Name (the repository id; for legacy GCR hosts the Artifact Registry
//     repository that serves the host, such as "gcr.io" or "eu.gcr.io"). Path is the image path
//     that followed the repository, if any.
//
// Path is never part of the canonical form: it records what the canonical form dropped.
type ID struct {
	Type     Type
	Project  string
	Location string
	Name     string
	Host     string
	Path     string
}

// String returns the canonical form of r. The zero ID yields "".
func (r ID) String() string {
	if f, ok := idFormats[r.Type]; ok {
		return f.canonical(r)
	}
	return ""
}

// Canonical returns r without the parts its canonical form drops (Path, and a cluster's
// Project): the ID that parsing r.String() yields.
func (r ID) Canonical() ID {
	r.Path = ""
	if r.Type == KubernetesCluster {
		r.Project = ""
	}
	return r
}

// IsGCR reports whether r is a docker-registry id on a legacy Container Registry host
// (gcr.io, us.gcr.io, eu.gcr.io, asia.gcr.io).
func (r ID) IsGCR() bool { return r.Type == DockerRegistry && isGCRHost(r.Host) }

// LegacyGCR returns the legacy host spelling (gcr.io/P) of a docker-registry id in the
// Artifact Registry spelling of a gcr.io-domain repository (us-docker.pkg.dev/P/gcr.io): the
// same repository behind the host docker uses for Container Registry images. ok is false for
// every other id, the legacy spelling itself included.
func (r ID) LegacyGCR() (legacy ID, ok bool) {
	if r.Type != DockerRegistry || isGCRHost(r.Host) || !isGCRHost(r.Name) {
		return ID{}, false
	}
	return ID{Type: DockerRegistry, Host: r.Name, Project: r.Project, Location: r.Location, Name: r.Name}, true
}

// RegistryHost returns the host that `docker login` and docker credential helpers use for a
// docker-registry id (europe-west1-docker.pkg.dev, gcr.io, eu.gcr.io, ...); "" for other types.
func (r ID) RegistryHost() string {
	if r.Type != DockerRegistry {
		return ""
	}
	return r.Host
}

// RepositoryName returns the Artifact Registry resource name of a docker-registry id:
// projects/P/locations/L/repositories/R. For a legacy GCR host it names the gcr.io-domain
// repository that Artifact Registry serves the host from (projects/P/locations/us/repositories/gcr.io);
// that repository exists only once the project has moved from Container Registry. It returns
// "" for other types.
func (r ID) RepositoryName() string {
	if r.Type != DockerRegistry {
		return ""
	}
	return "projects/" + r.Project + "/locations/" + r.Location + "/repositories/" + r.Name
}

// ClusterName returns the GKE resource name of a kubernetes-cluster id in project (the
// connector's project, used when the id did not name one): projects/P/locations/L/clusters/N.
// It returns "" when the id has no location (a bare name; see MatchCluster) or is of another
// type.
func (r ID) ClusterName(project string) string {
	if r.Type != KubernetesCluster || r.Location == "" {
		return ""
	}
	if r.Project != "" {
		project = r.Project
	}
	return "projects/" + project + "/locations/" + r.Location + "/clusters/" + r.Name
}

// Parse parses s, any accepted spelling of a resource id of type rt. It checks syntax
// and Google's naming rules only; Canonical adds the connector's project scope. Errors
// are *Error for the field resource_id (resource_type for an unknown type); they name the
// type, quote the input and list the accepted formats.
func Parse(rt Type, s string) (ID, error) {
	f, ok := idFormats[rt]
	if !ok {
		return ID{}, fieldErrorf("resource_type", "unknown resource type %s; known types: %s",
			input.Quote(string(rt)), joinTypes(Types))
	}
	if s == "" {
		return ID{}, f.errorf(s, "the resource id is empty")
	}
	if len(s) > MaxLen {
		return ID{}, f.errorf(s, "the resource id is longer than %d bytes", MaxLen)
	}
	r, err := f.parse(s)
	if err != nil {
		return ID{}, f.errorf(s, "%v", err)
	}
	return r, nil
}

// Canonical parses s as a resource id of type rt, checks that it lies in project (the
// connector's project id), and returns its canonical form. The project check applies to
// gcp-generic (the id must be the project), docker-registry (the registry's project) and
// kubernetes-cluster ids that name a project. Bucket names are global and carry no project, so
// a gcs-bucket id is checked against the project only when a single bucket is verified, and
// only where the credentials can read the bucket's project (the Google adapter compares
// project numbers); the bucket's own IAM guards it otherwise. An empty project skips the
// check.
//
// A warm mint asks for the same few ids again and again, so the last accepted ones are
// remembered (canonicalSlots, direct-mapped by a hash of the input) rather than parsed again.
func Canonical(rt Type, s, project string) (string, error) {
	slot := &canonicals[canonicalHash(rt, s, project)%canonicalSlots]
	if m := slot.Load(); m != nil && m.rt == rt && m.s == s && m.project == project {
		return m.canonical, nil
	}
	r, err := Parse(rt, s)
	if err != nil {
		return "", err
	}
	if project == "" || r.Project == "" || r.Project == project {
		c := r.String()
		slot.Store(&canonicalMemo{rt: rt, s: s, project: project, canonical: c})
		return c, nil
	}
	if rt == GCPGeneric {
		return "", fieldErrorf("resource_id",
			"%s resource id %s is project %q, but the connector only gives access to its configured project %q",
			rt, input.Quote(s), r.Project, project)
	}
	return "", fieldErrorf("resource_id",
		"%s resource id %s is in project %q, but the connector is configured for project %q",
		rt, input.Quote(s), r.Project, project)
}

// canonicalSlots is how many accepted ids Canonical remembers at most.
const canonicalSlots = 256

type canonicalMemo struct {
	rt                    Type
	s, project, canonical string
}

var (
	canonicals    [canonicalSlots]atomic.Pointer[canonicalMemo]
	canonicalSeed = maphash.MakeSeed()
)

func canonicalHash(rt Type, s, project string) uint64 {
	var h maphash.Hash
	h.SetSeed(canonicalSeed)
	h.WriteString(string(rt))
	h.WriteByte(0)
	h.WriteString(s)
	h.WriteByte(0)
	h.WriteString(project)
	return h.Sum64()
}

// MatchCluster resolves want, a kubernetes-cluster id in any spelling, against listed, the
// canonical location/name ids of the clusters a connector can see, and returns the one listed
// id it names. A bare name matches a listed cluster of that name in any location; an id with
// a location matches only that location. It fails with an *Error with Unmatched set when nothing matches
// and with a plain *Error when a bare name matches clusters in several locations (the message lists
// them, so the caller can pick one). A project in want is ignored: check it first with
// Canonical.
func MatchCluster(listed []string, want string) (string, error) {
	w, err := Parse(KubernetesCluster, want)
	if err != nil {
		return "", err
	}
	var found []string
	for _, l := range listed {
		c, err := Parse(KubernetesCluster, l)
		if err != nil || c.Name != w.Name || (w.Location != "" && c.Location != w.Location) {
			continue
		}
		if id := c.String(); !slices.Contains(found, id) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return "", &Error{Field: "resource_id", Unmatched: true,
			Message: fmt.Sprintf("GKE cluster %s not found or not accessible", input.Quote(w.String()))}
	case 1:
		return found[0], nil
	}
	slices.Sort(found)
	return "", fieldErrorf("resource_id",
		"GKE cluster name %q is ambiguous: it matches clusters in %d locations (%s); use location/name to pick one",
		w.Name, len(found), strings.Join(found, ", "))
}

// idFormat describes one resource type's ids: its spellings for parsing and for error
// messages, and its canonical form. TestEveryTypeHasIDFormats fails for a type of Types
// without a complete entry.
type idFormat struct {
	rt        Type
	title     string // human name of the resource type
	accepted  []string
	parse     func(s string) (ID, error) // the error says why s is refused; Parse adds the formats
	canonical func(r ID) string          // the canonical form: ID.String
}

var idFormats = map[Type]idFormat{
	GCPGeneric: {
		rt:        GCPGeneric,
		title:     "GCP project",
		accepted:  []string{"PROJECT_ID", "projects/PROJECT_ID"},
		parse:     parseGeneric,
		canonical: func(r ID) string { return r.Project },
	},
	GCSBucket: {
		rt:        GCSBucket,
		title:     "GCS bucket",
		accepted:  []string{"gs://BUCKET (canonical)", "BUCKET", "gs://BUCKET/PATH (the path is dropped)"},
		parse:     parseBucket,
		canonical: func(r ID) string { return "gs://" + r.Name },
	},
	KubernetesCluster: {
		rt:    KubernetesCluster,
		title: "GKE cluster",
		accepted: []string{
			"LOCATION/NAME (canonical; LOCATION is a region like us-east1 or a zone like us-east1-b)",
			"NAME (resolved when it is unique among the project's clusters)",
			"projects/PROJECT_ID/locations/LOCATION/clusters/NAME",
			"https://container.googleapis.com/v1/projects/PROJECT_ID/locations/LOCATION/clusters/NAME",
			"gke_PROJECT_ID_LOCATION_NAME (a gcloud kubeconfig context)",
		},
		parse: parseCluster,
		canonical: func(r ID) string {
			if r.Location == "" {
				return r.Name
			}
			return r.Location + "/" + r.Name
		},
	},
	DockerRegistry: {
		rt:    DockerRegistry,
		title: "Docker registry",
		accepted: []string{
			"[https://]LOCATION-docker.pkg.dev/PROJECT_ID/REPOSITORY[/IMAGE...] (canonical without https:// and image; " +
				"REPOSITORY may be a gcr.io-domain repository: us-docker.pkg.dev/PROJECT_ID/gcr.io)",
			"projects/PROJECT_ID/locations/LOCATION/repositories/REPOSITORY",
			"[https://][us.|eu.|asia.]gcr.io/PROJECT_ID[/IMAGE...] (legacy Container Registry)",
		},
		parse: parseRegistry,
		canonical: func(r ID) string {
			if isGCRHost(r.Host) {
				return r.Host + "/" + uriProject(r.Project)
			}
			return r.Host + "/" + uriProject(r.Project) + "/" + r.Name
		},
	},
}

// Formats lists the accepted spellings of an id of type rt, for messages and the type spec;
// nil for an unknown type.
func Formats(rt Type) []string {
	f, ok := idFormats[rt]
	if !ok {
		return nil
	}
	return slices.Clone(f.accepted)
}

func (f idFormat) errorf(s, format string, args ...any) *Error {
	return fieldErrorf("resource_id", "invalid %s resource id %s: %s; accepted formats: %s",
		f.typeName(), input.Quote(s), fmt.Sprintf(format, args...), strings.Join(f.accepted, " | "))
}

func (f idFormat) typeName() string { return f.title + " (" + string(f.rt) + ")" }

func joinTypes(ts []Type) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = string(t)
	}
	return strings.Join(parts, ", ")
}

// --- gcp-generic ---

func parseGeneric(s string) (ID, error) {
	p := strings.TrimPrefix(s, "projects/")
	if err := CheckProjectID(p); err != nil {
		return ID{}, err
	}
	return ID{Type: GCPGeneric, Project: p}, nil
}

// CheckProjectID applies Google's project id rules: 6 to 30 characters, lowercase letters,
// digits and hyphens, starting with a letter and not ending with a hyphen; optionally scoped
// by a domain (example.com:proj). It returns nil when p is valid, else why not.
func CheckProjectID(p string) error {
	if p == "" {
		return errors.New("the project id is empty")
	}
	id := p
	if domain, rest, ok := strings.Cut(p, ":"); ok {
		if err := checkDomain(domain); err != nil {
			return fmt.Errorf("the domain of domain-scoped project id %s %v", input.Quote(p), err)
		}
		id = rest
	}
	if id != "" && input.All(id, input.IsDigit) {
		return fmt.Errorf("%s is a project number; give the project id instead (such as my-project)", input.Quote(id))
	}
	if n := len(id); n < 6 || n > 30 {
		return fmt.Errorf("project id %s must be 6 to 30 characters long", input.Quote(id))
	}
	if !input.IsLower(id[0]) {
		return fmt.Errorf("project id %s must start with a lowercase letter", input.Quote(id))
	}
	if id[len(id)-1] == '-' {
		return fmt.Errorf("project id %s must not end with a hyphen", input.Quote(id))
	}
	if !input.All(id, input.IsLowerDigitHyphen) {
		return fmt.Errorf("project id %s may contain only lowercase letters, digits and hyphens", input.Quote(id))
	}
	return nil
}

// checkDomain checks the domain part of a domain-scoped project id: a lowercase DNS name of at
// least two labels. The error is a predicate for the subject "the domain of ...".
func checkDomain(d string) error {
	if d == "" || len(d) > 253 {
		return errors.New("must be 1 to 253 characters long")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return errors.New("must be a DNS name such as example.com")
	}
	if !input.DNSLabels(labels) {
		return errors.New("must be a lowercase DNS name such as example.com")
	}
	return nil
}

// uriProject spells a project id as it appears in registry URIs: example.com:proj becomes
// example.com/proj.
func uriProject(p string) string { return strings.Replace(p, ":", "/", 1) }

// --- gcs-bucket ---

func parseBucket(s string) (ID, error) {
	name, path := s, ""
	if sc := scheme(s); sc != "" && sc != "gs://" {
		return ID{}, fmt.Errorf("scheme %s is not accepted; a bucket URI starts with gs://", input.Quote(sc))
	}
	if rest, ok := strings.CutPrefix(s, "gs://"); ok {
		name, path, _ = strings.Cut(rest, "/")
	} else if strings.Contains(s, "/") {
		return ID{}, errors.New("a bucket name has no slashes; write gs://BUCKET/PATH for a path")
	}
	if err := checkBucket(name); err != nil {
		return ID{}, err
	}
	if !utf8.ValidString(path) || strings.IndexFunc(path, unicode.IsControl) >= 0 {
		return ID{}, errors.New("the object path must be valid UTF-8 without control characters")
	}
	return ID{Type: GCSBucket, Name: name, Path: path}, nil
}

// checkBucket applies Cloud Storage's bucket naming rules.
// zeroAsO reads a 0 as an o, for the "google" misspelling check (built once: a Replacer
// prepares itself on first use).
var zeroAsO = strings.NewReplacer("0", "o")

// looksNumeric reports whether b has only digits and dots, the only names netip.ParseAddr
// may read as an IPv4 address (parsing every name would cost an error value each).
func looksNumeric(b string) bool {
	for i := 0; i < len(b); i++ {
		if (b[i] < '0' || b[i] > '9') && b[i] != '.' {
			return false
		}
	}
	return true
}

func checkBucket(b string) error {
	if b == "" {
		return errors.New("the bucket name is empty")
	}
	if !input.All(b, func(c byte) bool { return input.IsLowerDigitHyphen(c) || c == '_' || c == '.' }) {
		return fmt.Errorf("bucket name %s may contain only lowercase letters, digits, '-', '_' and '.'", input.Quote(b))
	}
	if strings.Contains(b, ".") {
		if len(b) > 222 {
			return fmt.Errorf("bucket name %s is %d characters; names with dots are at most 222", input.Quote(b), len(b))
		}
		for part := range strings.SplitSeq(b, ".") {
			if len(part) > 63 {
				return fmt.Errorf("bucket name %s has a dot-separated part longer than 63 characters", input.Quote(b))
			}
		}
	}
	if n := len(b); n < 3 || (n > 63 && !strings.Contains(b, ".")) {
		return fmt.Errorf("bucket name %s must be 3 to 63 characters long (up to 222 with dots)", input.Quote(b))
	}
	if !input.IsLowerDigit(b[0]) || !input.IsLowerDigit(b[len(b)-1]) {
		return fmt.Errorf("bucket name %s must start and end with a letter or digit", input.Quote(b))
	}
	for _, bad := range []string{"..", ".-", "-."} {
		if strings.Contains(b, bad) {
			return fmt.Errorf("bucket name %s must not contain %s", input.Quote(b), input.Quote(bad))
		}
	}
	if looksNumeric(b) {
		if a, err := netip.ParseAddr(b); err == nil && a.Is4() {
			return fmt.Errorf("bucket name %s must not be an IP address", input.Quote(b))
		}
	}
	if strings.HasPrefix(b, "goog") {
		return fmt.Errorf("bucket name %s must not start with \"goog\"", input.Quote(b))
	}
	if strings.Contains(zeroAsO.Replace(b), "google") {
		return fmt.Errorf("bucket name %s must not contain \"google\" or a close misspelling of it", input.Quote(b))
	}
	return nil
}

// --- kubernetes-cluster ---

func parseCluster(s string) (ID, error) {
	var rest string
	var ok bool
	for _, prefix := range []string{
		"https://container.googleapis.com/v1/",
		"https://container.googleapis.com/v1beta1/",
		"//container.googleapis.com/",
	} {
		if rest, ok = strings.CutPrefix(s, prefix); ok {
			break
		}
	}
	if !ok && strings.HasPrefix(s, "projects/") {
		rest, ok = s, true
	}
	if sc := scheme(s); !ok && sc != "" {
		return ID{}, fmt.Errorf("a URL is accepted only as a GKE self-link, https://container.googleapis.com/v1/projects/..., not %s", input.Quote(sc+"..."))
	}
	if ok {
		// projects/P/locations/L/clusters/N, or projects/P/zones/Z/clusters/N in old self-links.
		parts := strings.Split(rest, "/")
		if len(parts) != 6 || parts[0] != "projects" || (parts[2] != "locations" && parts[2] != "zones") || parts[4] != "clusters" {
			return ID{}, errors.New("a full cluster name reads projects/PROJECT_ID/locations/LOCATION/clusters/NAME")
		}
		return cluster(parts[1], parts[3], parts[5], true)
	}
	if rest, ok := strings.CutPrefix(s, "gke_"); ok {
		// gcloud context: gke_PROJECT_LOCATION_NAME. None of the three parts may hold '_'.
		parts := strings.Split(rest, "_")
		if len(parts) != 3 {
			return ID{}, errors.New("a gcloud context name reads gke_PROJECT_ID_LOCATION_NAME")
		}
		return cluster(parts[0], parts[1], parts[2], true)
	}
	if loc, name, ok := strings.Cut(s, "/"); ok {
		if strings.Contains(name, "/") {
			return ID{}, errors.New("too many slashes for LOCATION/NAME")
		}
		if loc == "" {
			return ID{}, errors.New("the location before the slash is empty")
		}
		return cluster("", loc, name, false)
	}
	return cluster("", "", s, false)
}

func cluster(project, location, name string, needProject bool) (ID, error) {
	if needProject {
		if err := CheckProjectID(project); err != nil {
			return ID{}, err
		}
	}
	if err := checkClusterName(name); err != nil {
		return ID{}, err
	}
	if location != "" || needProject {
		if !isRegion(location) && !isZone(location) {
			return ID{}, fmt.Errorf("location %s is not a region (us-east1) or zone (us-east1-b)", input.Quote(location))
		}
	}
	return ID{Type: KubernetesCluster, Project: project, Location: location, Name: name}, nil
}

// checkClusterName applies GKE's cluster naming rules (see checkLowerName): at most 40
// characters.
func checkClusterName(n string) error { return checkLowerName("cluster name", n, 40) }

// checkLowerName applies the naming rule GKE clusters and Artifact Registry repositories
// share: 1 to maxLen characters, lowercase letters, digits and hyphens, starting with a letter
// and ending with a letter or digit. what names the value in the message ("cluster name").
func checkLowerName(what, n string, maxLen int) error {
	switch {
	case n == "":
		return errors.New("the " + what + " is empty")
	case len(n) > maxLen:
		return fmt.Errorf("%s %s is longer than %d characters", what, input.Quote(n), maxLen)
	case !input.All(n, input.IsLowerDigitHyphen):
		return fmt.Errorf("%s %s may contain only lowercase letters, digits and hyphens", what, input.Quote(n))
	case !input.IsLower(n[0]):
		return fmt.Errorf("%s %s must start with a lowercase letter", what, input.Quote(n))
	case n[len(n)-1] == '-':
		return fmt.Errorf("%s %s must end with a letter or digit", what, input.Quote(n))
	}
	return nil
}

// isRegion reports whether s looks like a Google Cloud region: us-east1, europe-west12,
// northamerica-northeast2.
func isRegion(s string) bool {
	area, rest, ok := strings.Cut(s, "-")
	if !ok || area == "" || !input.All(area, input.IsLower) || len(s) > 40 {
		return false
	}
	i := 0
	for i < len(rest) && input.IsLower(rest[i]) {
		i++
	}
	digits := rest[i:]
	return i > 0 && len(digits) >= 1 && len(digits) <= 2 && input.All(digits, input.IsDigit) && digits[0] != '0'
}

// isZone reports whether s is a region followed by a zone suffix: a letter (us-east1-b), or
// an AI zone's ai, digits and a letter (us-central1-ai1a).
func isZone(s string) bool {
	i := strings.LastIndexByte(s, '-')
	if i < 0 || !isRegion(s[:i]) {
		return false
	}
	z := s[i+1:]
	if ai, ok := strings.CutPrefix(z, "ai"); ok && len(ai) >= 2 && len(ai) <= 4 {
		z = ai[len(ai)-1:]
		if !input.All(ai[:len(ai)-1], input.IsDigit) {
			return false
		}
	}
	return len(z) == 1 && input.IsLower(z[0])
}

// --- docker-registry ---

// gcrHosts maps each legacy Container Registry host to the Artifact Registry multi-region
// that serves it.
var gcrHosts = map[string]string{"gcr.io": "us", "us.gcr.io": "us", "eu.gcr.io": "europe", "asia.gcr.io": "asia"}

func isGCRHost(h string) bool { _, ok := gcrHosts[h]; return ok }

// garMultiRegions are the Artifact Registry multi-region locations.
var garMultiRegions = []string{"us", "europe", "asia"}

func isGARLocation(l string) bool { return slices.Contains(garMultiRegions, l) || isRegion(l) }

func parseRegistry(s string) (ID, error) {
	if strings.HasPrefix(s, "projects/") {
		parts := strings.Split(s, "/")
		if len(parts) != 6 || parts[2] != "locations" || parts[4] != "repositories" {
			return ID{}, errors.New("a repository name reads projects/PROJECT_ID/locations/LOCATION/repositories/REPOSITORY")
		}
		project, loc, repo := parts[1], parts[3], parts[5]
		if err := CheckProjectID(project); err != nil {
			return ID{}, err
		}
		if !isGARLocation(loc) {
			return ID{}, fmt.Errorf("location %s is not an Artifact Registry region (us-east1) or multi-region (us, europe, asia)", input.Quote(loc))
		}
		if err := checkRepositoryAt(loc, repo); err != nil {
			return ID{}, err
		}
		return ID{Type: DockerRegistry, Host: loc + "-docker.pkg.dev", Project: project, Location: loc, Name: repo}, nil
	}

	if sc := scheme(s); sc != "" && sc != "https://" {
		return ID{}, fmt.Errorf("scheme %s is not accepted; registry URIs use https:// or no scheme", input.Quote(sc))
	}
	uri := strings.TrimPrefix(s, "https://")
	host, rest, _ := strings.Cut(uri, "/")
	gcrLoc, gcr := gcrHosts[host]
	loc, gar := strings.CutSuffix(host, "-docker.pkg.dev")
	switch {
	case !gcr && !gar:
		return ID{}, fmt.Errorf("host %s is neither LOCATION-docker.pkg.dev nor a gcr.io host", input.Quote(host))
	case gar && !isGARLocation(loc):
		return ID{}, fmt.Errorf("location %s is not an Artifact Registry region (us-east1) or multi-region (us, europe, asia)", input.Quote(loc))
	}
	project, rest := splitURIProject(rest)
	if project == "" {
		return ID{}, fmt.Errorf("the URI names no project: %s/PROJECT_ID", host)
	}
	if err := CheckProjectID(project); err != nil {
		return ID{}, err
	}
	if gcr {
		path, err := imagePath(rest)
		if err != nil {
			return ID{}, err
		}
		return ID{Type: DockerRegistry, Host: host, Project: project, Location: gcrLoc, Name: host, Path: path}, nil
	}
	repo, rest, _ := strings.Cut(rest, "/")
	if repo == "" {
		return ID{}, errors.New("the URI names no repository: LOCATION-docker.pkg.dev/PROJECT_ID/REPOSITORY")
	}
	if err := checkRepositoryAt(loc, repo); err != nil {
		return ID{}, err
	}
	path, err := imagePath(rest)
	if err != nil {
		return ID{}, err
	}
	return ID{Type: DockerRegistry, Host: host, Project: project, Location: loc, Name: repo, Path: path}, nil
}

// splitURIProject takes the project from the path of a registry URI: its first segment, or its
// first two for a domain-scoped project (a segment with a dot is a domain, since project ids
// have none). It returns the project in resource-name form and the path after it.
func splitURIProject(p string) (project, rest string) {
	first, rest, _ := strings.Cut(p, "/")
	if strings.Contains(first, ".") {
		var second string
		second, rest, _ = strings.Cut(rest, "/")
		return first + ":" + second, rest
	}
	return first, rest
}

// imagePath validates what follows the repository in a registry URI (image names, tags,
// digests): printable segments separated by single slashes; a trailing slash is allowed.
func imagePath(rest string) (string, error) {
	p := strings.TrimSuffix(rest, "/")
	if p == "" {
		return "", nil
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" {
			return "", errors.New("the image path has an empty segment (//)")
		}
	}
	if err := checkPrintable(p, "image path"); err != nil {
		return "", err
	}
	return p, nil
}

// checkRepositoryAt checks the id of a repository in Artifact Registry location loc: one of
// the gcr.io-domain repositories (named gcr.io, us.gcr.io, eu.gcr.io, asia.gcr.io, each in
// the multi-region that serves its host), or an id that checkRepository accepts.
func checkRepositoryAt(loc, repo string) error {
	if gcrLoc, ok := gcrHosts[repo]; ok {
		if loc != gcrLoc {
			return fmt.Errorf("repository %s lives in location %s, not %s", input.Quote(repo), input.Quote(gcrLoc), input.Quote(loc))
		}
		return nil
	}
	return checkRepository(repo)
}

// checkRepository applies Artifact Registry's repository id rules (see checkLowerName): at
// most 63 characters.
func checkRepository(r string) error { return checkLowerName("repository id", r, 63) }

// scheme returns the URL scheme that starts s with its "://" (such as "gs://"), or "" when s
// does not start with one.
func scheme(s string) string {
	i := strings.Index(s, "://")
	if i <= 0 || i > 16 {
		return ""
	}
	for j := 0; j < i; j++ {
		if c := s[j] | 0x20; c < 'a' || c > 'z' {
			if j == 0 || !input.IsDigit(s[j]) && s[j] != '+' && s[j] != '-' && s[j] != '.' {
				return ""
			}
		}
	}
	return s[:i+3]
}

// checkPrintable refuses control characters, spaces and non-ASCII bytes in a path that the
// canonical form drops, so that nothing odd rides along in logs.
func checkPrintable(p, what string) error {
	if !input.All(p, input.IsPrintableASCII) {
		return fmt.Errorf("the %s may contain only printable ASCII characters without spaces", what)
	}
	return nil
}
