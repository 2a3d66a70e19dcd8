package fakegcp

// startResources starts the resource services (storage, container, artifact registry,
// secret manager, resource manager, docker registry), each on its own listener via
// s.serve, and records their endpoints with s.setEnv. Start calls it after the identity
// services are up. This file belongs to the emulator-resources engineer.
func (s *Server) startResources() error {
	return nil
}
