package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"golang.org/x/sync/singleflight"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gcpconn/gcpconn/internal/inject"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Secret naming in Secret Manager.
const (
	// SecretPrefix starts the id of every connector secret by default: gcpconn-<connector id>.
	SecretPrefix = "gcpconn-"
	// ConnectorLabel labels every connector secret with its connector's id.
	ConnectorLabel = "gcpconn-connector"
)

// ownerOfSecret reads a connector id out of a Secret Manager secret name
// (projects/P/secrets/S) in the naming prefix + id. A label ConnectorLabel, when the event
// carried labels, must name the same connector.
func ownerOfSecret(prefix, name string, labels map[string]string) (string, bool) {
	short := name[strings.LastIndexByte(name, '/')+1:]
	id, ok := strings.CutPrefix(short, prefix)
	if !ok || checkSecretID(id) != nil {
		return "", false
	}
	if l, labelled := labels[ConnectorLabel]; labelled && l != id {
		return "", false
	}
	return id, true
}

// DefaultSecretCacheTTL is how long SecretManager serves an accessed version from memory.
// Versions are immutable, so the only staleness is a version disabled or destroyed behind
// gcpconn's back; the refresh function learns of those from Secret Manager's notifications.
const DefaultSecretCacheTTL = 5 * time.Minute

// SecretManagerOptions tunes a SecretManager.
type SecretManagerOptions struct {
	// Prefix starts the id of every connector secret; "" means SecretPrefix. Deployments
	// (or tests) that share a project use different prefixes.
	Prefix string
	// Topic, when set ("projects/P/topics/T", GCPCONN_SECRET_TOPIC), is configured on every
	// connector secret, so Secret Manager publishes its changes there for the refresh
	// function.
	Topic string
	// CacheTTL bounds how long an accessed version's values are kept in memory; zero means
	// DefaultSecretCacheTTL, negative disables the cache.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached versions; zero means 4096.
	CacheSize int
	// Now is the clock of the cache; nil means time.Now.
	Now func() time.Time
}

// SecretManager is a connector.SecretStore in Google Secret Manager: one secret per
// connector, named SecretPrefix (or SecretManagerOptions.Prefix) + connector id, labelled
// ConnectorLabel=<id>, with a version per change whose payload is the JSON of connector.Secrets.Fields. Reads name the
// exact version, never "latest", and are cached in memory per version (see
// SecretManagerOptions.CacheTTL). It is safe for concurrent use.
type SecretManager struct {
	client  *secretmanager.Client
	project string
	opts    SecretManagerOptions

	mu      sync.Mutex
	cache   map[string]cachedSecrets // by connector id + "/" + version
	flights singleflight.Group       // reads of versions not in memory, by the same key
}

type cachedSecrets struct {
	sec     connector.Secrets
	expires time.Time
}

// NewSecretManager returns a secret store that keeps connector secrets in project through
// client (built with secretmanager.NewRESTClient, option.WithEndpoint pointing at the fake
// locally).
func NewSecretManager(client *secretmanager.Client, project string, opts SecretManagerOptions) *SecretManager {
	if opts.CacheTTL == 0 {
		opts.CacheTTL = DefaultSecretCacheTTL
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 4096
	}
	if opts.Prefix == "" {
		opts.Prefix = SecretPrefix
	}
	return &SecretManager{client: client, project: project, opts: opts, cache: map[string]cachedSecrets{}}
}

func (m *SecretManager) now() time.Time { return inject.Now(m.opts.Now) }

// SecretName returns the resource name of the connector's secret,
// projects/P/secrets/PREFIX<id> (connector.SecretStore).
func (m *SecretManager) SecretName(connectorID string) string { return m.secretName(connectorID) }

func (m *SecretManager) secretName(id string) string {
	return "projects/" + m.project + "/secrets/" + m.opts.Prefix + id
}

// ConnectorOfSecret returns the connector whose secret is named secret: the name must be
// the store's prefix + a connector id (Secret Manager's notifications name secrets
// projects/<number or id>/secrets/<id>, so the project is not compared).
func (m *SecretManager) ConnectorOfSecret(secret string, labels map[string]string) (string, bool) {
	return ownerOfSecret(m.opts.Prefix, secret, labels)
}

func (m *SecretManager) versionName(id, version string) string {
	return m.secretName(id) + "/versions/" + version
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// AddVersion adds s as a new version of the connector's secret, creating the secret first
// when it does not exist.
func (m *SecretManager) AddVersion(ctx context.Context, connectorID string, s connector.Secrets) (string, error) {
	if err := checkSecretID(connectorID); err != nil {
		return "", err
	}
	data, err := json.Marshal(s.Fields())
	if err != nil {
		return "", fmt.Errorf("store: encode secrets: %w", err)
	}
	crc := int64(crc32.Checksum(data, crcTable))
	add := func() (*secretmanagerpb.SecretVersion, error) {
		return m.client.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
			Parent:  m.secretName(connectorID),
			Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &crc},
		})
	}
	v, err := add()
	if smCode(err) == codes.NotFound {
		if err := m.createSecret(ctx, connectorID); err != nil {
			return "", err
		}
		v, err = add()
	}
	if err != nil {
		return "", smError("add secret version for connector "+connectorID, err)
	}
	version := v.GetName()[strings.LastIndex(v.GetName(), "/")+1:]
	if version == "" || version == "latest" {
		return "", connector.Errorf(connector.ErrInternal, "store: secret manager returned version name %q", v.GetName())
	}
	m.remember(connectorID, version, s)
	return version, nil
}

// createSecret creates the connector's secret; one created concurrently is fine.
func (m *SecretManager) createSecret(ctx context.Context, connectorID string) error {
	sec := &secretmanagerpb.Secret{
		Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{
			Automatic: &secretmanagerpb.Replication_Automatic{},
		}},
		Labels: map[string]string{ConnectorLabel: connectorID},
	}
	if m.opts.Topic != "" {
		sec.Topics = []*secretmanagerpb.Topic{{Name: m.opts.Topic}}
	}
	_, err := m.client.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/" + m.project, SecretId: m.opts.Prefix + connectorID, Secret: sec,
	})
	if err != nil && smCode(err) != codes.AlreadyExists {
		return smError("create secret for connector "+connectorID, err)
	}
	return nil
}

// Access returns the values of one version, from memory when it was read recently.
// Concurrent reads of one version that is not in memory share one Secret Manager call; each
// caller stops waiting at its own deadline.
func (m *SecretManager) Access(ctx context.Context, connectorID, version string) (connector.Secrets, error) {
	if err := checkVersion(connectorID, version); err != nil {
		return connector.Secrets{}, err
	}
	if s, ok := m.cached(connectorID, version); ok {
		return s, nil
	}
	ch := m.flights.DoChan(connectorID+"/"+version, func() (any, error) {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), accessTimeout)
		defer cancel()
		if s, ok := m.cached(connectorID, version); ok { // a read that just ended stored it
			return s, nil
		}
		return m.access(actx, connectorID, version)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return connector.Secrets{}, r.Err
		}
		return r.Val.(connector.Secrets), nil
	case <-ctx.Done():
		return connector.Secrets{}, smError(fmt.Sprintf("access secret version %s of connector %s", version, connectorID), ctx.Err())
	}
}

// AccessFresh reads one version from Secret Manager itself, never from memory, so that what
// decides a connector's state sees a version disabled or destroyed behind gcpconn's back
// (connector.SecretStore.AccessFresh). A version that cannot be read any more is dropped from memory,
// so mints stop using it too.
func (m *SecretManager) AccessFresh(ctx context.Context, connectorID, version string) (connector.Secrets, error) {
	if err := checkVersion(connectorID, version); err != nil {
		return connector.Secrets{}, err
	}
	s, err := m.access(ctx, connectorID, version)
	if k := connector.KindOf(err); k == connector.ErrFailedPrecondition || k == connector.ErrNotFound {
		m.forget(connectorID, version)
	}
	return s, err
}

// accessTimeout bounds a version read shared by concurrent callers.
const accessTimeout = 30 * time.Second

// access reads one version from Secret Manager and remembers its values.
func (m *SecretManager) access(ctx context.Context, connectorID, version string) (connector.Secrets, error) {
	resp, err := m.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: m.versionName(connectorID, version)})
	if err != nil {
		return connector.Secrets{}, smError(fmt.Sprintf("access secret version %s of connector %s", version, connectorID), err)
	}
	data := resp.GetPayload().GetData()
	if want := resp.GetPayload().DataCrc32C; want != nil && int64(crc32.Checksum(data, crcTable)) != *want {
		return connector.Secrets{}, connector.Errorf(connector.ErrUpstreamUnavailable,
			"store: secret version %s of connector %s arrived corrupted (checksum mismatch)", version, connectorID)
	}
	var fields map[string]string
	if err := json.Unmarshal(data, &fields); err != nil {
		return connector.Secrets{}, connector.Errorf(connector.ErrInternal,
			"store: secret version %s of connector %s is not a gcpconn secret (not a JSON object of strings)", version, connectorID)
	}
	s, err := connector.SecretsFromFields(fields)
	if err != nil {
		return connector.Secrets{}, err
	}
	m.remember(connectorID, version, s)
	return s, nil
}

// DisableVersion disables one version (Secret Manager keeps its payload until it is
// destroyed). A missing version is ErrNotFound.
func (m *SecretManager) DisableVersion(ctx context.Context, connectorID, version string) error {
	if err := checkVersion(connectorID, version); err != nil {
		return err
	}
	m.forget(connectorID, version)
	_, err := m.client.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: m.versionName(connectorID, version)})
	if err != nil && smCode(err) != codes.FailedPrecondition { // already destroyed: not usable either
		return smError(fmt.Sprintf("disable secret version %s of connector %s", version, connectorID), err)
	}
	return nil
}

// DestroyVersion disables, then destroys one version. A missing or destroyed version is
// not an error.
func (m *SecretManager) DestroyVersion(ctx context.Context, connectorID, version string) error {
	if err := checkVersion(connectorID, version); err != nil {
		return err
	}
	m.forget(connectorID, version)
	name := m.versionName(connectorID, version)
	_, err := m.client.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: name})
	switch smCode(err) {
	case codes.OK, codes.FailedPrecondition: // FailedPrecondition: already destroyed
	case codes.NotFound:
		return nil
	default:
		return smError(fmt.Sprintf("disable secret version %s of connector %s", version, connectorID), err)
	}
	_, err = m.client.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: name})
	switch smCode(err) {
	case codes.OK, codes.NotFound, codes.FailedPrecondition:
		return nil
	}
	return smError(fmt.Sprintf("destroy secret version %s of connector %s", version, connectorID), err)
}

// Delete deletes the connector's secret with all its versions. A missing secret is not an
// error.
func (m *SecretManager) Delete(ctx context.Context, connectorID string) error {
	if err := checkSecretID(connectorID); err != nil {
		return err
	}
	m.forgetConnector(connectorID)
	err := m.client.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: m.secretName(connectorID)})
	if err != nil && smCode(err) != codes.NotFound {
		return smError("delete the secret of connector "+connectorID, err)
	}
	return nil
}

// ListConnectorIDs returns the ids of the connectors that have a secret, sorted.
func (m *SecretManager) ListConnectorIDs(ctx context.Context) ([]string, error) {
	return sortedIDs(m.SecretCreateTimes(ctx))
}

// SecretCreateTimes returns, per connector id, when its secret was created (see
// upkeep.SecretAges). Only secrets named and labelled as connector secrets count. Each page
// is a Secret Manager metadata read (a project gets about 600 a minute), so it asks for
// Secret Manager's largest page, listSecretsPage: one read per run up to 25,000 connectors.
func (m *SecretManager) SecretCreateTimes(ctx context.Context) (map[string]time.Time, error) {
	it := m.client.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{
		Parent: "projects/" + m.project, Filter: "labels." + ConnectorLabel + ":*", PageSize: listSecretsPage,
	})
	out := map[string]time.Time{}
	for {
		sec, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, smError("list connector secrets", err)
		}
		id := sec.GetLabels()[ConnectorLabel]
		if id == "" || !strings.HasSuffix(sec.GetName(), "/secrets/"+m.opts.Prefix+id) {
			continue // labelled by hand, not one of ours
		}
		out[id] = sec.GetCreateTime().AsTime()
	}
}

// listSecretsPage is the largest page Secret Manager answers a secrets listing with.
const listSecretsPage = 25000

// ListVersions returns every version of the connector's secret with its state and creation
// time (upkeep.SecretVersions); a missing secret has none.
func (m *SecretManager) ListVersions(ctx context.Context, connectorID string) ([]upkeep.SecretVersion, error) {
	if err := checkSecretID(connectorID); err != nil {
		return nil, err
	}
	it := m.client.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: m.secretName(connectorID), PageSize: 250})
	var out []upkeep.SecretVersion
	for {
		v, err := it.Next()
		switch {
		case errors.Is(err, iterator.Done):
			return out, nil
		case smCode(err) == codes.NotFound:
			return nil, nil
		case err != nil:
			return nil, smError("list the secret versions of connector "+connectorID, err)
		}
		st := upkeep.VersionEnabled
		switch v.GetState() {
		case secretmanagerpb.SecretVersion_DISABLED:
			st = upkeep.VersionDisabled
		case secretmanagerpb.SecretVersion_DESTROYED:
			st = upkeep.VersionDestroyed
		}
		name := v.GetName()
		out = append(out, upkeep.SecretVersion{Name: name[strings.LastIndex(name, "/")+1:], State: st, CreatedAt: v.GetCreateTime().AsTime()})
	}
}

func (m *SecretManager) cached(id, version string) (connector.Secrets, bool) {
	if m.opts.CacheTTL < 0 {
		return connector.Secrets{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.cache[id+"/"+version]
	if !ok || !m.now().Before(e.expires) {
		return connector.Secrets{}, false
	}
	return e.sec, true
}

func (m *SecretManager) remember(id, version string, s connector.Secrets) {
	if m.opts.CacheTTL < 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.cache) >= m.opts.CacheSize {
		for k, e := range m.cache { // drop what expired; if nothing did, drop any one
			if !now.Before(e.expires) {
				delete(m.cache, k)
			}
		}
		for k := range m.cache {
			if len(m.cache) < m.opts.CacheSize {
				break
			}
			delete(m.cache, k)
		}
	}
	m.cache[id+"/"+version] = cachedSecrets{sec: s, expires: now.Add(m.opts.CacheTTL)}
}

func (m *SecretManager) forget(id, version string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cache, id+"/"+version)
}

func (m *SecretManager) forgetConnector(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.cache {
		if strings.HasPrefix(k, id+"/") {
			delete(m.cache, k)
		}
	}
}

// checkSecretID refuses connector ids that cannot be part of a secret id and label value.
func checkSecretID(id string) error {
	if id == "" || len(id) > 63 || strings.ToLower(id) != id || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		return connector.Errorf(connector.ErrInvalid, "store: connector id %q cannot name a secret (want 1-63 lowercase letters, digits, - or _)", id)
	}
	return nil
}

// checkVersion refuses version names other than a number: never "latest".
func checkVersion(id, version string) error {
	if err := checkSecretID(id); err != nil {
		return err
	}
	if version == "" || strings.Trim(version, "0123456789") != "" {
		return connector.Errorf(connector.ErrInvalid, "store: secret version %q of connector %s is not a pinned version number", version, id)
	}
	return nil
}

// smCode returns the canonical code of a Secret Manager error. REST errors carry it by name
// in the body ("status": "FAILED_PRECONDITION"), which is more exact than the HTTP status
// (FAILED_PRECONDITION and INVALID_ARGUMENT are both 400).
func smCode(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var herr *googleapi.Error
	if errors.As(err, &herr) {
		var body struct {
			Error struct {
				Status string `json:"status"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(herr.Body), &body) == nil && body.Error.Status != "" {
			var c codes.Code
			if c.UnmarshalJSON([]byte(`"`+body.Error.Status+`"`)) == nil {
				return c
			}
		}
		if herr.Code == 409 {
			return codes.AlreadyExists
		}
	}
	return status.Code(err)
}

// smError maps a Secret Manager error to the core's kinds.
func smError(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "store: secret manager: " + op + ": no answer in time", Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("store: secret manager: %s: %w", op, err)
	}
	code := smCode(err)
	kind := backendKind(code, map[codes.Code]connector.Kind{
		codes.FailedPrecondition: connector.ErrFailedPrecondition,
		codes.Aborted:            connector.ErrUpstreamUnavailable,
	})
	msg := fmt.Sprintf("store: secret manager: %s failed (%s)", op, code)
	if code == codes.FailedPrecondition {
		msg = fmt.Sprintf("store: secret manager: %s: the version is disabled or destroyed", op)
	}
	return &connector.Error{Kind: kind, Message: msg, Err: err}
}
