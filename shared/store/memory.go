package store

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gcpconn/gcpconn/internal/inject"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Memory is a connector.Store in process memory. The zero value is not usable; call
// NewMemory. It is safe for concurrent use, and copies connectors in and out, so callers
// never share its maps and slices.
type Memory struct {
	// Now stamps CreatedAt and UpdatedAt; nil means time.Now. Set it before first use.
	Now func() time.Time

	mu     sync.RWMutex
	byID   map[string]*connector.Connector
	byName map[string]string // name → id
	// cleanups are the key cleanup records of deleted connectors (cleanups.go).
	cleanups map[string]connector.KeyCleanup
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{byID: map[string]*connector.Connector{}, byName: map[string]string{}}
}

func (m *Memory) now() time.Time { return nowUTC(m.Now) }

// nowUTC is now() in UTC, or time.Now when now is nil.
func nowUTC(now func() time.Time) time.Time { return inject.Now(now).UTC() }

// Create stores c under c.ID and sets its CreatedAt, UpdatedAt and Revision.
func (m *Memory) Create(ctx context.Context, c *connector.Connector) error {
	unlock, err := m.lockFor(ctx, c, "create", true)
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok := m.byID[c.ID]; ok {
		return connector.Errorf(connector.ErrAlreadyExists, "a connector with id %q already exists", c.ID)
	}
	if _, ok := m.byName[c.Name]; ok {
		return connector.Errorf(connector.ErrAlreadyExists, "a connector named %q already exists", c.Name)
	}
	now := m.now()
	c.CreatedAt, c.UpdatedAt, c.Revision = now, now, 1
	m.byID[c.ID] = c.Clone()
	m.byName[c.Name] = c.ID
	return nil
}

// Get returns the connector with id.
func (m *Memory) Get(ctx context.Context, id string) (*connector.Connector, error) {
	return m.get(ctx, id, false)
}

// GetByName returns the connector named name.
func (m *Memory) GetByName(ctx context.Context, name string) (*connector.Connector, error) {
	return m.get(ctx, name, true)
}

// get returns a copy of the connector with id key, or named key when byName.
func (m *Memory) get(ctx context.Context, key string, byName bool) (*connector.Connector, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	id := key
	if byName {
		var ok bool
		if id, ok = m.byName[key]; !ok {
			return nil, notFoundName(key)
		}
	}
	c, ok := m.byID[id]
	if !ok {
		return nil, notFoundID(id)
	}
	return c.Clone(), nil
}

// List returns one page of the connectors matching f, ordered by name.
func (m *Memory) List(ctx context.Context, f connector.Filter, p connector.Page) ([]*connector.Connector, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	after, err := decodeToken(p.Token)
	if err != nil {
		return nil, "", err
	}
	size := pageSize(p.Size)
	m.mu.RLock()
	names := make([]string, 0, len(m.byName))
	for name := range m.byName {
		if name > after {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []*connector.Connector
	more := false
	for _, name := range names {
		c := m.byID[m.byName[name]]
		if !matches(c, f) {
			continue
		}
		if len(out) == size {
			more = true
			break
		}
		out = append(out, c.Clone())
	}
	m.mu.RUnlock()
	if !more {
		return out, "", nil
	}
	return out, encodeToken(out[len(out)-1].Name), nil
}

// Update replaces the stored configuration of connector c.ID when its Revision is
// c.Revision; the stored Status is kept (and set on c).
func (m *Memory) Update(ctx context.Context, c *connector.Connector) error {
	old, unlock, err := m.lockStored(ctx, c, "update", true)
	if err != nil {
		return err
	}
	defer unlock()
	if c.Name != old.Name {
		if _, taken := m.byName[c.Name]; taken {
			return connector.Errorf(connector.ErrAlreadyExists, "a connector named %q already exists", c.Name)
		}
		delete(m.byName, old.Name)
		m.byName[c.Name] = c.ID
	}
	c.CreatedAt = old.CreatedAt
	c.UpdatedAt = m.now()
	c.Revision = old.Revision + 1
	c.Status = old.Status
	m.byID[c.ID] = c.Clone()
	return nil
}

// SetStatus replaces the Status of connector c.ID with st when its stored Revision and Status
// are c's; Revision and UpdatedAt stay.
func (m *Memory) SetStatus(ctx context.Context, c *connector.Connector, st connector.Status) error {
	return m.setField(ctx, c, statusWrite(c, st))
}

// fieldWrite is a write of one field that background work makes (SetStatus, SetCleanupAfter)
// and that changes neither Revision nor UpdatedAt: what names the field in errors, same says
// whether a stored connector's field is still as the writer read it, set writes the new value
// into a connector.
type fieldWrite struct {
	what string
	same func(stored *connector.Connector) bool
	set  func(*connector.Connector)
}

// statusWrite replaces the Status that c was read with by st.
func statusWrite(c *connector.Connector, st connector.Status) fieldWrite {
	return fieldWrite{
		what: "status",
		same: func(stored *connector.Connector) bool { return stored.Status.Equal(c.Status) },
		set:  func(x *connector.Connector) { x.Status = st },
	}
}

// setField makes w on connector c.ID, and on c, when the stored Revision is c's and w finds
// the field as c has it.
func (m *Memory) setField(ctx context.Context, c *connector.Connector, w fieldWrite) error {
	cur, unlock, err := m.lockStored(ctx, c, "set "+w.what, false)
	if err != nil {
		return err
	}
	defer unlock()
	if !w.same(cur) {
		return fieldConflict(w.what, c.ID)
	}
	w.set(cur)
	w.set(c)
	return nil
}

// lockFor takes the write lock for op on c, after refusing a done ctx and a connector without
// an id (or, when named, a name); the caller calls unlock.
func (m *Memory) lockFor(ctx context.Context, c *connector.Connector, op string, named bool) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case named && (c == nil || c.ID == "" || c.Name == ""):
		return nil, connector.Errorf(connector.ErrInvalid, "store: %s: connector id and name are required", op)
	case c == nil || c.ID == "":
		return nil, connector.Errorf(connector.ErrInvalid, "store: %s: connector id is required", op)
	}
	m.mu.Lock()
	return m.mu.Unlock, nil
}

// lockStored takes the write lock for op on c (lockFor) and returns the stored connector c.ID
// if its Revision is still c's; the caller calls unlock when err is nil.
func (m *Memory) lockStored(ctx context.Context, c *connector.Connector, op string, named bool) (stored *connector.Connector, unlock func(), err error) {
	unlock, err = m.lockFor(ctx, c, op, named)
	if err != nil {
		return nil, nil, err
	}
	stored, ok := m.byID[c.ID]
	switch {
	case !ok:
		err = notFoundID(c.ID)
	case stored.Revision != c.Revision:
		err = conflict(c.ID, c.Revision, stored.Revision)
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return stored, unlock, nil
}

// Delete removes the connector id.
func (m *Memory) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.byID[id]
	if !ok {
		return notFoundID(id)
	}
	delete(m.byID, id)
	delete(m.byName, c.Name)
	return nil
}

func notFoundID(id string) error {
	return connector.Errorf(connector.ErrNotFound, "connector %q not found", id)
}

func notFoundName(name string) error {
	return connector.Errorf(connector.ErrNotFound, "connector %q not found", name)
}

func conflict(id string, have, stored int64) error {
	return connector.Errorf(connector.ErrConflict,
		"connector %q was changed by someone else (revision %d, now %d): read it again and retry", id, have, stored)
}

// fieldConflict is the error of a fieldWrite whose field someone else changed since it was read.
func fieldConflict(what, id string) error {
	return connector.Errorf(connector.ErrConflict, "the %s of connector %q was changed by someone else: read it again and retry", what, id)
}

// secretState is the lifecycle state of one secret version.
type secretState int

const (
	versionEnabled secretState = iota
	versionDisabled
	versionDestroyed
)

// MemorySecrets is a connector.SecretStore in process memory, with Secret Manager's version
// lifecycle: versions are numbered "1", "2", ... per connector and are enabled, disabled or
// destroyed. Call NewMemorySecrets; it is safe for concurrent use.
type MemorySecrets struct {
	// Now stamps secret creation times (see SecretCreateTimes); nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	secrets map[string]*memSecret // by connector id
}

type memSecret struct {
	created  time.Time
	next     int
	versions map[string]*memVersion
	schedule Schedule
}

type memVersion struct {
	fields  map[string]string
	state   secretState
	created time.Time
}

// NewMemorySecrets returns an empty in-memory secret store.
func NewMemorySecrets() *MemorySecrets {
	return &MemorySecrets{secrets: map[string]*memSecret{}}
}

func (m *MemorySecrets) now() time.Time { return nowUTC(m.Now) }

// ConnectorOfSecret names secrets as SecretManager does by default (SecretPrefix + id), so
// tests can deliver Secret Manager notifications about the secrets it keeps.
func (m *MemorySecrets) ConnectorOfSecret(secret string, labels map[string]string) (string, bool) {
	return ownerOfSecret(SecretPrefix, secret, labels)
}

// SecretName names the connector's secret as Secret Manager would without a project:
// memory/secrets/gcpconn-<id> (connector.SecretStore). The values live in this process only.
func (m *MemorySecrets) SecretName(connectorID string) string {
	return "memory/secrets/" + SecretPrefix + connectorID
}

// AddVersion stores s as a new version of the connector's secret.
func (m *MemorySecrets) AddVersion(ctx context.Context, connectorID string, s connector.Secrets) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if connectorID == "" {
		return "", connector.Errorf(connector.ErrInvalid, "store: add secret version: connector id is required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sec, ok := m.secrets[connectorID]
	if !ok {
		sec = &memSecret{created: m.now(), versions: map[string]*memVersion{}}
		m.secrets[connectorID] = sec
	}
	sec.next++
	v := strconv.Itoa(sec.next)
	sec.versions[v] = &memVersion{fields: s.Fields(), created: m.now()}
	return v, nil
}

// AccessFresh is Access: the memory store keeps no other copy to read past.
func (m *MemorySecrets) AccessFresh(ctx context.Context, connectorID, version string) (connector.Secrets, error) {
	return m.Access(ctx, connectorID, version)
}

// Access returns the values of one enabled version.
func (m *MemorySecrets) Access(ctx context.Context, connectorID, version string) (connector.Secrets, error) {
	var fields map[string]string
	err := m.withVersion(ctx, connectorID, version, func(v *memVersion) error {
		switch v.state {
		case versionDisabled:
			return versionUnusable(connectorID, version, "disabled")
		case versionDestroyed:
			return versionUnusable(connectorID, version, "destroyed")
		}
		fields = maps.Clone(v.fields)
		return nil
	})
	if err != nil {
		return connector.Secrets{}, err
	}
	return connector.SecretsFromFields(fields)
}

// DisableVersion disables one version: Access then fails until it is enabled again (which
// gcpconn never does). Refresh and tests use it; a missing version is ErrNotFound.
func (m *MemorySecrets) DisableVersion(ctx context.Context, connectorID, version string) error {
	return m.withVersion(ctx, connectorID, version, func(v *memVersion) error {
		if v.state == versionEnabled {
			v.state = versionDisabled
		}
		return nil
	})
}

// DestroyVersion disables, then destroys one version, dropping its values.
func (m *MemorySecrets) DestroyVersion(ctx context.Context, connectorID, version string) error {
	err := m.withVersion(ctx, connectorID, version, func(v *memVersion) error {
		v.state, v.fields = versionDestroyed, nil
		return nil
	})
	if errors.Is(err, connector.ErrNotFound) {
		return nil // missing: nothing to destroy
	}
	return err
}

// withVersion calls fn with one version of the connector's secret, under the lock, and
// returns its error; a missing secret or version is ErrNotFound, a done ctx its error.
func (m *MemorySecrets) withVersion(ctx context.Context, connectorID, version string, fn func(*memVersion) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.version(connectorID, version)
	if err != nil {
		return err
	}
	return fn(v)
}

// Delete removes the connector's secret with all its versions.
func (m *MemorySecrets) Delete(ctx context.Context, connectorID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.secrets, connectorID)
	return nil
}

// ListConnectorIDs returns the ids of the connectors that have a secret, sorted.
func (m *MemorySecrets) ListConnectorIDs(ctx context.Context) ([]string, error) {
	return sortedIDs(m.SecretCreateTimes(ctx))
}

// sortedIDs returns the connector ids of a SecretCreateTimes answer, sorted, or its error.
func sortedIDs(created map[string]time.Time, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(created)), nil
}

// SecretCreateTimes returns, per connector id, when its secret was created (see
// upkeep.SecretAges).
func (m *MemorySecrets) SecretCreateTimes(ctx context.Context) (map[string]time.Time, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]time.Time, len(m.secrets))
	for id, s := range m.secrets {
		out[id] = s.created
	}
	return out, nil
}

// ListVersions returns every version of the connector's secret with its state and creation
// time (upkeep.SecretVersions); a missing secret has none.
func (m *MemorySecrets) ListVersions(ctx context.Context, connectorID string) ([]upkeep.SecretVersion, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[connectorID]
	if !ok {
		return nil, nil
	}
	out := make([]upkeep.SecretVersion, 0, len(s.versions))
	for name, v := range s.versions {
		st := upkeep.VersionEnabled
		switch v.state {
		case versionDisabled:
			st = upkeep.VersionDisabled
		case versionDestroyed:
			st = upkeep.VersionDestroyed
		}
		out = append(out, upkeep.SecretVersion{Name: name, State: st, CreatedAt: v.created})
	}
	return out, nil
}

// Versions returns the enabled versions of the connector's secret, sorted: what a test
// inspects to prove that no unpinned version was left behind.
func (m *MemorySecrets) Versions(connectorID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	if s, ok := m.secrets[connectorID]; ok {
		for name, v := range s.versions {
			if v.state == versionEnabled {
				out = append(out, name)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return out
}

// version returns one version, or ErrNotFound; m.mu must be held.
func (m *MemorySecrets) version(connectorID, version string) (*memVersion, error) {
	s, ok := m.secrets[connectorID]
	if !ok {
		return nil, connector.Errorf(connector.ErrNotFound, "no secret for connector %q", connectorID)
	}
	v, ok := s.versions[version]
	if !ok {
		return nil, connector.Errorf(connector.ErrNotFound, "secret version %q of connector %q not found", version, connectorID)
	}
	return v, nil
}

func versionUnusable(connectorID, version, state string) error {
	return connector.Errorf(connector.ErrFailedPrecondition,
		"secret version %q of connector %q is %s: update the connector with new credentials", version, connectorID, state)
}
