package upkeep_test

import "github.com/gcpconn/gcpconn/shared/internal/faultports"

// Fault injection for the rotation tests (package faultports), under the names
// shared/connector's registry fault tests use too.
type (
	rgFault         = faultports.Fault
	rgInjector      = faultports.Injector
	rgFaultyStore   = faultports.Store
	rgFaultySecrets = faultports.Secrets
)
