package connector

// Internals the external tests (package connector_test) use, and what only tests need.

// IsIDForm is isIDForm.
var IsIDForm = isIDForm

// String is the key's encoding (appendTo), for tests that compare keys.
func (k tokenKey) String() string { return string(k.appendTo(nil)) }
