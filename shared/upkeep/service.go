package upkeep

import (
	"log/slog"
	"time"

	"github.com/gcpconn/gcpconn/internal/inject"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// Keeper runs the background work over one core: it embeds the core service, whose ports
// (Store, Secrets, Google), policy, clock and logger it shares, and holds the ports only the
// background work needs. A Keeper is safe for concurrent use once built.
type Keeper struct {
	*connector.Service
	// Keys creates and deletes service-account keys for key rotation; nil means rotation is
	// not available.
	Keys KeyManager
	// Runs keeps sweep runs and Shards publishes their shards (StartSweep, SweepShard); nil
	// leaves only the one-process Sweep.
	Runs   SweepRuns
	Shards ShardPublisher
}

var _ connector.Rotator = (*Keeper)(nil)

// New returns the background work over core with keys (nil: no key rotation) and, with
// keys, makes it core's Rotator, so that refresh rotates on SECRET_ROTATE and Register and
// Update accept a rotation period. Runs and Shards are set by the caller.
func New(core *connector.Service, keys KeyManager) *Keeper {
	k := &Keeper{Service: core, Keys: keys}
	if keys != nil {
		core.Rotator = k
	}
	return k
}

func (s *Keeper) now() time.Time { return inject.Now(s.Now) }

func (s *Keeper) log() *slog.Logger { return inject.Log(s.Log) }
