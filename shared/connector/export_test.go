package connector

import "context"

// Internals the external tests drive directly.

// PinRotation is pinRotation: it pins the verifying entry p of connector c.
func (s *Service) PinRotation(ctx context.Context, c *Connector, p PendingRotation) (bool, error) {
	return s.pinRotation(ctx, c, p)
}
