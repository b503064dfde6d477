package cluster

import (
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// netTransport is memberlist's UDP+TCP transport, except that its
// streams leave from the bind host when that is a specific address (its
// packets already do: they are sent from the bound socket). A peer, a
// firewall rule or a test relay then sees every gossip packet and stream
// of this node come from one address, --cluster-listen's host.
type netTransport struct {
	*memberlist.NetTransport
	local *net.TCPAddr // nil: the kernel picks the source
}

var _ memberlist.NodeAwareTransport = (*netTransport)(nil)

// DialTimeout opens a stream to addr from the bind host.
func (t *netTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a stream to a from the bind host.
func (t *netTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if t.local != nil {
		d.LocalAddr = t.local
	}
	return d.Dial("tcp", a.Addr)
}

// newTransport binds the gossip port (0: one free for both UDP and TCP,
// retried as memberlist does, since the two binds race) and returns the
// transport with its port.
func newTransport(host string, port int, logger *log.Logger) (*netTransport, int, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port, Logger: logger}
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var nt *memberlist.NetTransport
		if nt, err = memberlist.NewNetTransport(nc); err == nil {
			t := &netTransport{NetTransport: nt}
			if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
				t.local = &net.TCPAddr{IP: ip}
			}
			return t, nt.GetAutoBindPort(), nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, 0, fmt.Errorf("cluster: gossip on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
}

// advertise parses --cluster-advertise: host:port where host is an IP
// address or a name that resolves to one.
func advertise(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: --cluster-advertise %q: %v", ErrConfig, addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("%w: --cluster-advertise %q: the port must be 1-65535", ErrConfig, addr)
	}
	if net.ParseIP(host) == nil {
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return "", 0, fmt.Errorf("%w: --cluster-advertise %q: host does not resolve: %v", ErrConfig, addr, err)
		}
		host = ips[0].String()
		for _, ip := range ips {
			if ip.To4() != nil {
				host = ip.String()
				break
			}
		}
	}
	return host, p, nil
}
