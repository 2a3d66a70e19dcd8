// Package faulttest is the fault-injection suite of issue #14 (its tests only): the whole
// service (functions/app with the production stores: Firestore and Secret Manager) against
// the fake Google with injected faults (emulator/faults) and a Firestore emulator that the
// tests freeze and restart (shared/store/fsemu). After each fault and a sweep it asserts that
// connector documents and secrets correspond one to one, that only pinned secret versions
// are enabled, that every request was answered within its deadline, and that statuses say
// what was really verified (an outage is inconclusive, never an error).
//
// The tests skip, saying so, when the Firestore emulator (gcloud's cloud-firestore-emulator
// component, or java) is missing.
package faulttest
