package edge

import "net"

// ServeDirect serves on ln without the connection guard and without TLS:
// for in-process listeners whose peer is the embedding program itself
// (server.Server.Handler). Shutdown stops it with the others.
func (s *Server) ServeDirect(ln net.Listener) error { return s.http.Serve(ln) }
