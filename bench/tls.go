package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/disk"
	"github.com/lockdhq/lockd/store/mem"
)

var tlsRounds = flag.Int("tls-rounds", 3, "interleaved rounds per mode in the tls scenario (the median is reported)")

// secMode is one security configuration under test.
type secMode struct {
	name       string
	mtls, encr bool
}

var secModes = []secMode{
	{"plain", false, false},
	{"mTLS", true, false},
	{"encryption", false, true},
	{"mTLS+encryption", true, true},
}

// tlsTarget is a server in one mode and the client configuration it needs.
type tlsTarget struct {
	*target
	tls *tls.Config // nil for plain HTTP
}

// runTLS compares lock cycles under mTLS and storage encryption with plain
// HTTP over a plaintext store, on mem and disk, with connections reused.
// Modes are measured in interleaved rounds and the median round is
// reported, so load from other processes shifts all modes alike.
func runTLS(tmp string) {
	ca, err := tlsutil.NewCA("bench", 0)
	check(err)
	sb, err := ca.IssueServer(tlsutil.ServerOptions{})
	check(err)
	cb, err := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{Claims: []tlsutil.Claim{{Namespace: tlsutil.AllNamespaces, Perm: tlsutil.PermReadWrite}}})
	check(err)
	clientTLS := cb.TLSConfig()

	rounds := max(*tlsRounds, 1)
	header(fmt.Sprintf("security: acquire → update (256 B) → release cycles, 1024 keys, connections reused (median of %d interleaved rounds)", rounds),
		"store", "workers", "mode", "cycles/s", "p50 ms", "p99 ms", "of plain", "CPU µs/cycle", "CPU of plain")
	for _, storeName := range []string{"mem", "disk"} {
		targets := make([]tlsTarget, len(secModes))
		for i, m := range secModes {
			var st store.Store = mem.New()
			if storeName == "disk" {
				st, err = disk.Open(fmt.Sprintf("%s/tls-%d", tmp, i), disk.Options{})
				check(err)
			}
			sec := server.Security{Bundle: sb, DisableMTLS: !m.mtls, DisableEncryption: !m.encr}
			targets[i] = startSecureTarget(storeName+" "+m.name, st, sec)
			if m.mtls {
				targets[i].tls = clientTLS
			}
		}
		for _, n := range []int{8, 64} {
			results := interleave(rounds, len(secModes), func(i int) cpuResult {
				c := newTLSClient(targets[i], n)
				before := cpuTime()
				res := run(n, func(w int, i int64) error { return cycle(c, w, n, i) })
				return cpuResult{res, cpuTime() - before}
			})
			// "of plain" and "CPU of plain" divide the median rounds shown
			// in the rows (compare instead takes the median of per-round
			// ratios): each row's ratios can be checked against the plain
			// row, and the CPU ratio is of the same rounds as the rate
			// ratio. docs/BENCHMARKS.md reports figures made this way.
			plain := medianRound(results[0])
			for i, m := range secModes {
				r := medianRound(results[i])
				line := fmt.Sprintf("| %s | %d | %s | %.0f | %s | %s | %.0f%% | %.0f | %.0f%% |", storeName, n, m.name,
					r.rate(), ms(r.p50), ms(r.p99), 100*r.rate()/plain.rate(), r.cpuPerOp(), 100*r.cpuPerOp()/plain.cpuPerOp())
				if r.err != nil {
					line += " error: " + r.err.Error()
				}
				fmt.Println(line)
			}
		}
		for _, t := range targets {
			t.stop()
		}
	}
	fmt.Println()
	runHandshakes(sb, clientTLS)
}

// runHandshakes measures full mTLS handshakes: a new connection for every
// request.
func runHandshakes(sb *tlsutil.ServerBundle, clientTLS *tls.Config) {
	header("security: a new mTLS connection per request (GET /healthz)", "workers", "handshakes/s", "p50 ms", "p99 ms")
	t := startSecureTarget("mem mTLS", mem.New(), server.Security{Bundle: sb, DisableEncryption: true})
	defer t.stop()
	cfg := clientTLS.Clone()
	cfg.ClientSessionCache = nil // full handshakes
	t.tls = cfg
	for _, n := range []int{8, 64} {
		c := newTLSClient(t, n)
		r := run(n, func(w int, i int64) error {
			st, body, err := c.do("/healthz", "", "Connection", "close")
			if err == nil && st != 200 {
				err = fmt.Errorf("healthz: %d %s", st, body)
			}
			return err
		})
		line := fmt.Sprintf("| %d | %.0f | %s | %s |", n, r.rate(), ms(r.p50), ms(r.p99))
		if r.err != nil {
			line += " error: " + r.err.Error()
		}
		fmt.Println(line)
	}
	fmt.Println()
}

func startSecureTarget(name string, st store.Store, sec server.Security) tlsTarget {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := server.StartOn(ln, st, server.Config{ActorIdle: 30 * time.Second, Security: sec})
	return tlsTarget{target: &target{name: name, addr: ln.Addr().String(), srv: srv, stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	}}}
}

// newTLSClient is newClient over TLS when the target needs it: the
// connection is TLS, the HTTP client is unchanged.
func newTLSClient(t tlsTarget, conns int) *client {
	c := newClient(t.target, conns)
	if t.tls != nil {
		cfg := t.tls
		c.hc.Dial = func(addr string) (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
		}
	}
	return c
}

// cpuResult is a run and the process CPU time (client and server, both in
// this process) it took; CPU per cycle is less sensitive to other load on
// the machine than throughput.
type cpuResult struct {
	result
	cpu time.Duration
}

func (r cpuResult) cpuPerOp() float64 {
	if r.ops == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.ops)
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
