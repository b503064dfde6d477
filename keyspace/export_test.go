package keyspace

// SetTestHook installs a function called before each operation (tests use
// it to inject panics).
func SetTestHook(c *Config, f func(Ref, any)) { c.testHook = f }

// Queued reports how many acquirers wait on the test key (via Describe of
// internal state).
func (s *Service) Queued(r Ref) int {
	req := newRequest(&opQueued{})
	s.reg.Send(actorID(r), req)
	rep := <-req.reply
	return rep.val.(int)
}
