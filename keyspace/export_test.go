package keyspace

// SetTestHook installs a function called before each operation (tests use
// it to inject panics).
func SetTestHook(c *Config, f func(Ref, any)) { c.testHook = f }

// PublishedCount reports how many keys have a published view.
func PublishedCount(s *Service) int {
	n := 0
	s.public.Range(func(any, any) bool { n++; return true })
	return n
}

// IsPublicGet lets tests recognise public reads in a test hook.
func (o *opGet) IsPublicGet() bool { return o.Public }

// OriginCount reports how many transaction origins the service remembers.
func OriginCount(s *Service) int { return s.origins.size() }

// LeaseCounts reports the lease metrics: acquired, released, expired,
// hand-offs, keepalives and the waiters gauge.
func LeaseCounts() [6]int64 {
	return [6]int64{int64(leasesAcquired.Get()), int64(leasesReleased.Get()), int64(leasesExpired.Get()),
		int64(leaseHandoffs.Get()), int64(leasesKept.Get()), waiting.Load()}
}
