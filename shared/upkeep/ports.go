package upkeep

import (
	"context"
	"errors"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// KeyManager is the port to Google's IAM service-account keys API that rotation needs. It acts
// with the grant's service-account key (the source key of an impersonation connector) or, as
// the deployment configures it, with the service's own identity. Errors carry the core's
// kinds; ErrFailedPrecondition when Google refuses: wrapping ErrKeyLimit when the account has
// reached Google's limit of keys, ErrKeyCreationDisabled when an organisation policy forbids
// keys, and naming the identity and the role it needs when the identity is refused (a
// refused ListKeys is recorded on the connector like a failed rotation); any other refusal
// keeps Google's message. shared/gcp implements it.
type KeyManager interface {
	// CreateKey creates a key for email and returns its id and its key file JSON. When Google
	// created a key but its answer is unusable, the id is returned with the error.
	CreateKey(ctx context.Context, g connector.Grant, email string) (keyID, keyJSON string, err error)
	// ListKeys returns the account's user-managed keys.
	ListKeys(ctx context.Context, g connector.Grant, email string) ([]KeyInfo, error)
	// DeleteKey deletes one key; a key that is already gone is not an error.
	DeleteKey(ctx context.Context, g connector.Grant, email, keyID string) error
}

// Why Google refuses a new key: a KeyManager's CreateKey error wraps one of these
// (errors.Is) when Google's answer says so; any other refusal keeps Google's message.
var (
	// ErrKeyLimit: the account has Google's MaxKeysPerAccount keys.
	ErrKeyLimit = errors.New("the service account has all the keys Google allows")
	// ErrKeyCreationDisabled: an organisation policy (iam.disableServiceAccountKeyCreation)
	// forbids creating keys for the account.
	ErrKeyCreationDisabled = errors.New("an organisation policy forbids creating service-account keys")
)

// KeyInfo describes one service-account key (never its material).
type KeyInfo struct {
	ID       string
	Created  time.Time // Google's validAfterTime
	Disabled bool
}

// SecretAges is an optional capability of a SecretStore: when each connector's secret was
// created. Orphans needs it to tell the secret of a registration in flight from an orphan;
// store.MemorySecrets and store.SecretManager have it.
type SecretAges interface {
	SecretCreateTimes(ctx context.Context) (map[string]time.Time, error)
}

// SecretVersions is an optional capability of a SecretStore: the versions of a connector's
// secret with their state and creation time. Sweep needs it to repair secrets at rest (only
// the pinned version stays enabled); store.MemorySecrets and store.SecretManager have it.
type SecretVersions interface {
	// ListVersions returns every version of the connector's secret, destroyed ones included,
	// in no particular order; a connector without a secret has none (nil, nil).
	ListVersions(ctx context.Context, connectorID string) ([]SecretVersion, error)
}

// SecretVersion is one version of a connector's secret, as SecretVersions lists it.
type SecretVersion struct {
	Name      string // as AddVersion returned it
	State     VersionState
	CreatedAt time.Time
}

// VersionState is the lifecycle state of a secret version (Secret Manager's).
type VersionState string

// The states of a secret version.
const (
	VersionEnabled   VersionState = "enabled"
	VersionDisabled  VersionState = "disabled"
	VersionDestroyed VersionState = "destroyed"
)

// ConnectorIDs is implemented by stores that list connector ids alone (store.Memory,
// store.Firestore): ids in ascending order after the cursor after ("" for the first page),
// at most n. The sweep planner pages through it; stores without it are paged with List.
type ConnectorIDs interface {
	ListIDs(ctx context.Context, after string, n int) ([]string, error)
}

// ShardPublisher hands the shards of a sweep run to the workers: a Pub/Sub topic deployed
// (shared/store.PubSubShards), LocalShards in one process. Delivery may be at least once.
type ShardPublisher interface {
	PublishShard(ctx context.Context, sh SweepShard) error
}

// SweepRuns keeps sweep runs and their shards (store.MemoryRuns, store.FirestoreRuns).
// Methods must be safe for concurrent use and return the core's error kinds (connector.Kind).
type SweepRuns interface {
	// CreateRun stores a new run (ErrAlreadyExists if its id is taken).
	CreateRun(ctx context.Context, r SweepRun) error
	// UpdateRun replaces the run's own record (ErrNotFound if it is gone).
	UpdateRun(ctx context.Context, r SweepRun) error
	// GetRun returns the run and the records of its shards that have begun, by index.
	GetRun(ctx context.Context, id string) (SweepRun, []ShardRecord, error)
	// LatestRunID returns the id of the run started last (ids sort by start), or ErrNotFound.
	LatestRunID(ctx context.Context) (string, error)
	// BeginShard counts one more attempt of shard index of run, atomically, and returns its
	// record; a finished shard is returned unchanged. A shard seen first is ShardRunning.
	BeginShard(ctx context.Context, run string, index int, now time.Time) (ShardRecord, error)
	// FinishShard stores rec (ShardDone or ShardFailed) unless the shard is finished
	// already, atomically, and reports whether it stored it.
	FinishShard(ctx context.Context, rec ShardRecord) (bool, error)
}

// CleanupMarks is implemented by stores that write a connector's cleanup mark
// (connector.Connector.CleanupAfter) alone (store.Memory, store.Firestore). Sweep clears the
// mark with it; with a store that lacks it, it clears it with a configuration write, which
// changes the revision.
type CleanupMarks interface {
	// SetCleanupAfter replaces the CleanupAfter of the stored connector c.ID with next if its
	// stored Revision and CleanupAfter are still c's (what the caller read and decided next
	// from), and fails with ErrConflict otherwise (ErrNotFound if it is gone). Like
	// Store.SetStatus it changes neither Revision nor UpdatedAt (nor Status), so an Update
	// conditioned on the revision the caller read still succeeds after it. It sets
	// c.CleanupAfter to next.
	SetCleanupAfter(ctx context.Context, c *connector.Connector, next time.Time) error
}
