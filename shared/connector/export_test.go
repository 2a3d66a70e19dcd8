package connector

// Internals the external tests (package connector_test) use.

// IsIDForm is isIDForm.
var IsIDForm = isIDForm
