// Package upkeep is gcpconn's background work: the sweep that keeps every connector checked
// and repaired, the rotation of service-account keys, and refresh, the repair driven by
// Secret Manager's events. It is a package over the core's
// ports: a [Keeper] embeds the core service (*connector.Service: its Store, Secrets, Google,
// policy, clock and logger) and adds the ports only background work needs ([KeyManager],
// [SweepRuns], [ShardPublisher]). The core asks nothing of it but the [connector.Rotator] it
// hands Secret Manager's SECRET_ROTATE to; [New] wires that.
//
// # Vocabulary
//
// A sweep re-verifies connectors (the core's Check, which stores each one's status), repairs
// what failed steps left behind (unpinned secret versions, orphan secrets, the keys of
// deleted connectors), carries on or releases key rotations in flight, rotates overdue keys
// and reports old ones ([SweepReport]). [Keeper.Sweep] does it in one request, over every
// connector.
//
// A run is one sweep fanned out ([Keeper.StartSweep]): the planner pages every connector id
// and publishes shards ([DefaultPublishConcurrency] at once; a shard counts once its publish
// succeeded), and records the run ([SweepRun]) in [SweepRuns]. A shard
// ([SweepShard]) is a bounded list of connector ids, the message a worker receives: the
// worker ([Keeper.SweepShard]) sweeps each connector of it, read afresh once (its status
// write is decided on that read), within its own
// deadline, and records the shard ([ShardRecord]: done, or failed after [MaxShardAttempts]
// attempts, with the connectors it could not check, [Unchecked]). Delivery is at least once;
// every write stays conditioned on the revision it read, so a shard delivered twice changes
// nothing twice. A run's view ([SweepRunView], GET /sweep) sums its shards. [LocalShards]
// runs the shards in the process that plans them; deployed, a Pub/Sub topic carries them.
//
// Sweep is polite to Google's quotas: it lists a secret's versions (a Secret Manager metadata
// read) only for connectors marked for cleanup (connector.Connector.CleanupAfter, set before
// an update or a rotation adds a version), searches for orphan secrets with one listing per
// run, and starts at most [SweepOptions].MaxRotations overdue rotations per shard, the most
// overdue first, deferring the rest to the next run. Clearing the cleanup mark
// ([CleanupMarks]) leaves the revision, as a status write does.
//
// Key rotation replaces a connector's service-account key every period: on the schedule's
// SECRET_ROTATE ([Keeper.RotateOnEvent]), by hand ([Keeper.Rotate]), or overdue by sweep. Its
// steps are recorded on the connector before they happen (the write-ahead entry,
// rotation.Pending): claim → create the key ([KeyManager]) → store it as a new
// secret version → "verifying" → verify → pin. A failed step releases the entry at once and
// turns what the run created into a retired record; an interrupted one is released by the
// next pass (a rotate, a refresh or a sweep).
//
// Refresh ([Keeper.Refresh]) is sweep's event-driven sibling: a Secret Manager notification
// about a connector's secret ([SecretEvent]) pins a newer version that authenticates,
// disables a connector whose pinned version was disabled or destroyed (and re-enables it when
// the version is enabled again), and turns SECRET_ROTATE into a rotation. Events are
// idempotent and order-insensitive.
//
// Key cleanup deletes the keys gcpconn created once no token minted from them can still be in
// use: keys a rotation or an update replaced (rotation.RetiredKey, after rotation.Grace), what
// a failed rotation created (at once; a key whose create answer never arrived is searched for
// once no late create can land), and the keys of deleted connectors (connector.KeyCleanup
// records). gcpconn deletes only keys it created.
package upkeep
