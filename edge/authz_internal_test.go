package edge

import "testing"

// TestEveryRouteHasAPolicy keeps the authorization table in step with the
// router: a new route must say what it needs under mTLS.
func TestEveryRouteHasAPolicy(t *testing.T) {
	s := New(Services{}, Config{})
	for path := range s.routes {
		if _, ok := policies[path]; !ok {
			t.Errorf("route %s has no entry in policies (authz.go); it needs ALL=rw until it gets one", path)
		}
	}
	for path := range policies {
		if _, ok := s.routes[path]; !ok {
			t.Errorf("policy for %s, which is not a route", path)
		}
	}
}
