package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"path/filepath"
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
	start := secStarter(tmp, sb)

	rounds := max(*tlsRounds, 1)
	header(fmt.Sprintf("security: acquire → update (256 B) → release cycles, 1024 keys, connections reused (median of %d interleaved rounds)", rounds),
		"store", "workers", "mode", "cycles/s", "p50 ms", "p99 ms", "of plain", "server CPU µs/cycle", "server CPU of plain")
	for _, storeName := range []string{"mem", "disk"} {
		targets := make([]tlsTarget, len(secModes))
		for i, m := range secModes {
			dir := ""
			if storeName == "disk" {
				dir = fmt.Sprintf("%s/tls-%d", tmp, i)
			}
			targets[i] = start(storeName+" "+m.name, dir, m)
			if m.mtls {
				targets[i].tls = clientTLS
			}
		}
		for _, n := range []int{8, 64} {
			results := interleave(rounds, len(secModes), func(i int) metered {
				c := newTLSClient(targets[i], n)
				m := startMeter(targets[i].target)
				res := run(n, func(w int, i int64) error { return cycle(c, w, n, i) })
				return metered{res, m.done()}
			})
			// "of plain" and "server CPU of plain" divide the median rounds
			// shown in the rows (compare instead takes the median of
			// per-round ratios): each row's ratios can be checked against
			// the plain row, and the CPU ratio is of the same rounds as the
			// rate ratio. docs/BENCHMARKS.md reports figures made this way.
			plain := medianRound(results[0])
			for i, m := range secModes {
				r := medianRound(results[i])
				line := fmt.Sprintf("| %s | %d | %s | %.0f | %s | %s | %.0f%% | %s | %s |", storeName, n, m.name,
					r.rate(), ms(r.p50), ms(r.p99), 100*r.rate()/plain.rate(), perOp(r.cpu, float64(r.ops)), cpuOfPlain(r, plain))
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
	runHandshakes(start, clientTLS)
}

// cpuOfPlain formats r's server CPU per cycle as a percentage of plain's
// ("—" when either is unknown, as with -inproc).
func cpuOfPlain(r, plain metered) string {
	if r.cpuPerOp() <= 0 || plain.cpuPerOp() <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*r.cpuPerOp()/plain.cpuPerOp())
}

// runHandshakes measures full mTLS handshakes: a new connection for every
// request.
func runHandshakes(start startSec, clientTLS *tls.Config) {
	header("security: a new mTLS connection per request (GET /healthz)", "workers", "handshakes/s", "p50 ms", "p99 ms", "server CPU µs/handshake")
	t := start("mem mTLS", "", secMode{"mTLS", true, false})
	defer t.stop()
	cfg := clientTLS.Clone()
	cfg.ClientSessionCache = nil // full handshakes
	t.tls = cfg
	for _, n := range []int{8, 64} {
		c := newTLSClient(t, n)
		m := startMeter(t.target)
		r := run(n, func(w int, i int64) error {
			st, body, err := c.do("/healthz", "", "Connection", "close")
			if err == nil && st != 200 {
				err = fmt.Errorf("healthz: %d %s", st, body)
			}
			return err
		})
		u := m.done()
		line := fmt.Sprintf("| %d | %.0f | %s | %s | %s |", n, r.rate(), ms(r.p50), ms(r.p99), perOp(u.cpu, float64(r.ops)))
		if r.err != nil {
			line += " error: " + r.err.Error()
		}
		fmt.Println(line)
	}
	fmt.Println()
}

// startSec starts a server in a security mode on a disk store in dir, or
// on mem when dir is empty.
type startSec func(name, dir string, m secMode) tlsTarget

// secStarter returns how the tls scenario starts its servers: lockd child
// processes given sb as a bundle file, so that the CPU figures are the
// server's alone, or with -inproc servers in this process (no server CPU).
func secStarter(tmp string, sb *tlsutil.ServerBundle) startSec {
	if *inProc {
		return func(name, dir string, m secMode) tlsTarget {
			sec := server.Security{Bundle: sb, DisableMTLS: !m.mtls, DisableEncryption: !m.encr}
			return startSecureTarget(name, openStore(dir), sec)
		}
	}
	bin := lockdBinaryForCluster(tmp)
	bundle := writeServerBundle(tmp, sb)
	return func(name, dir string, m secMode) tlsTarget {
		storeURL := "mem://"
		if dir != "" {
			storeURL = "disk://" + dir
		}
		t, _ := startLockdChild(name, bin, storeURL, nil, secFlags(bundle, m)...)
		return tlsTarget{target: t}
	}
}

// writeServerBundle writes sb where a lockd child can load it; mode 0600,
// as lockd warns about a bundle other users can read.
func writeServerBundle(tmp string, sb *tlsutil.ServerBundle) string {
	data, err := sb.Encode()
	check(err)
	path := filepath.Join(tmp, "tls-bundle", tlsutil.ServerFile)
	check(tlsutil.WriteFile(path, data, true))
	return path
}

// secFlags are the lockd flags of mode m. Every mode loads the bundle, as
// the in-process servers of -inproc do, so that plain differs from the
// others only in what is switched off.
func secFlags(bundle string, m secMode) []string {
	flags := []string{"--bundle", bundle}
	if !m.mtls {
		flags = append(flags, "--disable-mtls")
	}
	if !m.encr {
		flags = append(flags, "--disable-storage-encryption")
	}
	return flags
}

// openStore opens a disk store in dir, or a mem store when dir is empty.
func openStore(dir string) store.Store {
	if dir == "" {
		return mem.New()
	}
	st, err := disk.Open(dir, disk.Options{})
	check(err)
	return st
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
