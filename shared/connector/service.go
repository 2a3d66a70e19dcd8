package connector

import (
	"log/slog"
	"time"

	"github.com/gcpconn/gcpconn/internal/inject"
)

// Service holds the use cases of gcpconn: register, update, delete, describe and list
// connectors, verify what they reach and mint credentials. The background work
// (sweep, key rotation, refresh on Secret Manager's events) is shared/upkeep's, over this Service. Every method takes
// the caller's context first and, where a caller acts, its Principal; authorization is decided
// here, not at the edge. A Service is safe for concurrent use once built.
type Service struct {
	Store   Store       // connector metadata
	Secrets SecretStore // connector secret values
	Google  Google      // minting and resource listing
	// Rotator rotates keys (shared/upkeep's Keeper): refresh hands it SECRET_ROTATE, and
	// Register and Update accept a rotation period only when it is set. nil means rotation
	// is not available.
	Rotator Rotator
	Policy  Policy
	// Now returns the current time; nil means time.Now. Tests inject a fixed clock.
	Now func() time.Time
	// NewID returns a fresh connector id; nil means a random 16-byte hex id.
	NewID func() string
	// Log receives operational events (never secret values); nil discards them.
	Log *slog.Logger
	// RevocationWindow is how long this instance may serve a connector it read from the
	// store to mints before it reads it again (see conncache.go); zero or
	// negative reads the store every time. Deployments set DefaultRevocationWindow unless
	// configured otherwise.
	RevocationWindow time.Duration

	tokens tokenCache // minted tokens, see tokencache.go; a Service must not be copied
	conns  connCache  // connectors, see conncache.go
}

// Policy is the deployment's configuration of the rules.
type Policy struct {
	// Admins may see, update and delete every connector: principal patterns (emails,
	// NAME:SUBJECT, NAME:PREFIX*; see principal.CheckPattern).
	Admins []string
	// Issuers names the trusted issuers of federated callers (GCPCONN_TRUSTED_ISSUERS):
	// users and admins may hold NAME:PREFIX* globs only for these names.
	Issuers []string
	// AllowImplicit enables the implicit auth method, keyless impersonation and
	// external-account configs that read ambient credentials
	// (GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS).
	AllowImplicit bool
}

func (s *Service) now() time.Time { return inject.Now(s.Now) }

func (s *Service) log() *slog.Logger { return inject.Log(s.Log) }

// SecretName returns where the secret of c lives, in the secret store's own naming (a Secret
// Manager secret's resource name): "" when c stores no secret.
// c.SecretVersion is the version pinned within it.
func (s *Service) SecretName(c *Connector) string {
	if c == nil || c.SecretVersion == "" {
		return ""
	}
	return s.Secrets.SecretName(c.ID)
}
