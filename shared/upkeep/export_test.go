package upkeep

import (
	"context"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/rotation"
)

// Internals the external tests drive directly.

// PinRotation is pinRotation: it pins the verifying entry p of connector c.
func (s *Keeper) PinRotation(ctx context.Context, c *connector.Connector, p rotation.Pending) (bool, error) {
	return s.pinRotation(ctx, c, p)
}

// RotateKey is rotateKey: it rotates the key of connector id (force: whatever its age).
func (s *Keeper) RotateKey(ctx context.Context, id string, force bool) (bool, error) {
	return s.rotateKey(ctx, id, force)
}

// RepairRotation is repairRotation: it finishes what rotations of c left behind.
func (s *Keeper) RepairRotation(ctx context.Context, c *connector.Connector) (int, error) {
	return s.repairRotation(ctx, c)
}
