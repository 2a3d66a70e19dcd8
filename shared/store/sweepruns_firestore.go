package store

import (
	"context"
	"errors"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// ListIDs returns at most n connector ids after the cursor after, in ascending order: a
// query on document ids that returns no fields (one billed read per id, no document data
// sent).
func (f *Firestore) ListIDs(ctx context.Context, after string, n int) ([]string, error) {
	q := f.docs.OrderBy(firestore.DocumentID, firestore.Asc).Select().Limit(max(n, 1))
	if after != "" {
		q = q.StartAfter(after)
	}
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, fsError("list connector ids", err)
	}
	ids := make([]string, len(snaps))
	for i, s := range snaps {
		ids[i] = s.Ref.ID
	}
	return ids, nil
}

// SweepRunRetention is how long FirestoreRuns keeps run and shard documents: each carries
// expire_at, this long after it was written, for a Firestore TTL policy (infra/ sets one on the
// collection groups sweep_runs and shards) to delete old runs.
const SweepRunRetention = 30 * 24 * time.Hour

// FirestoreRuns is a upkeep.SweepRuns in Firestore: one document per run in a collection,
// and one per shard that has begun in the run's "shards" subcollection (keyed by the
// zero-padded index), so that the workers of a run never write the same document: no
// contention however many shards finish at once. Shard attempts and results are written in
// transactions, so a shard delivered twice is counted once. Documents expire after
// SweepRunRetention.
type FirestoreRuns struct {
	client *firestore.Client
	runs   *firestore.CollectionRef
}

// NewFirestoreRuns keeps runs in collection of client's database.
func NewFirestoreRuns(client *firestore.Client, collection string) *FirestoreRuns {
	return &FirestoreRuns{client: client, runs: client.Collection(collection)}
}

// fsRun is the stored form of a run.
type fsRun struct {
	StartedAt      time.Time `firestore:"started_at"`
	PlannedAt      time.Time `firestore:"planned_at"`
	Shards         int       `firestore:"shards"`
	Connectors     int       `firestore:"connectors"`
	PlanError      string    `firestore:"plan_error"`
	OrphansRemoved int       `firestore:"orphans_removed"`
	ExpireAt       time.Time `firestore:"expire_at"`
}

// fsShard is the stored form of a shard.
type fsShard struct {
	Index     int                `firestore:"index"`
	Attempts  int                `firestore:"attempts"`
	State     string             `firestore:"state"`
	Error     string             `firestore:"error"`
	Report    fsReport           `firestore:"report"`
	Unchecked []upkeep.Unchecked `firestore:"unchecked"`
	UpdatedAt time.Time          `firestore:"updated_at"`
	ExpireAt  time.Time          `firestore:"expire_at"`
}

type fsReport struct {
	Checked, OK, Failed, Skipped, Inconclusive int
	VersionsRemoved, KeysRotated, KeysDeleted  int
	RotationsDeferred                          int
	DurationMS                                 int64
	Errors, OldKeys                            []string
}

func toFsRun(r upkeep.SweepRun) fsRun {
	return fsRun{StartedAt: r.StartedAt, PlannedAt: r.PlannedAt, Shards: r.Shards, Connectors: r.Connectors,
		PlanError: r.PlanError, OrphansRemoved: r.OrphansRemoved, ExpireAt: r.StartedAt.Add(SweepRunRetention)}
}

func toFsShard(r upkeep.ShardRecord) fsShard {
	p := r.Report
	return fsShard{Index: r.Index, Attempts: r.Attempts, State: string(r.State), Error: r.Error, Unchecked: r.Unchecked, UpdatedAt: r.UpdatedAt,
		ExpireAt: r.UpdatedAt.Add(SweepRunRetention),
		Report: fsReport{Checked: p.Checked, OK: p.OK, Failed: p.Failed, Skipped: p.Skipped, Inconclusive: p.Inconclusive,
			VersionsRemoved: p.VersionsRemoved, KeysRotated: p.KeysRotated, KeysDeleted: p.KeysDeleted,
			RotationsDeferred: p.RotationsDeferred, DurationMS: p.Duration.Milliseconds(), Errors: p.Errors, OldKeys: p.OldKeys}}
}

func fromFsShard(run string, d fsShard) upkeep.ShardRecord {
	p := d.Report
	return upkeep.ShardRecord{Run: run, Index: d.Index, Attempts: d.Attempts, State: upkeep.ShardState(d.State), Error: d.Error,
		Unchecked: d.Unchecked, UpdatedAt: d.UpdatedAt,
		Report: upkeep.SweepReport{Checked: p.Checked, OK: p.OK, Failed: p.Failed, Skipped: p.Skipped, Inconclusive: p.Inconclusive,
			VersionsRemoved: p.VersionsRemoved, KeysRotated: p.KeysRotated, KeysDeleted: p.KeysDeleted,
			RotationsDeferred: p.RotationsDeferred, Duration: time.Duration(p.DurationMS) * time.Millisecond, Errors: p.Errors, OldKeys: p.OldKeys}}
}

// CreateRun stores a new run.
func (f *FirestoreRuns) CreateRun(ctx context.Context, r upkeep.SweepRun) error {
	if !validID(r.ID) {
		return connector.FieldErrorf("run", "sweep run id %q is not a valid document id", r.ID)
	}
	_, err := f.runs.Doc(r.ID).Create(ctx, toFsRun(r))
	return fsMaybe("create sweep run", err)
}

// UpdateRun replaces the run's own record.
func (f *FirestoreRuns) UpdateRun(ctx context.Context, r upkeep.SweepRun) error {
	if !validID(r.ID) {
		return runNotFound(r.ID)
	}
	err := f.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		ref := f.runs.Doc(r.ID)
		if _, err := tx.Get(ref); err != nil {
			return err
		}
		return tx.Set(ref, toFsRun(r))
	})
	if status.Code(err) == codes.NotFound {
		return runNotFound(r.ID)
	}
	return fsMaybe("update sweep run", err)
}

// GetRun returns the run and its shards by index: one read for the run, one per shard.
func (f *FirestoreRuns) GetRun(ctx context.Context, id string) (upkeep.SweepRun, []upkeep.ShardRecord, error) {
	if !validID(id) {
		return upkeep.SweepRun{}, nil, runNotFound(id)
	}
	snap, err := f.runs.Doc(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return upkeep.SweepRun{}, nil, runNotFound(id)
	}
	if err != nil {
		return upkeep.SweepRun{}, nil, fsError("get sweep run", err)
	}
	var d fsRun
	if err := snap.DataTo(&d); err != nil {
		return upkeep.SweepRun{}, nil, &connector.Error{Kind: connector.ErrInternal, Message: "store: decode sweep run " + id, Err: err}
	}
	run := upkeep.SweepRun{ID: id, StartedAt: d.StartedAt, PlannedAt: d.PlannedAt, Shards: d.Shards, Connectors: d.Connectors,
		PlanError: d.PlanError, OrphansRemoved: d.OrphansRemoved}
	var shards []upkeep.ShardRecord
	it := f.runs.Doc(id).Collection("shards").OrderBy(firestore.DocumentID, firestore.Asc).Documents(ctx)
	defer it.Stop()
	for {
		s, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return run, shards, nil
		}
		if err != nil {
			return run, nil, fsError("list sweep shards", err)
		}
		var sd fsShard
		if err := s.DataTo(&sd); err != nil {
			return run, nil, &connector.Error{Kind: connector.ErrInternal, Message: "store: decode sweep shard " + s.Ref.ID, Err: err}
		}
		shards = append(shards, fromFsShard(id, sd))
	}
}

// LatestRunID returns the id of the run started last: one query on started_at (Firestore
// scans document ids in ascending order only; its automatic single-field index serves it).
func (f *FirestoreRuns) LatestRunID(ctx context.Context) (string, error) {
	snaps, err := f.runs.OrderBy("started_at", firestore.Desc).Select().Limit(1).Documents(ctx).GetAll()
	if err != nil {
		return "", fsError("find the latest sweep run", err)
	}
	if len(snaps) == 0 {
		return "", connector.Errorf(connector.ErrNotFound, "no sweep run")
	}
	return snaps[0].Ref.ID, nil
}

// BeginShard counts an attempt of a shard that is not finished, in a transaction.
func (f *FirestoreRuns) BeginShard(ctx context.Context, run string, index int, now time.Time) (upkeep.ShardRecord, error) {
	if !validID(run) {
		return upkeep.ShardRecord{}, runNotFound(run)
	}
	var rec upkeep.ShardRecord
	err := f.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if _, err := tx.Get(f.runs.Doc(run)); err != nil {
			return err
		}
		ref := f.runs.Doc(run).Collection("shards").Doc(formatShard(index))
		d := fsShard{Index: index, State: string(upkeep.ShardRunning)}
		snap, err := tx.Get(ref)
		switch {
		case err == nil:
			if err := snap.DataTo(&d); err != nil {
				return err
			}
		case status.Code(err) != codes.NotFound:
			return err
		}
		rec = fromFsShard(run, d)
		if rec.Finished() {
			return nil
		}
		d.Attempts++
		d.UpdatedAt, d.ExpireAt = now, now.Add(SweepRunRetention)
		rec = fromFsShard(run, d)
		return tx.Set(ref, d)
	})
	if status.Code(err) == codes.NotFound {
		return rec, runNotFound(run)
	}
	return rec, fsMaybe("begin sweep shard", err)
}

// FinishShard stores rec unless its shard is finished, in a transaction.
func (f *FirestoreRuns) FinishShard(ctx context.Context, rec upkeep.ShardRecord) (bool, error) {
	if !validID(rec.Run) {
		return false, runNotFound(rec.Run)
	}
	stored := false
	err := f.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		stored = false
		ref := f.runs.Doc(rec.Run).Collection("shards").Doc(formatShard(rec.Index))
		snap, err := tx.Get(ref)
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		if err == nil {
			var d fsShard
			if err := snap.DataTo(&d); err != nil {
				return err
			}
			if fromFsShard(rec.Run, d).Finished() {
				return nil
			}
		}
		stored = true
		return tx.Set(ref, toFsShard(rec))
	})
	return stored, fsMaybe("finish sweep shard", err)
}

// fsMaybe is fsError for an error that may be nil.
func fsMaybe(op string, err error) error {
	if err == nil {
		return nil
	}
	return fsError(op, err)
}
