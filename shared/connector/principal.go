package connector

import "github.com/gcpconn/gcpconn/shared/principal"

// Principal is an authenticated caller: a Google caller's email, or NAME:SUBJECT for a caller
// of a configured trusted issuer (package principal, shared/principal, has the grammar of
// principals and of the patterns in users and admins). The Service decides what a principal
// may do with a connector.
type Principal = principal.Principal
