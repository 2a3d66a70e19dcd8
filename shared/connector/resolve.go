package connector

// ResolveResource checks a runtime request for resource type rt and resource id (any
// accepted spelling) against c's shape, and returns the type and the canonical id to use.
func (c *Connector) ResolveResource(rt ResourceType, id string) (ResourceType, string, error) {
	return "", "", Errorf(ErrInternal, "connector: ResolveResource is being implemented")
}
