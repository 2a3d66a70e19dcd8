package upkeep

import (
	"context"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Internals the external tests drive directly.

// PinRotation is pinRotation: it pins the verifying entry p of connector c.
func (s *Keeper) PinRotation(ctx context.Context, c *connector.Connector, p connector.PendingRotation) (bool, error) {
	return s.pinRotation(ctx, c, p)
}
