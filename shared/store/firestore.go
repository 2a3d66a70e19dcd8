package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Firestore is a connector.Store in a Firestore (native mode) database.
//
// Each connector is one document in the collection, keyed by the connector's id. Names are
// unique per deployment: a second collection, named after the first with a "_names" suffix,
// holds one document per connector name (keyed by the name) pointing at the connector's id
// (a third, with a "_key_cleanups" suffix, holds connector.KeyCleanup records),
// and both documents are created, renamed and deleted in one transaction, so two
// registrations of one name cannot both commit. Update is optimistic: the transaction reads
// the document's revision field and fails with ErrConflict unless it equals the caller's.
// created_at and updated_at are server timestamps.
//
// Get reads the connector document, GetByName queries the name field: one round trip each.
// List orders by name and pushes the name, auth method and resource type filters into the
// query; label filters are applied to the query's results. The composite indexes the
// queries need are declared in infra/firestore.indexes.json (and infra/firestore.tf).
type Firestore struct {
	client   *firestore.Client
	docs     *firestore.CollectionRef
	names    *firestore.CollectionRef
	cleanups *firestore.CollectionRef // key cleanup records, see cleanups.go
}

// NewFirestore returns a store that keeps connectors in collection (and their names in
// collection + "_names") of client's database.
func NewFirestore(client *firestore.Client, collection string) *Firestore {
	return &Firestore{client: client, docs: client.Collection(collection), names: client.Collection(collection + "_names"),
		cleanups: client.Collection(collection + "_key_cleanups")}
}

// fsConnector is the stored form of a connector. Field names are the API's snake_case ones.
type fsConnector struct {
	Name              string            `firestore:"name"`
	Type              string            `firestore:"type"`
	AuthMethod        string            `firestore:"auth_method"`
	Description       string            `firestore:"description"`
	Labels            map[string]string `firestore:"labels"`
	ResourceTypes     []string          `firestore:"resource_types"`
	ResourceID        string            `firestore:"resource_id"`
	SupportsInstances bool              `firestore:"supports_instances"`
	Config            fsConfig          `firestore:"configuration"`
	SecretFields      []string          `firestore:"secret_fields"`
	SecretVersion     string            `firestore:"secret_version"`
	Owner             string            `firestore:"owner"`
	Users             []string          `firestore:"users"`
	ExpiresAt         *time.Time        `firestore:"expires_at"` // nil: the credentials do not expire
	ExpirationSeconds int64             `firestore:"expiration_seconds"`
	CleanupAfter      *time.Time        `firestore:"cleanup_after"` // nil: no secret versions to clean up
	CreatedAt         time.Time         `firestore:"created_at"`    // written by the server, see fields
	UpdatedAt         time.Time         `firestore:"updated_at"`
	Status            fsStatus          `firestore:"status"`
	Rotation          fsRotation        `firestore:"rotation"`
	Revision          int64             `firestore:"revision"`
}

type fsConfig struct {
	ProjectID               string   `firestore:"project_id"`
	ServiceAccountEmail     string   `firestore:"service_account_email"`
	TargetPrincipal         string   `firestore:"target_principal"`
	Delegates               []string `firestore:"delegates"`
	GenerateTemporaryTokens *bool    `firestore:"generate_temporary_tokens"`
}

type fsStatus struct {
	State       string     `firestore:"state"`
	CheckedAt   *time.Time `firestore:"checked_at"` // nil: never checked
	Error       string     `firestore:"error"`
	RotationDue bool       `firestore:"rotation_due"`
	// FailingTypes: comma-separated resource types (connector.Status.FailingTypes).
	FailingTypes string `firestore:"failing_types"`
	// Inconclusive and InconclusiveAt: the last check could not be made, and why.
	Inconclusive   string     `firestore:"inconclusive"`
	InconclusiveAt *time.Time `firestore:"inconclusive_at"`
	// TokensVersion and TokensUntil: see connector.Status.
	TokensVersion string     `firestore:"tokens_version"`
	TokensUntil   *time.Time `firestore:"tokens_until"`
}

// fsRotation is rotation.State (durations in seconds; zero times as nil).
type fsRotation struct {
	PeriodSeconds int64       `firestore:"period_seconds"`
	KeyID         string      `firestore:"key_id"`
	KeyCreatedAt  *time.Time  `firestore:"key_created_at"`
	KeyManaged    bool        `firestore:"key_managed"`
	KeyTracked    bool        `firestore:"key_tracked"`
	Generation    int64       `firestore:"generation"`
	Pending       *fsPending  `firestore:"pending"` // nil: no rotation in flight
	Retired       []fsRetired `firestore:"retired"`
	LastError     string      `firestore:"last_error"`
}

type fsPending struct {
	Generation  int64      `firestore:"generation"`
	Claim       string     `firestore:"claim"`
	StartedAt   time.Time  `firestore:"started_at"`
	FromVersion string     `firestore:"from_version"`
	KnownKeys   []string   `firestore:"known_keys"`
	Email       string     `firestore:"email"`
	KeyID       string     `firestore:"key_id"`
	Version     string     `firestore:"version"`
	VerifyBy    *time.Time `firestore:"verify_by"` // nil: not verifying yet
}

type fsRetired struct {
	KeyID         string     `firestore:"key_id"`
	Version       string     `firestore:"version"`
	Email         string     `firestore:"email"`
	RetiredAt     *time.Time `firestore:"retired_at"`
	DeleteAfter   time.Time  `firestore:"delete_after"`
	Managed       bool       `firestore:"managed"`
	TokensUntil   *time.Time `firestore:"tokens_until"`
	TokensTracked bool       `firestore:"tokens_tracked"`
	Lost          *fsLost    `firestore:"lost"`
}

type fsLost struct {
	From      time.Time `firestore:"from"`
	To        time.Time `firestore:"to"`
	KnownKeys []string  `firestore:"known_keys"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func toRetired(k rotation.RetiredKey) fsRetired {
	d := fsRetired{KeyID: k.KeyID, Version: k.Version, Email: k.Email, RetiredAt: timePtr(k.RetiredAt), DeleteAfter: k.DeleteAfter.UTC(),
		Managed: k.Managed, TokensUntil: timePtr(k.TokensUntil), TokensTracked: k.TokensTracked}
	if l := k.Lost; l != nil {
		d.Lost = &fsLost{From: l.From.UTC(), To: l.To.UTC(), KnownKeys: l.KnownKeys}
	}
	return d
}

func fromRetired(d fsRetired) rotation.RetiredKey {
	k := rotation.RetiredKey{KeyID: d.KeyID, Version: d.Version, Email: d.Email, RetiredAt: timeOf(d.RetiredAt), DeleteAfter: d.DeleteAfter.UTC(),
		Managed: d.Managed, TokensUntil: timeOf(d.TokensUntil), TokensTracked: d.TokensTracked}
	if l := d.Lost; l != nil {
		k.Lost = &rotation.LostKey{From: l.From.UTC(), To: l.To.UTC(), KnownKeys: l.KnownKeys}
	}
	return k
}

func toRotation(r rotation.State) fsRotation {
	d := fsRotation{PeriodSeconds: int64(r.Period / time.Second), KeyID: r.KeyID, KeyManaged: r.KeyManaged, KeyTracked: r.KeyTracked,
		Generation: r.Generation, LastError: r.LastError}
	if !r.KeyCreatedAt.IsZero() {
		t := r.KeyCreatedAt.UTC()
		d.KeyCreatedAt = &t
	}
	if p := r.Pending; p != nil {
		d.Pending = &fsPending{Generation: p.Generation, Claim: p.Claim, StartedAt: p.StartedAt.UTC(), FromVersion: p.FromVersion,
			KnownKeys: p.KnownKeys, Email: p.Email, KeyID: p.KeyID, Version: p.Version, VerifyBy: timePtr(p.VerifyBy)}
	}
	for _, k := range r.Retired {
		d.Retired = append(d.Retired, toRetired(k))
	}
	return d
}

func fromRotation(d fsRotation) rotation.State {
	r := rotation.State{Period: time.Duration(d.PeriodSeconds) * time.Second, KeyID: d.KeyID, KeyManaged: d.KeyManaged, KeyTracked: d.KeyTracked,
		Generation: d.Generation, LastError: d.LastError}
	if d.KeyCreatedAt != nil {
		r.KeyCreatedAt = d.KeyCreatedAt.UTC()
	}
	if p := d.Pending; p != nil {
		r.Pending = &rotation.Pending{Generation: p.Generation, Claim: p.Claim, StartedAt: p.StartedAt.UTC(),
			FromVersion: p.FromVersion, KnownKeys: p.KnownKeys, Email: p.Email, KeyID: p.KeyID, Version: p.Version, VerifyBy: timeOf(p.VerifyBy)}
	}
	for _, k := range d.Retired {
		r.Retired = append(r.Retired, fromRetired(k))
	}
	return r
}

// fsName is a name document: which connector holds the name.
type fsName struct {
	ID string `firestore:"connector_id"`
}

func toDoc(c *connector.Connector) *fsConnector {
	d := &fsConnector{
		Name: c.Name, Type: c.Type, AuthMethod: string(c.AuthMethod), Description: c.Description,
		Labels: maps.Clone(c.Labels), ResourceID: c.ResourceID, SupportsInstances: c.SupportsInstances,
		Config: fsConfig{
			ProjectID: c.Config.ProjectID, ServiceAccountEmail: c.Config.ServiceAccountEmail,
			TargetPrincipal: c.Config.TargetPrincipal, Delegates: c.Config.Delegates,
			GenerateTemporaryTokens: c.Config.GenerateTemporaryTokens,
		},
		SecretFields: c.SecretFields, SecretVersion: c.SecretVersion, Owner: c.Owner, Users: c.Users,
		ExpirationSeconds: int64(c.ExpirationSeconds),
		CleanupAfter:      timePtr(c.CleanupAfter),
		Status:            toStatus(c.Status),
		Rotation:          toRotation(c.Rotation),
		Revision:          c.Revision,
	}
	for _, rt := range c.ResourceTypes {
		d.ResourceTypes = append(d.ResourceTypes, string(rt))
	}
	if !c.ExpiresAt.IsZero() {
		t := c.ExpiresAt.UTC()
		d.ExpiresAt = &t
	}
	return d
}

func toStatus(st connector.Status) fsStatus {
	d := fsStatus{State: string(st.State), Error: st.Error, RotationDue: st.RotationDue,
		FailingTypes: st.FailingTypes, Inconclusive: st.Inconclusive, TokensVersion: st.TokensVersion, TokensUntil: timePtr(st.TokensUntil)}
	if !st.CheckedAt.IsZero() {
		t := st.CheckedAt.UTC()
		d.CheckedAt = &t
	}
	if !st.InconclusiveAt.IsZero() {
		t := st.InconclusiveAt.UTC()
		d.InconclusiveAt = &t
	}
	return d
}

func fromStatus(d fsStatus) connector.Status {
	st := connector.Status{State: connector.State(d.State), Error: d.Error, RotationDue: d.RotationDue,
		FailingTypes: d.FailingTypes, Inconclusive: d.Inconclusive, TokensVersion: d.TokensVersion, TokensUntil: timeOf(d.TokensUntil)}
	if d.CheckedAt != nil {
		st.CheckedAt = d.CheckedAt.UTC()
	}
	if d.InconclusiveAt != nil {
		st.InconclusiveAt = d.InconclusiveAt.UTC()
	}
	return st
}

func fromDoc(id string, d *fsConnector) *connector.Connector {
	c := &connector.Connector{
		ID: id, Name: d.Name, Type: d.Type, AuthMethod: connector.AuthMethod(d.AuthMethod), Description: d.Description,
		Labels: d.Labels, ResourceID: d.ResourceID, SupportsInstances: d.SupportsInstances,
		Config: connector.Config{
			ProjectID: d.Config.ProjectID, ServiceAccountEmail: d.Config.ServiceAccountEmail,
			TargetPrincipal: d.Config.TargetPrincipal, Delegates: d.Config.Delegates,
			GenerateTemporaryTokens: d.Config.GenerateTemporaryTokens,
		},
		SecretFields: d.SecretFields, SecretVersion: d.SecretVersion, Owner: d.Owner, Users: d.Users,
		ExpirationSeconds: int(d.ExpirationSeconds),
		CreatedAt:         d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		Status:   fromStatus(d.Status),
		Rotation: fromRotation(d.Rotation),
		Revision: d.Revision,
	}
	for _, rt := range d.ResourceTypes {
		c.ResourceTypes = append(c.ResourceTypes, connector.ResourceType(rt))
	}
	if d.ExpiresAt != nil {
		c.ExpiresAt = d.ExpiresAt.UTC()
	}
	if d.CleanupAfter != nil {
		c.CleanupAfter = d.CleanupAfter.UTC()
	}
	return c
}

// fields returns d as written: the same fields as d, but updated_at (and created_at when
// created is nil) set to firestore.ServerTimestamp, so the server stamps the write. (The
// client accepts the sentinel only as a map value.)
func (d *fsConnector) fields(created *time.Time) map[string]any {
	var createdAt any = firestore.ServerTimestamp
	if created != nil {
		createdAt = *created
	}
	return map[string]any{
		"name": d.Name, "type": d.Type, "auth_method": d.AuthMethod, "description": d.Description,
		"labels": d.Labels, "resource_types": d.ResourceTypes, "resource_id": d.ResourceID,
		"supports_instances": d.SupportsInstances, "configuration": d.Config,
		"secret_fields": d.SecretFields, "secret_version": d.SecretVersion, "owner": d.Owner, "users": d.Users,
		"expires_at": d.ExpiresAt, "expiration_seconds": d.ExpirationSeconds, "cleanup_after": d.CleanupAfter, "status": d.Status, "rotation": d.Rotation,
		"revision": d.Revision, "created_at": createdAt, "updated_at": firestore.ServerTimestamp,
	}
}

// safeKey matches names usable as document ids as they are; others are encoded.
var safeKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

// nameKey returns the id of the name document of name. Names that could not be document ids
// (a slash, "..", too long) are base64url-encoded behind a "~", which no plain key starts with.
func nameKey(name string) string {
	if safeKey.MatchString(name) {
		return name
	}
	return "~" + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// validID reports whether id can be a document id.
func validID(id string) bool {
	return id != "" && len(id) <= 1500 && !strings.Contains(id, "/") && id != "." && id != ".." &&
		!(strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"))
}

// Create stores c under c.ID together with its name document, in one transaction.
func (f *Firestore) Create(ctx context.Context, c *connector.Connector) error {
	if c == nil || !validID(c.ID) || c.Name == "" {
		return connector.Errorf(connector.ErrInvalid, "store: create: a connector needs a valid id and a name")
	}
	d := toDoc(c)
	d.Revision = 1
	var resp firestore.CommitResponse
	err := f.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := tx.Create(f.names.Doc(nameKey(c.Name)), fsName{ID: c.ID}); err != nil {
			return err
		}
		return tx.Create(f.docs.Doc(c.ID), d.fields(nil))
	}, firestore.WithCommitResponseTo(&resp))
	if status.Code(err) == codes.AlreadyExists {
		return f.whichExists(ctx, c)
	}
	if err != nil {
		return fsError("create connector", err)
	}
	c.Revision = 1
	c.CreatedAt, c.UpdatedAt = f.stamps(ctx, c.ID, 1, resp.CommitTime())
	return nil
}

// stamps reads back the server timestamps of the write that gave connector id revision rev.
// The server resolves them when it applies the write, which is not exactly the commit time
// the client sees; the commit time is the fallback if the read fails or sees a later write.
func (f *Firestore) stamps(ctx context.Context, id string, rev int64, commit time.Time) (created, updated time.Time) {
	snap, err := f.docs.Doc(id).Get(ctx)
	if err == nil {
		if c, err := decode(snap); err == nil && c.Revision == rev {
			return c.CreatedAt, c.UpdatedAt
		}
	}
	return commit.UTC(), commit.UTC()
}

// whichExists explains a failed create: the name is taken, or the id.
func (f *Firestore) whichExists(ctx context.Context, c *connector.Connector) error {
	snap, err := f.names.Doc(nameKey(c.Name)).Get(ctx)
	if err == nil && snap.Exists() {
		return connector.Errorf(connector.ErrAlreadyExists, "a connector named %q already exists", c.Name)
	}
	return connector.Errorf(connector.ErrAlreadyExists, "a connector with id %q already exists", c.ID)
}

// Get returns the connector with id.
func (f *Firestore) Get(ctx context.Context, id string) (*connector.Connector, error) {
	if !validID(id) {
		return nil, notFoundID(id)
	}
	snap, err := f.docs.Doc(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, notFoundID(id)
	}
	if err != nil {
		return nil, fsError("get connector", err)
	}
	return decode(snap)
}

func decode(snap *firestore.DocumentSnapshot) (*connector.Connector, error) {
	noField := noMarkField // DataTo leaves it as it is for a document without the field
	d := fsConnector{CleanupAfter: &noField}
	if err := snap.DataTo(&d); err != nil {
		return nil, &connector.Error{Kind: connector.ErrInternal, Message: "store: decode connector " + snap.Ref.ID, Err: err}
	}
	if d.CleanupAfter != nil && d.CleanupAfter.Equal(noMarkField) {
		d.CleanupAfter = legacyMark(&d)
	}
	return fromDoc(snap.Ref.ID, &d), nil
}

// GetByName returns the connector named name: one query on the name field (one round trip,
// one billed read, strongly consistent like every Firestore query). The name documents only
// keep names unique; reading one first would cost a second round trip on every lookup.
func (f *Firestore) GetByName(ctx context.Context, name string) (*connector.Connector, error) {
	if name == "" {
		return nil, notFoundName(name)
	}
	it := f.docs.Where("name", "==", name).Limit(1).Documents(ctx)
	defer it.Stop()
	snap, err := it.Next()
	if errors.Is(err, iterator.Done) {
		return nil, notFoundName(name)
	}
	if err != nil {
		return nil, fsError("get connector by name", err)
	}
	return decode(snap)
}

// List returns one page of the connectors matching f, ordered by name.
func (f *Firestore) List(ctx context.Context, flt connector.Filter, p connector.Page) ([]*connector.Connector, string, error) {
	after, err := decodeToken(p.Token)
	if err != nil {
		return nil, "", err
	}
	size := pageSize(p.Size)
	var q firestore.Query
	exact := len(flt.Labels) == 0 // every condition is in the query
	if flt.Name != "" {
		// At most one connector has the name: no ordering or cursor needed, and no index.
		q = f.docs.Where("name", "==", flt.Name).Limit(1)
		exact = false
	} else {
		q = f.docs.Query
		if flt.AuthMethod != "" {
			q = q.Where("auth_method", "==", string(flt.AuthMethod))
		}
		if flt.ResourceType != "" {
			q = q.Where("resource_types", "array-contains", string(flt.ResourceType))
		}
		q = q.OrderBy("name", firestore.Asc)
		if after != "" {
			q = q.StartAfter(after)
		}
		if exact {
			q = q.Limit(size + 1)
		}
	}
	it := q.Documents(ctx)
	defer it.Stop()
	var out []*connector.Connector
	more := false
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, "", fsError("list connectors", err)
		}
		c, err := decode(snap)
		if err != nil {
			return nil, "", err
		}
		if !matches(c, flt) || c.Name <= after {
			continue
		}
		if len(out) == size {
			more = true
			break
		}
		out = append(out, c)
	}
	if !more {
		return out, "", nil
	}
	return out, encodeToken(out[len(out)-1].Name), nil
}

// Update replaces the connector c.ID if its stored revision is c.Revision, moving its name
// document when the name changes, in one transaction. It writes the stored status back
// unchanged (and sets it on c): only Create and SetStatus write the status.
func (f *Firestore) Update(ctx context.Context, c *connector.Connector) error {
	if c == nil || c.ID == "" || c.Name == "" {
		return connector.Errorf(connector.ErrInvalid, "store: update: connector id and name are required")
	}
	if !validID(c.ID) {
		return notFoundID(c.ID)
	}
	ref := f.docs.Doc(c.ID)
	var revision int64
	var stored fsStatus
	var resp firestore.CommitResponse
	err := f.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var cur fsConnector
		if err := txGetConnector(tx, ref, c.ID, &cur); err != nil {
			return err
		}
		if cur.Revision != c.Revision {
			return conflict(c.ID, c.Revision, cur.Revision)
		}
		if cur.Name != c.Name {
			newName := f.names.Doc(nameKey(c.Name))
			ns, err := tx.Get(newName)
			if err == nil && ns.Exists() {
				return connector.Errorf(connector.ErrAlreadyExists, "a connector named %q already exists", c.Name)
			}
			if err != nil && status.Code(err) != codes.NotFound {
				return err
			}
			if err := tx.Create(newName, fsName{ID: c.ID}); err != nil {
				return err
			}
			if err := tx.Delete(f.names.Doc(nameKey(cur.Name))); err != nil {
				return err
			}
		}
		d := toDoc(c)
		d.Revision = cur.Revision + 1
		d.Status = cur.Status
		revision, stored = d.Revision, cur.Status
		return tx.Set(ref, d.fields(&cur.CreatedAt))
	}, firestore.WithCommitResponseTo(&resp))
	if err != nil {
		return fsError("update connector", err)
	}
	c.Revision, c.Status = revision, fromStatus(stored)
	c.CreatedAt, c.UpdatedAt = f.stamps(ctx, c.ID, revision, resp.CommitTime())
	return nil
}

// SetStatus replaces the status of connector c.ID with st if its stored revision and status
// are c's: it reads the document and, when they match, writes a field update of the status
// alone conditioned on the document's update time as read (Firestore refuses the write if
// anything changed the document since), so revision and updated_at stay as they are. One
// read and one commit, without a transaction: a sweep writes every connector's status, and a
// transaction costs a third round trip and holds locks. A write that loses to a concurrent
// one reads again, at most setStatusAttempts times.
func (f *Firestore) SetStatus(ctx context.Context, c *connector.Connector, st connector.Status) error {
	return f.setField(ctx, c, statusWrite(c, st), "status", toStatus(st), decodeStatus)
}

// decodeStatus reads only the revision and status of a connector document.
func decodeStatus(snap *firestore.DocumentSnapshot) (*connector.Connector, error) {
	var cur struct {
		Status   fsStatus `firestore:"status"`
		Revision int64    `firestore:"revision"`
	}
	if err := snap.DataTo(&cur); err != nil {
		return nil, &connector.Error{Kind: connector.ErrInternal, Message: "store: decode connector " + snap.Ref.ID, Err: err}
	}
	return &connector.Connector{Revision: cur.Revision, Status: fromStatus(cur.Status)}, nil
}

// setField makes w on connector c.ID's document, writing value to its field path, and on c:
// it reads the document (read decodes as much of it as w needs) and, when the stored revision
// is c's and w finds the field as c has it, writes a field update conditioned on the
// document's update time as read, reading again while a write lands in between
// (readThenWrite). Revision and updated_at stay as they are.
func (f *Firestore) setField(ctx context.Context, c *connector.Connector, w fieldWrite, path string, value any, read func(*firestore.DocumentSnapshot) (*connector.Connector, error)) error {
	what := w.what
	if c == nil || c.ID == "" {
		return connector.Errorf(connector.ErrInvalid, "store: set %s: connector id is required", what)
	}
	if !validID(c.ID) {
		return notFoundID(c.ID)
	}
	ref := f.docs.Doc(c.ID)
	err := readThenWrite(c.ID, "its "+what+" was being set", func() error {
		snap, err := ref.Get(ctx)
		if status.Code(err) == codes.NotFound {
			return notFoundID(c.ID)
		}
		if err != nil {
			return err
		}
		cur, err := read(snap)
		switch {
		case err != nil:
			return err
		case cur.Revision != c.Revision:
			return conflict(c.ID, c.Revision, cur.Revision)
		case !w.same(cur):
			return fieldConflict(what, c.ID)
		}
		_, err = ref.Update(ctx, []firestore.Update{{Path: path, Value: value}}, firestore.LastUpdateTime(snap.UpdateTime))
		if status.Code(err) == codes.NotFound {
			return notFoundID(c.ID)
		}
		return err
	})
	if err != nil {
		return fsError("set connector "+what, err)
	}
	w.set(c)
	return nil
}

// setStatusAttempts bounds the reads SetStatus (and SetCleanupAfter) makes when concurrent
// writes keep winning.
const setStatusAttempts = 5

// readThenWrite runs once, a read and a write conditioned on the document's update time as
// read, until the write is not refused for a write that landed in between (at most
// setStatusAttempts times; then ErrConflict, saying while what connector id was written).
func readThenWrite(id, while string, once func() error) error {
	for attempt := 1; ; attempt++ {
		err := once()
		if status.Code(err) != codes.FailedPrecondition {
			return err
		}
		if attempt == setStatusAttempts {
			return &connector.Error{Kind: connector.ErrConflict, Err: err,
				Message: fmt.Sprintf("store: connector %s was written %d times while %s", id, attempt, while)}
		}
		// written meanwhile: decide again on what is stored now
	}
}

// txGetConnector reads the connector document ref (connector id) in tx into v: ErrNotFound
// when there is none, ErrInternal when it does not decode.
func txGetConnector(tx *firestore.Transaction, ref *firestore.DocumentRef, id string, v any) error {
	snap, err := tx.Get(ref)
	if status.Code(err) == codes.NotFound {
		return notFoundID(id)
	}
	if err != nil {
		return err
	}
	if err := snap.DataTo(v); err != nil {
		return &connector.Error{Kind: connector.ErrInternal, Message: "store: decode connector " + id, Err: err}
	}
	return nil
}

// Delete removes the connector id and its name document, in one transaction.
func (f *Firestore) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return notFoundID(id)
	}
	ref := f.docs.Doc(id)
	err := f.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return notFoundID(id)
		}
		if err != nil {
			return err
		}
		name, err := snap.DataAt("name")
		if err != nil {
			return &connector.Error{Kind: connector.ErrInternal, Message: "store: decode connector " + id, Err: err}
		}
		if err := tx.Delete(ref); err != nil {
			return err
		}
		if n, ok := name.(string); ok && n != "" {
			return tx.Delete(f.names.Doc(nameKey(n)))
		}
		return nil
	})
	if err != nil {
		return fsError("delete connector", err)
	}
	return nil
}

// fsError maps a Firestore error to the core's kinds; errors that already have a kind pass.
func fsError(op string, err error) error {
	var ce *connector.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &connector.Error{Kind: connector.ErrUpstreamUnavailable, Message: "store: firestore " + op + ": no answer in time", Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("store: firestore %s: %w", op, err)
	}
	code := status.Code(err)
	if code == codes.Canceled {
		return fmt.Errorf("store: firestore %s: %w", op, context.Canceled)
	}
	// Aborted: contention outlasted the transaction's retries.
	kind := backendKind(code, map[codes.Code]connector.Kind{codes.Aborted: connector.ErrConflict})
	return &connector.Error{Kind: kind, Message: fmt.Sprintf("store: firestore %s failed (%s)", op, code), Err: err}
}

// backendKinds are the kinds of the gRPC codes that Firestore and Secret Manager mean alike.
var backendKinds = map[codes.Code]connector.Kind{
	codes.NotFound:          connector.ErrNotFound,
	codes.AlreadyExists:     connector.ErrAlreadyExists,
	codes.InvalidArgument:   connector.ErrInvalid,
	codes.OutOfRange:        connector.ErrInvalid,
	codes.Unavailable:       connector.ErrUpstreamUnavailable,
	codes.DeadlineExceeded:  connector.ErrUpstreamUnavailable,
	codes.ResourceExhausted: connector.ErrUpstreamUnavailable,
}

// backendKind is the kind of a Google backend's gRPC code: the backend's own reading in own,
// else the common one (backendKinds), else ErrInternal.
func backendKind(code codes.Code, own map[codes.Code]connector.Kind) connector.Kind {
	if k, ok := own[code]; ok {
		return k
	}
	if k, ok := backendKinds[code]; ok {
		return k
	}
	return connector.ErrInternal
}
