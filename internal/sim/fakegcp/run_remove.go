package fakegcp

// RemoveRunService deletes a seeded Cloud Run service (the demo's Shared VPC layout moves the seed's
// client to another project). It reports whether the service existed.
func (s *Server) RemoveRunService(project, location, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(project, location, name)
	_, ok := s.services[k]
	delete(s.services, k)
	return ok
}
