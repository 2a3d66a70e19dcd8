package connector

import (
	"context"
	"log/slog"
	"time"

	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Store keeps connector metadata (never secret values), and the key cleanup records of
// deleted connectors. Implementations: store.Memory and store.Firestore; both pass
// storetest.Run. Methods must be safe for concurrent use, and must
// return errors of this package's kinds: ErrNotFound, ErrAlreadyExists, ErrConflict, or
// ErrUpstreamUnavailable when the backend cannot be reached.
type Store interface {
	// Create stores c under c.ID, which the caller has set. The name must be unused: a second
	// Create with the same Name fails with ErrAlreadyExists, also under concurrency. Create
	// sets CreatedAt, UpdatedAt and Revision on c.
	Create(ctx context.Context, c *Connector) error
	// Get returns the connector with id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Connector, error)
	// GetByName returns the connector named name, or ErrNotFound.
	GetByName(ctx context.Context, name string) (*Connector, error)
	// List returns the connectors matching f, ordered by name, one page at a time. An empty
	// next token means the last page.
	List(ctx context.Context, f Filter, p Page) (cs []*Connector, next string, err error)
	// Update replaces the stored configuration of connector c.ID (every field but Status) if
	// its stored Revision equals c.Revision, and fails with ErrConflict otherwise (ErrNotFound
	// if it is gone; ErrAlreadyExists if a rename clashes). It keeps the stored Status, which
	// only Create and SetStatus write, and sets it on c with UpdatedAt and the new Revision.
	Update(ctx context.Context, c *Connector) error
	// SetStatus replaces the Status of the stored connector c.ID with st if its stored
	// Revision and Status are still c's (what the caller read and decided st from), and fails
	// with ErrConflict otherwise (ErrNotFound if it is gone). Status is not configuration:
	// SetStatus changes neither Revision nor UpdatedAt, so an Update conditioned on the
	// revision the caller read still succeeds after it. It sets c.Status to st.
	SetStatus(ctx context.Context, c *Connector, st Status) error
	// Delete removes the connector id, or fails with ErrNotFound.
	Delete(ctx context.Context, id string) error

	// Key cleanup records: what is left to delete of a connector that was deleted while
	// gcpconn held keys it had created for it (its pinned key, retired keys, a rotation in
	// flight). Delete records it before the connector goes; sweep deletes the keys after
	// their grace with the credentials of the versions the record names (so the connector's
	// secret stays until then), then the secret and the record.

	// PutCleanup stores k, replacing any record of the same connector.
	PutCleanup(ctx context.Context, k KeyCleanup) error
	// ListCleanups returns every record, in no particular order.
	ListCleanups(ctx context.Context) ([]KeyCleanup, error)
	// DeleteCleanup removes the record of a connector; a missing one is not an error.
	DeleteCleanup(ctx context.Context, connectorID string) error
}

// Filter selects connectors in Store.List. Zero fields match everything.
type Filter struct {
	Name         string       // exact name
	AuthMethod   AuthMethod   // exact auth method
	ResourceType ResourceType // connectors that serve this type (multi-type ones included)
	// Labels must all match: a key with a value matches that value, a key mapped to "" matches
	// any connector that has the label.
	Labels map[string]string
}

// Page asks for one page of a listing.
type Page struct {
	Size  int    // at most this many; zero or negative means DefaultPageSize, capped at MaxPageSize
	Token string // the next token of the previous page; "" for the first page
}

// Page size limits for Store.List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// SecretStore keeps connector secret values: one secret per connector, a new version per
// change. Implementations: store.MemorySecrets and store.SecretManager; both pass
// storetest.RunSecrets. Methods must be safe for concurrent use.
type SecretStore interface {
	// AddVersion stores s as a new version of the connector's secret, creating the secret if
	// needed, and returns the new version's name (opaque to the core).
	AddVersion(ctx context.Context, connectorID string, s Secrets) (version string, err error)
	// Access returns the values of one version. A disabled or destroyed version fails with
	// ErrFailedPrecondition; a missing one with ErrNotFound.
	Access(ctx context.Context, connectorID, version string) (Secrets, error)
	// AccessFresh is Access from the backend itself, never from values the store keeps in
	// memory (store.SecretManager keeps them; store.MemorySecrets has nothing else to read),
	// so it sees a version disabled or destroyed since it was cached (and drops it from the
	// cache then). Everything that decides a state reads through it: verify, sweep, refresh
	// and update (ARCHITECTURE.md, production rules); mints use Access.
	AccessFresh(ctx context.Context, connectorID, version string) (Secrets, error)
	// DestroyVersion disables and then destroys one version; destroying a destroyed or missing
	// version is not an error.
	DestroyVersion(ctx context.Context, connectorID, version string) error
	// Delete removes the connector's secret with all its versions; a missing secret is not an
	// error.
	Delete(ctx context.Context, connectorID string) error
	// ListConnectorIDs returns the ids of every connector that has a secret, sorted (an
	// operator's view; sweep finds orphans through SecretAges, which also says how old each
	// secret is).
	ListConnectorIDs(ctx context.Context) ([]string, error)
	// SecretName says where the connector's secret lives, in the store's own naming (Secret
	// Manager: projects/P/secrets/PREFIX<connector id>; memory: memory/secrets/...). Describe
	// shows it with the pinned version, as the product page's SECRET ID row does: where the
	// secret is, never what it holds.
	SecretName(connectorID string) string
	// ConnectorOfSecret returns the id of the connector that owns secret (projects/P/secrets/S,
	// as Secret Manager's notifications name it; only the store knows its naming, a
	// configured prefix say); labels are the secret's labels when the event carried them (nil
	// for version events). ok is false for a secret that is not one of the store's connector
	// secrets. Refresh (shared/upkeep) maps notifications to connectors through it.
	ConnectorOfSecret(secret string, labels map[string]string) (connectorID string, ok bool)
	// SetRotation schedules the connector's secret to be rotated every period, first at
	// next, so that the store announces when its key is due (Secret Manager publishes
	// SECRET_ROTATE, which refresh turns into a rotation); a zero period removes the
	// schedule. The secret must exist.
	SetRotation(ctx context.Context, connectorID string, period time.Duration, next time.Time) error
}

// Rotator rotates connectors' keys (shared/upkeep.Keeper implements it). Refresh (in
// shared/upkeep) calls it on Secret Manager's SECRET_ROTATE; Register and Update accept a
// rotation period only when the Service has one.
type Rotator interface {
	// RotateOnEvent rotates the key of connector id for a SECRET_ROTATE published at
	// published (zero when unknown), unless the key is younger than the event. It reports
	// whether a new key was pinned.
	RotateOnEvent(ctx context.Context, id string, published time.Time) (bool, error)
}

// Grant is what an adapter needs to act as a connector: its metadata and its secret values.
type Grant struct {
	Connector *Connector
	Secrets   Secrets
}

// TokenRequest asks Google for an access token on behalf of a Grant.
type TokenRequest struct {
	Scopes   []string      // OAuth scopes; never empty
	Lifetime time.Duration // wanted lifetime, already clamped by the core
	// Boundary, when non-nil, down-scopes the token with a Credential Access Boundary.
	Boundary *Boundary
	// SubjectToken is the caller-supplied subject token for external-account connectors.
	SubjectToken string
}

// Boundary is a Credential Access Boundary limited to one bucket.
type Boundary struct {
	Bucket   string // bucket name (not gs://)
	Prefix   string // object-name prefix; "" means the whole bucket
	ReadOnly bool   // roles/storage.objectViewer instead of roles/storage.objectAdmin
}

// Token is a short-lived access token. Its String and LogValue never reveal the value.
type Token struct {
	Value  string
	Expiry time.Time // zero means unknown (treated as already near expiry)
	// Warning is what the core could not check when it minted the token (see
	// Credential.Warning); kept with the token in the cache. Adapters leave it empty.
	Warning string
}

func (t Token) String() string       { return "[HIDDEN]" }
func (t Token) LogValue() slog.Value { return slog.StringValue("[HIDDEN]") }

// ClusterInfo is what kubectl needs to reach a GKE cluster's control plane.
type ClusterInfo struct {
	ID                   string // canonical id: location/name
	Server               string // https URL: the DNS endpoint when it allows external traffic, else the IP endpoint
	CertificateAuthority string // PEM; "" with a DNS endpoint (publicly trusted)
}

// Google is the port to Google Cloud that minting and verification use; shared/gcp
// implements it against real Google or the fake in emulator/. Errors must carry this
// package's kinds: ErrUpstreamDenied (with Google's text in Message), ErrUpstreamNotFound,
// ErrUpstreamUnavailable (with RetryAfter when known), ErrInvalid for unusable credentials.
// Implementations must be safe for concurrent use.
type Google interface {
	// Token mints an access token from the grant's credentials.
	Token(ctx context.Context, g Grant, req TokenRequest) (Token, error)
	// ListResources returns the canonical ids of the resources of type rt in the connector's
	// project that the grant can reach. With id set (canonical) it checks that one resource and
	// returns just it, or an error.
	ListResources(ctx context.Context, g Grant, rt ResourceType, id string) ([]string, error)
	// Cluster describes the GKE cluster id (canonical location/name).
	Cluster(ctx context.Context, g Grant, id string) (ClusterInfo, error)
	// BucketProject says which project a bucket belongs to, since a connector reaches the
	// resources of its own project only (Verify and Mint ask for every gcs-bucket id; see
	// project.go): true when the bucket is known to belong to the connector's project, false
	// (and no error) when that could not be read (the credentials lack storage.buckets.get on
	// the bucket or resourcemanager.projects.get on the project), and ErrInvalid naming both
	// projects when it belongs to another.
	BucketProject(ctx context.Context, g Grant, bucket string) (bool, error)
	// RegistryHost returns the host docker must log in to for a registry host named in a
	// resource id: the host itself, or where the adapter serves it (a local fake registry
	// standing in for LOC-docker.pkg.dev and gcr.io). Mint puts it in
	// DockerCredential.Registry.
	RegistryHost(host string) string
}

// KeyCleanup is the record of a deleted connector's keys that gcpconn created.
type KeyCleanup struct {
	ConnectorID, Name string
	Keys              []rotation.RetiredKey // each with its account, its version and when it may go
}
