package connector

import "time"

// NewConnector validates a registration request against the type spec and the deployment's
// policy, and returns the connector to store (without ID, Owner, timestamps, Revision and
// SecretVersion) and its secret values. Every error is an *Error of kind ErrInvalid (or
// ErrPermission for the implicit-methods gate) naming the request field at fault.
func NewConnector(req RegisterRequest, pol Policy, now time.Time) (*Connector, Secrets, error) {
	return nil, Secrets{}, Errorf(ErrInternal, "connector: NewConnector is being implemented")
}

// ApplyUpdate applies u to c and validates the result like a registration. c is not
// modified; next is a copy. sec holds the secret values of next (old when the update does not
// touch them) and secretsChanged reports whether they differ from old.
func ApplyUpdate(c *Connector, old Secrets, u UpdateRequest, pol Policy, now time.Time) (next *Connector, sec Secrets, secretsChanged bool, err error) {
	return nil, Secrets{}, false, Errorf(ErrInternal, "connector: ApplyUpdate is being implemented")
}
