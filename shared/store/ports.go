package store

import (
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// The ports each adapter implements, checked here in one list so that a renamed method fails
// the build instead of turning a capability off (upkeep finds some of them by type
// assertion).
var (
	_ connector.Store     = (*Memory)(nil)
	_ upkeep.ConnectorIDs = (*Memory)(nil)
	_ upkeep.CleanupMarks = (*Memory)(nil)

	_ connector.Store     = (*Firestore)(nil)
	_ upkeep.ConnectorIDs = (*Firestore)(nil)
	_ upkeep.CleanupMarks = (*Firestore)(nil)

	_ connector.SecretStore = (*MemorySecrets)(nil)
	_ upkeep.SecretAges     = (*MemorySecrets)(nil)
	_ upkeep.SecretVersions = (*MemorySecrets)(nil)

	_ connector.SecretStore = (*SecretManager)(nil)
	_ upkeep.SecretAges     = (*SecretManager)(nil)
	_ upkeep.SecretVersions = (*SecretManager)(nil)

	_ upkeep.SweepRuns      = (*MemoryRuns)(nil)
	_ upkeep.SweepRuns      = (*FirestoreRuns)(nil)
	_ upkeep.ShardPublisher = (*PubSubShards)(nil)
)
