package keyspace_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/keyspace"
)

// Public reads are answered from the view the key's actor publishes, and
// never see less than the last release that returned.
func TestPublicReadsSkipTheActorAndSeeEveryRelease(t *testing.T) {
	var publicAtActor atomic.Int64
	e := newEnv(t, func(c *keyspace.Config) {
		keyspace.SetTestHook(c, func(_ keyspace.Ref, op any) {
			if g, ok := op.(interface{ IsPublicGet() bool }); ok && g.IsPublicGet() {
				publicAtActor.Add(1)
			}
		})
	})
	if got := e.public(); got != "<none>" {
		t.Fatalf("fresh key reads %q", got)
	}
	for i := 0; i < 200; i++ {
		l := e.acquire("w")
		body := `{"n":` + strconv.Itoa(i) + `}`
		if _, err := e.update(l, body); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if got, want := e.public(), `{"n":`+strconv.Itoa(i-1)+`}`; got != want {
				t.Fatalf("staged state leaked: public read %q, want %q", got, want)
			}
		}
		e.release(l, false)
		if got := e.public(); got != body {
			t.Fatalf("after release %d public read %q", i, got)
		}
	}
	if n := publicAtActor.Load(); n > 1 {
		t.Fatalf("%d public reads reached the actor; want at most the first", n)
	}
}

// Readers running alongside a writer never see a version go backwards.
func TestPublicReadsMonotonicUnderWrites(t *testing.T) {
	e := newEnv(t)
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(-1)
			for {
				select {
				case <-done:
					return
				default:
				}
				v, err := e.svc.Get(ctx(t), keyspace.GetRequest{Ref: ref, Public: true})
				if err != nil {
					errs <- err
					return
				}
				if v.Version < last {
					errs <- errors.New("version went back from " + strconv.FormatInt(last, 10) + " to " + strconv.FormatInt(v.Version, 10))
					return
				}
				last = v.Version
			}
		}()
	}
	for i := 0; i < 300; i++ {
		l := e.acquire("w")
		if _, err := e.update(l, strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		e.release(l, false)
	}
	close(done)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// Passivated actors withdraw their views, so the table follows the live
// set, and a read after passivation is answered by a fresh actor.
func TestPublishedViewsFollowLiveActors(t *testing.T) {
	e := newEnv(t, func(c *keyspace.Config) { c.Actors = actors.Config{IdleAfter: time.Nanosecond, Tick: time.Hour} })
	l := e.acquire("w")
	e.update(l, `"kept"`)
	e.release(l, false)
	if keyspace.PublishedCount(e.svc) != 1 {
		t.Fatalf("published = %d, want 1", keyspace.PublishedCount(e.svc))
	}
	e.clk.Advance(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for (e.svc.Live() > 0 || keyspace.PublishedCount(e.svc) > 0) && time.Now().Before(deadline) {
		e.svc.PassivateIdle()
		time.Sleep(time.Millisecond)
	}
	if e.svc.Live() != 0 || keyspace.PublishedCount(e.svc) != 0 {
		t.Fatalf("live %d, published %d after passivation", e.svc.Live(), keyspace.PublishedCount(e.svc))
	}
	if got := e.public(); got != `"kept"` {
		t.Fatalf("after passivation public read %q", got)
	}
}

// When another writer changes the record in the store (a second node on a
// shared bucket), the actor's next write conflicts, it withdraws its view
// and the next read reloads the record.
func TestConflictWithdrawsPublishedView(t *testing.T) {
	e := newEnv(t)
	l := e.acquire("a")
	e.update(l, `"one"`)
	e.release(l, false)
	if got := e.public(); got != `"one"` {
		t.Fatalf("public %q", got)
	}
	other := keyspace.New(actors.NewSystem(), e.st, e.cfg)
	defer other.Close()
	ol, err := other.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "b"})
	if err != nil {
		t.Fatal(err)
	}
	body := `"two"`
	if _, err := other.Update(ctx(t), keyspace.UpdateRequest{Ref: ref, LeaseProof: proof(ol), Body: strings.NewReader(body), Size: int64(len(body)), ETag: etag(body)}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Release(ctx(t), keyspace.ReleaseRequest{Ref: ref, LeaseProof: proof(ol)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "a"}); !errors.Is(err, keyspace.ErrConflict) {
		t.Fatalf("acquire over a changed record: %v, want conflict", err)
	}
	if got := e.public(); got != `"two"` {
		t.Fatalf("after conflict public read %q, want the other writer's", got)
	}
}
