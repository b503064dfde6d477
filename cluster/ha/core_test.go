package ha

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store"
)

const ttl = 10 * time.Second

type deadSet map[string]bool

func (d deadSet) Dead(n NodeInfo) bool { return d[n.ID] }

// fixture drives one core with a fake clock against a simulated lease
// record.
type fixture struct {
	t    *testing.T
	clk  *clock.Fake
	c    *core
	rec  LeaseView // the record as the store holds it
	seq  int
	dead deadSet
}

func newFixture(t *testing.T, id string, mode Mode) *fixture {
	f := &fixture{t: t, clk: clock.NewFake(time.Unix(1_800_000_000, 0)), dead: deadSet{}}
	n := 0
	f.c = newCore(NodeInfo{ID: id}, mode, ttl, f.dead, func() string { n++; return fmt.Sprintf("%s-%d", id, n) })
	return f
}

// put applies w to the simulated record like a store would.
func (f *fixture) put(w *LeaseWrite) (string, error) {
	switch {
	case w.Cond.IfNotExists && f.rec.Present, w.Cond.IfMatch != "" && (!f.rec.Present || f.rec.ETag != w.Cond.IfMatch):
		return "", store.ErrConflict
	}
	f.seq++
	f.rec = LeaseView{Present: true, ETag: fmt.Sprint("e", f.seq), Rec: w.Rec}
	return f.rec.ETag, nil
}

// other writes the record as another node would.
func (f *fixture) other(id string, term uint64, released bool) {
	f.seq++
	f.rec = LeaseView{Present: true, ETag: fmt.Sprint("e", f.seq), Rec: LeaseRecord{Holder: NodeInfo{ID: id}, Mode: "failover", Term: term, Nonce: fmt.Sprint("n", f.seq), Released: released}}
}

// tick is one controller round: read (when the core wants it), step,
// write and its result.
func (f *fixture) tick() *LeaseWrite {
	var lv *LeaseView
	if f.c.needsRead() {
		v := f.rec
		lv = &v
	}
	w := f.c.step(f.clk.Now(), lv)
	if w != nil {
		etag, err := f.put(w)
		f.c.written(f.clk.Now(), w, etag, err)
	}
	return w
}

func (f *fixture) advance(d time.Duration) { f.clk.Advance(d) }

func (f *fixture) wantRole(r Role, serving bool) {
	f.t.Helper()
	if f.c.role != r || f.c.serving(f.clk.Now()) != serving {
		f.t.Fatalf("role %s serving %v, want %s serving %v (reason %q)", f.c.role, f.c.serving(f.clk.Now()), r, serving, f.c.reason)
	}
}

func TestCoreClaimsAbsentLeaseAtOnce(t *testing.T) {
	f := newFixture(t, "a", Failover)
	w := f.tick()
	if w == nil || w.Kind != writeClaim || !w.Cond.IfNotExists || w.Rec.Term != 1 || w.Rec.Mode != "failover" {
		t.Fatalf("first tick on an empty store: %+v", w)
	}
	f.wantRole(Active, true)
	f.advance(TimingsFor(ttl).Trust - time.Millisecond)
	f.wantRole(Active, true) // no tick: trust holds until Trust after the write's start
	f.advance(time.Millisecond)
	f.wantRole(Active, false) // fails closed without any I/O
}

func TestCoreTakeoverNeedsRecordUnchangedForTakeover(t *testing.T) {
	tm := TimingsFor(ttl)
	cases := []struct {
		name     string
		setup    func(f *fixture)
		waitFor  time.Duration // how long the record stays unchanged before the claim
		term     uint64
		blocking bool
	}{
		{"live holder ages out", func(f *fixture) { f.other("b", 4, false) }, tm.Takeover, 5, false},
		{"released lease is free", func(f *fixture) { f.other("b", 4, true) }, 0, 5, false},
		{"holder proven dead is free", func(f *fixture) { f.other("b", 4, false); f.dead["b"] = true }, 0, 5, false},
		{"single presence blocks", func(f *fixture) {
			f.other("b", 4, true)
			f.c.setMembers([]MemberView{{Rec: MemberRecord{Node: NodeInfo{ID: "s"}, Mode: Single, ExpiresAt: f.clk.Now().Add(time.Hour).UnixMilli()}}}, 1)
		}, 0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "a", Failover)
			tc.setup(f)
			if tc.blocking {
				for i := 0; i < 20; i++ {
					if w := f.tick(); w != nil {
						t.Fatalf("claimed while a single-mode node serves: %+v", w)
					}
					f.advance(tm.Takeover)
				}
				f.wantRole(Passive, false)
				return
			}
			if tc.waitFor > 0 {
				if w := f.tick(); w != nil {
					t.Fatalf("claimed a live lease at first sight: %+v", w)
				}
				f.advance(tc.waitFor - time.Millisecond)
				if w := f.tick(); w != nil {
					t.Fatalf("claimed %s before Takeover: %+v", tc.waitFor-time.Millisecond, w)
				}
				f.advance(time.Millisecond)
			}
			prev := f.rec.ETag
			w := f.tick()
			if w == nil || w.Kind != writeClaim || w.Cond.IfMatch != prev || w.Rec.Term != tc.term {
				t.Fatalf("claim: %+v (record etag %s)", w, prev)
			}
			f.wantRole(Active, true)
		})
	}
}

func TestCoreRenewingHolderIsNeverTakenOver(t *testing.T) {
	f := newFixture(t, "a", Failover)
	tm := TimingsFor(ttl)
	for i := 0; i < 100; i++ {
		f.other("b", 1, false) // the holder renews every Renew
		if w := f.tick(); w != nil {
			t.Fatalf("round %d: claimed a lease renewed every %s: %+v", i, tm.Renew, w)
		}
		f.advance(tm.Renew)
	}
}

func TestCoreRenewsEveryRenewAndNeverReadsWhenHealthy(t *testing.T) {
	f := newFixture(t, "a", Failover)
	tm := TimingsFor(ttl)
	f.tick()
	writes := 0
	for i := 0; i < 200; i++ {
		f.advance(tm.Poll)
		if f.c.needsRead() {
			t.Fatal("a healthy active node reads the lease")
		}
		if w := f.tick(); w != nil {
			if w.Kind != writeRenew || w.Cond.IfMatch == "" {
				t.Fatalf("write %+v", w)
			}
			writes++
		}
		f.wantRole(Active, true)
	}
	if want := int(200 * tm.Poll / tm.Renew); writes != want {
		t.Fatalf("%d renewals in %s, want %d", writes, 200*tm.Poll, want)
	}
}

func TestCoreUnknownOutcomeIsAdoptedByNonce(t *testing.T) {
	f := newFixture(t, "a", Failover)
	tm := TimingsFor(ttl)
	f.tick()
	f.advance(tm.Renew)
	// The renewal lands but its answer is lost.
	w := f.c.step(f.clk.Now(), nil)
	landedAt := f.clk.Now()
	if _, err := f.put(w); err != nil {
		t.Fatal(err)
	}
	f.c.written(f.clk.Now(), w, "", errors.New("connection reset"))
	if !f.c.needsRead() {
		t.Fatal("an unknown outcome must be confirmed by a read")
	}
	f.advance(tm.Poll)
	if w := f.tick(); w != nil {
		t.Fatalf("wrote before confirming: %+v", w)
	}
	f.wantRole(Active, true)
	if f.c.etag != f.rec.ETag || !f.c.validUntil.Equal(landedAt.Add(tm.Trust)) {
		t.Fatalf("adopted etag %s valid until %v; record %s, want until %v", f.c.etag, f.c.validUntil, f.rec.ETag, landedAt.Add(tm.Trust))
	}
}

func TestCoreFailsClosedThenRecoversWhenNobodyTookOver(t *testing.T) {
	f := newFixture(t, "a", Failover)
	tm := TimingsFor(ttl)
	f.tick()
	down := true
	for f.c.serving(f.clk.Now()) {
		f.advance(tm.Poll)
		if w := f.c.step(f.clk.Now(), nil); w != nil {
			f.c.written(f.clk.Now(), w, "", errors.New("store unreachable"))
		}
	}
	f.wantRole(Active, false)
	_ = down
	// The store is back: confirm, then renew; nobody wrote the record, so
	// the node may serve again.
	for i := 0; i < 3 && !f.c.serving(f.clk.Now()); i++ {
		f.advance(tm.Poll)
		f.tick()
	}
	f.wantRole(Active, true)
}

func TestCoreLostWhenAnotherNodeHoldsTheLease(t *testing.T) {
	for _, gone := range []bool{false, true} {
		f := newFixture(t, "a", Failover)
		tm := TimingsFor(ttl)
		f.tick()
		if gone {
			f.rec = LeaseView{}
		} else {
			f.other("b", 2, false)
		}
		f.advance(tm.Renew)
		f.tick() // renewal conflicts (or creates nothing: IfMatch on a missing record)
		f.advance(tm.Poll)
		f.tick() // the read shows the truth
		f.wantRole(Lost, false)
		f.advance(time.Hour)
		if w := f.tick(); w != nil || f.c.role != Lost {
			t.Fatalf("a lost node acts again: %+v %s", w, f.c.role)
		}
	}
}

func TestCoreAutoHoldsSingleLeaseUntilAPeerAppears(t *testing.T) {
	f := newFixture(t, "a", Auto)
	tm := TimingsFor(ttl)
	w := f.tick()
	if w == nil || w.Rec.Mode != "single" {
		t.Fatalf("auto alone: %+v", w)
	}
	for i := 0; i < 3; i++ {
		f.advance(tm.Renew)
		if w := f.tick(); w == nil || w.Rec.Mode != "single" {
			t.Fatalf("auto alone renews %+v", w)
		}
	}
	f.c.setMembers(nil, 1)
	f.advance(tm.Renew)
	if w := f.tick(); w == nil || w.Rec.Mode != "failover" || w.Rec.Term != 1 {
		t.Fatalf("promotion write %+v", w)
	}
	if !f.c.promoted || f.rec.Rec.Mode != "failover" {
		t.Fatalf("not promoted: %+v", f.rec.Rec)
	}
	f.c.setMembers(nil, 0)
	f.advance(tm.Renew)
	if w := f.tick(); w == nil || w.Rec.Mode != "failover" {
		t.Fatalf("a promoted node went back to single: %+v", w)
	}
	f.wantRole(Active, true)
}

func TestCoreReleaseHandsOver(t *testing.T) {
	a := newFixture(t, "a", Failover)
	a.tick()
	w := a.c.release(a.clk.Now())
	etag, err := a.put(w)
	a.c.written(a.clk.Now(), w, etag, err)
	a.wantRole(Passive, false)
	if !a.rec.Rec.Released {
		t.Fatal("release did not mark the record")
	}
}
