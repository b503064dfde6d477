package edge

func (s *Server) healthz(c *call) error {
	c.SetContentType("text/plain; charset=utf-8")
	c.SetBodyString("ok\n")
	return nil
}

func (s *Server) readyz(c *call) error {
	if s.draining.Load() {
		c.SetStatusCode(503)
		c.SetBodyString("draining\n")
		return nil
	}
	if g := s.cfg.Gate; g != nil && !g.Serving() {
		c.SetStatusCode(503)
		c.SetBodyString("passive\n")
		return nil
	}
	if s.cluster != nil && !s.cluster.Ready() {
		c.SetStatusCode(503)
		c.SetBodyString("joining the cluster\n")
		return nil
	}
	if s.cluster != nil && !s.cluster.Serving() {
		c.SetStatusCode(503)
		c.SetBodyString("self-fenced: no quorum of the cluster confirms this node's membership\n")
		return nil
	}
	return s.healthz(c)
}
