package actors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
)

var errUnavailable = errors.New("test: unavailable")

type durable struct{ err error }

func (d durable) Wait() error { return d.err }

// caller records what it abandons.
func caller() (*actors.Caller, chan *actors.Request) {
	abandoned := make(chan *actors.Request, 4)
	return &actors.Caller{Unavailable: errUnavailable, Abandon: func(id string, r *actors.Request) {
		if id != "k" {
			panic("abandoned under the wrong id " + id)
		}
		abandoned <- r
	}}, abandoned
}

func TestAwaitReply(t *testing.T) {
	c, _ := caller()
	cases := []struct {
		name string
		d    actors.Durable
		err  error
		want error
	}{
		{"value", nil, nil, nil},
		{"durable", durable{}, nil, nil},
		{"error", nil, errors.New("refused"), nil},
		{"sync failed", durable{errors.New("disk gone")}, nil, errUnavailable},
	}
	for _, tc := range cases {
		r := actors.NewRequest("op")
		r.Answer(42, tc.err, tc.d)
		v, err := c.Await(context.Background(), "k", r, nil)
		switch {
		case tc.err != nil:
			if err != tc.err {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.err)
			}
		case tc.want != nil:
			if !errors.Is(err, tc.want) || v != nil {
				t.Errorf("%s: got %v %v, want %v", tc.name, v, err, tc.want)
			}
		case err != nil || v != 42:
			t.Errorf("%s: got %v %v", tc.name, v, err)
		}
	}
}

// A caller whose context ends hands the request to Abandon, which still
// receives the late reply.
func TestAwaitContextEndAbandons(t *testing.T) {
	c, abandoned := caller()
	r := actors.NewRequest("op")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Await(ctx, "k", r, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	select {
	case got := <-abandoned:
		r.Answer("late", nil, durable{})
		if v, ok := got.Late(time.Second); !ok || v != "late" {
			t.Fatalf("late reply %v %v", v, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not abandoned")
	}
}

// Blocking arms nothing until the actor parks the request; once parked,
// the timeout and While bound the wait.
func TestAwaitBlocking(t *testing.T) {
	c, abandoned := caller()
	armed := 0
	while := func() (context.Context, func()) {
		armed++
		return context.Background(), func() {}
	}
	r := actors.NewRequest("op")
	r.Blocks()
	r.Answer(1, nil, nil) // answered without parking
	if v, err := c.Await(context.Background(), "k", r, &actors.Blocking{Timeout: time.Millisecond, While: while}); v != 1 || err != nil || armed != 0 {
		t.Fatalf("unparked: %v %v, While called %d times", v, err, armed)
	}

	r = actors.NewRequest("op")
	r.Blocks()
	r.Park()
	if _, err := c.Await(context.Background(), "k", r, &actors.Blocking{Timeout: 10 * time.Millisecond, While: while}); !errors.Is(err, context.DeadlineExceeded) || armed != 1 {
		t.Fatalf("parked past its timeout: %v, While called %d times", err, armed)
	}
	<-abandoned

	gone, leave := context.WithCancel(context.Background())
	stopped := false
	r = actors.NewRequest("op")
	r.Blocks()
	r.Park()
	leave()
	_, err := c.Await(context.Background(), "k", r, &actors.Blocking{Timeout: time.Minute, While: func() (context.Context, func()) {
		return gone, func() { stopped = true }
	}})
	if !errors.Is(err, context.Canceled) || !stopped {
		t.Fatalf("parked, client gone: %v, stop called %v", err, stopped)
	}
	select {
	case <-abandoned:
	case <-time.After(5 * time.Second):
		t.Fatal("not abandoned")
	}
}

// A reply that reaches a parked request whose client left just before
// (the watch had not seen it; its last look at stop does) goes to Abandon
// with the reply, not to the caller; a client still there gets it.
func TestAwaitHandsAReplyForAGoneClientToAbandon(t *testing.T) {
	c, abandoned := caller()
	for _, left := range []bool{false, true} {
		gone, leave := context.WithCancel(context.Background())
		r := actors.NewRequest("op")
		r.Blocks()
		r.Park()
		v, err := c.Await(context.Background(), "k", r, &actors.Blocking{Timeout: time.Minute, While: func() (context.Context, func()) {
			r.Answer("lease", nil, nil) // the actor answers while the watch runs
			return gone, func() {
				if left {
					leave() // the last look sees the reset
				}
			}
		}})
		if !left {
			if v != "lease" || err != nil {
				t.Fatalf("client still there: %v %v", v, err)
			}
			leave()
			continue
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("client gone: %v %v", v, err)
		}
		wantAbandoned(t, abandoned, "lease")
	}
}

// wantAbandoned waits for Abandon to get a request whose reply is want.
func wantAbandoned(t *testing.T, abandoned chan *actors.Request, want any) {
	t.Helper()
	select {
	case ar := <-abandoned:
		if v, ok := ar.Late(time.Second); !ok || v != want {
			t.Fatalf("Abandon did not get the reply: %v %v", v, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not abandoned")
	}
}

// The reply of a parked request that went to its caller can still be
// handed to Abandon later, once, through Delivered's abandon (a node that
// forwarded the request finds its client gone). A reply of a request that
// never parked, or an error, offers nothing.
func TestDeliveredReplyCanBeAbandonedLater(t *testing.T) {
	c, abandoned := caller()
	var later func()
	b := &actors.Blocking{Timeout: time.Minute, Delivered: func(abandon func()) { later = abandon }}
	r := actors.NewRequest("op")
	r.Blocks()
	r.Park()
	r.Answer("lease", nil, nil)
	if v, err := c.Await(context.Background(), "k", r, b); v != "lease" || err != nil {
		t.Fatalf("await: %v %v", v, err)
	}
	if later == nil {
		t.Fatal("Delivered was not called for a parked request's reply")
	}
	select {
	case <-abandoned:
		t.Fatal("abandoned before anyone asked")
	default:
	}
	later()
	later() // once only
	wantAbandoned(t, abandoned, "lease")
	select {
	case <-abandoned:
		t.Fatal("abandoned twice")
	case <-time.After(50 * time.Millisecond):
	}

	later = nil
	r = actors.NewRequest("op") // answered at once: never parked
	r.Blocks()
	r.Answer("lease", nil, nil)
	if _, err := c.Await(context.Background(), "k", r, b); err != nil || later != nil {
		t.Fatalf("a request answered at once offered its reply for abandon (%v)", err)
	}
	r = actors.NewRequest("op")
	r.Blocks()
	r.Park()
	r.Answer(nil, errors.New("refused"), nil)
	if _, err := c.Await(context.Background(), "k", r, b); err == nil || later != nil {
		t.Fatal("an error reply was offered for abandon")
	}
}

func TestLateGivesUp(t *testing.T) {
	r := actors.NewRequest("op")
	if _, ok := r.Late(time.Millisecond); ok {
		t.Fatal("no reply, yet Late succeeded")
	}
	r = actors.NewRequest("op")
	r.Answer("v", nil, durable{errors.New("lost")})
	if _, ok := r.Late(time.Second); ok {
		t.Fatal("reply not durable, yet Late succeeded")
	}
}
