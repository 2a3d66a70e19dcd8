// Package store holds the storage adapters of gcpconn: the ports connector.Store (connector
// metadata) and connector.SecretStore (secret values), each implemented twice.
//
//   - [Memory] and [MemorySecrets] keep everything in process memory: the default for local
//     development and the stores that use-case tests run over.
//   - [Firestore] keeps connector documents in a Firestore collection, one document per
//     connector keyed by its id, with names made unique by a second collection of name
//     documents written in the same transaction.
//   - [SecretManager] keeps one Secret Manager secret per connector, named
//     gcpconn-<connector id>, with a new version per change; reads always name a pinned
//     version, never "latest".
//
// Configuration and status are written apart: Update replaces a connector's configuration
// under its revision (optimistic concurrency) and keeps its status; SetStatus writes the
// status alone, conditioned on the revision and status the caller read, without changing the
// revision (in Firestore a field update of the status field).
//
// Every implementation passes the one contract suite in [storetest]: storetest.Run for
// stores and storetest.RunSecrets for secret stores. Errors carry the core's kinds
// (connector.ErrNotFound, ErrAlreadyExists, ErrConflict, ErrInvalid, ErrFailedPrecondition,
// ErrUpstreamUnavailable), so the use cases never see a backend's error type.
//
// # Listing and page tokens
//
// Listings are ordered by connector name. A page token is opaque to callers; it names the
// last connector of the previous page, so a page never repeats or skips a connector that
// existed when both pages were read, even if others are created or deleted in between.
// The last page has an empty next token. A token that was not produced by a store is
// ErrInvalid.
package store
