package index

// ReconcilePasses reports how many reconcile passes s has completed.
func ReconcilePasses(s *Service) uint64 { return s.passes.Load() }
