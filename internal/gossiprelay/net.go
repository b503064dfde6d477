package gossiprelay

import (
	"net"
	"sync"
)

// Net is the set of relays of one test deployment and the hosts cut off
// from it. It is safe for concurrent use.
type Net struct {
	mu     sync.Mutex
	cut    map[string]bool
	relays map[*Relay]struct{}
}

// NewNet returns a Net with no host cut.
func NewNet() *Net {
	return &Net{cut: map[string]bool{}, relays: map[*Relay]struct{}{}}
}

// Cut cuts host (an IP address, as in the node's gossip bind address) off
// every relay of the Net when on is true, and reconnects it when false.
// Streams that involve the host are closed before Cut returns.
func (n *Net) Cut(host string, on bool) {
	n.mu.Lock()
	if on {
		n.cut[host] = true
	} else {
		delete(n.cut, host)
	}
	relays := make([]*Relay, 0, len(n.relays))
	for r := range n.relays {
		relays = append(relays, r)
	}
	n.mu.Unlock()
	if on {
		for _, r := range relays {
			r.closeStreams(host)
		}
	}
}

// IsCut reports whether host is cut off.
func (n *Net) IsCut(host string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cut[host]
}

// blocked reports whether traffic between the hosts of two addresses
// must be dropped.
func (n *Net) blocked(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cut[hostOf(a)] || n.cut[hostOf(b)]
}

func (n *Net) add(r *Relay) {
	n.mu.Lock()
	n.relays[r] = struct{}{}
	n.mu.Unlock()
}

func (n *Net) remove(r *Relay) {
	n.mu.Lock()
	delete(n.relays, r)
	n.mu.Unlock()
}

// hostOf is the host part of host:port, or the whole string when it has
// no port.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
