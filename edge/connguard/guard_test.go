package connguard

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestGuardScript(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	type ev struct {
		advance time.Duration
		ip      netip.Addr
		fail    bool // record a suspicious connection (else only check)
		blocked bool // expected Blocked / Suspicious result
	}
	cases := []struct {
		name   string
		events []ev
	}{
		{"threshold within the window blocks", []ev{
			{0, a, true, false}, {time.Second, a, true, false}, {time.Second, a, true, true},
			{0, a, false, true}, {0, b, false, false},
		}},
		{"failures outside the window do not add up", []ev{
			{0, a, true, false}, {0, a, true, false}, {11 * time.Second, a, true, false},
			{0, a, false, false}, {0, a, true, false}, {0, a, true, true},
		}},
		{"the block expires", []ev{
			{0, a, true, false}, {0, a, true, false}, {0, a, true, true},
			{59 * time.Second, a, false, true}, {time.Second, a, false, false},
			{0, a, true, false}, // the count starts over
		}},
		{"suspicion while blocked keeps the block", []ev{
			{0, a, true, false}, {0, a, true, false}, {0, a, true, true},
			{30 * time.Second, a, true, true}, {30 * time.Second, a, false, false},
		}},
		{"sources are independent", []ev{
			{0, a, true, false}, {0, b, true, false}, {0, a, true, false}, {0, b, true, false},
			{0, a, true, true}, {0, b, false, false},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			g := New(Config{Enabled: true, FailureThreshold: 3, FailureWindow: 10 * time.Second, BlockDuration: time.Minute}, clk, zerolog.Nop())
			for i, e := range tc.events {
				clk.Advance(e.advance)
				var got bool
				if e.fail {
					got = g.Suspicious(e.ip, "test")
				} else {
					got = g.Blocked(e.ip)
				}
				if got != e.blocked {
					t.Fatalf("event %d (%+v): blocked=%v", i, e, got)
				}
			}
		})
	}
}

func TestGuardMappedAddressesCountAsIPv4(t *testing.T) {
	g := New(Config{Enabled: true, FailureThreshold: 2}, clock.NewFake(t0), zerolog.Nop())
	g.Suspicious(netip.MustParseAddr("::ffff:192.0.2.1"), "test")
	g.Suspicious(netip.MustParseAddr("192.0.2.1"), "test")
	if !g.Blocked(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("a mapped and a plain address of one host were counted apart")
	}
}

func TestGuardMemoryIsBounded(t *testing.T) {
	clk := clock.NewFake(t0)
	g := New(Config{Enabled: true, FailureThreshold: 2, FailureWindow: time.Second, MaxTracked: 100}, clk, zerolog.Nop())
	blocked := netip.MustParseAddr("10.9.9.9")
	g.Suspicious(blocked, "test")
	g.Suspicious(blocked, "test")
	base := netip.MustParseAddr("fd00::")
	for i := 0; i < 10_000; i++ {
		base = base.Next()
		g.Suspicious(base, "test")
		if i%1000 == 0 {
			clk.Advance(2 * time.Second)
		}
	}
	if n := g.Tracked(); n > 100 {
		t.Fatalf("tracking %d addresses, bound 100", n)
	}
	if !g.Blocked(blocked) {
		t.Fatal("pruning dropped a live block")
	}
}
