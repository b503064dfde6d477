package edge_test

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestLifecycleOverHTTP(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "orders/1", "w1", `"ttl_seconds":30`)
		if l.FencingToken != 1 || l.Version != 0 || l.Namespace != "default" || len(l.LeaseID) != 20 || len(l.TxnID) != 20 {
			t.Fatalf("acquire response %+v", l.AcquireResponse)
		}
		r := l.update(`{ "status" : "ready", "n": [1, 2] }`)
		mustOK(t, r, "update")
		var up api.UpdateResponse
		r.JSON(t, &up)
		if up.NewVersion != 1 || up.Bytes != int64(len(`{"status":"ready","n":[1,2]}`)) || r.Header.Get("ETag") != up.NewStateETag {
			t.Fatalf("update %+v headers %v", up, r.Header)
		}
		g := l.get()
		if g.Status != 200 || string(g.Body) != `{"status":"ready","n":[1,2]}` || g.Header.Get(api.HeaderKeyVersion) != "1" {
			t.Fatalf("holder get: %d %s %v", g.Status, g.Body, g.Header)
		}
		if p := publicGet(s, "orders/1"); p.Status != 204 {
			t.Fatalf("public get of uncommitted key: %d %s", p.Status, p.Body)
		}
		var rel api.ReleaseResponse
		rr := l.release(false)
		mustOK(t, rr, "release")
		rr.JSON(t, &rel)
		if !rel.Released {
			t.Fatal("released=false")
		}
		p := publicGet(s, "orders/1")
		if p.Status != 200 || string(p.Body) != `{"status":"ready","n":[1,2]}` || p.Header.Get("ETag") != up.NewStateETag || p.Header.Get(api.HeaderKeyVersion) != "1" {
			t.Fatalf("public get after commit: %d %s %v", p.Status, p.Body, p.Header)
		}
		var d api.DescribeResponse
		s.Do("GET", "/v1/describe?key=orders/1", nil).JSON(t, &d)
		if d.Version != 1 || d.StateETag != up.NewStateETag || d.LeaseID != "" || d.UpdatedAtUnix == 0 {
			t.Fatalf("describe %+v", d)
		}
	})
}

func TestStagedNeverLeaksToPublicReads(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a")
		mustOK(t, l.update(`{"v":1}`), "update")
		mustOK(t, l.release(false), "release")
		l = acquire(t, s, "k", "b")
		mustOK(t, l.update(`{"v":2}`), "update")
		if p := publicGet(s, "k"); string(p.Body) != `{"v":1}` {
			t.Fatalf("public read saw staged state: %s", p.Body)
		}
		mustOK(t, l.release(true), "rollback")
		if p := publicGet(s, "k"); string(p.Body) != `{"v":1}` {
			t.Fatalf("rollback did not discard: %s", p.Body)
		}
	})
}

func TestFencingAndLeaseErrors(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a", `"ttl_seconds":1`)
		stale := l
		stale.FencingToken = 99
		wantError(t, stale.update(`1`), 403, api.CodeFencingMismatch)
		wrong := l
		wrong.LeaseID = "c5v9d0sl70b3m3q8ndg0"
		wantError(t, wrong.update(`1`), 403, api.CodeLeaseRequired)
		wrongTxn := l
		wrongTxn.TxnID = "c5v9d0sl70b3m3q8ndg0"
		wantError(t, wrongTxn.update(`1`), 409, api.CodeTxnMismatch)
		// A release with a foreign lease id answers 200 and frees nothing.
		mustOK(t, wrong.release(false), "foreign release")
		wantError(t, s.Do("POST", "/v1/acquire", `{"key":"k","owner":"b","block_seconds":-1}`), 409, api.CodeWaiting)
		// Expiry: the old holder is refused, then a newcomer gets token 2.
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := l.get() // reads do not extend the lease
			if r.Status == 403 {
				wantError(t, r, 403, api.CodeLeaseExpired)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lease never expired: %d %s", r.Status, r.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		wantError(t, l.update(`1`), 403, api.CodeLeaseRequired)
		l2 := acquire(t, s, "k", "b")
		if l2.FencingToken != 2 {
			t.Fatalf("fencing after takeover %d", l2.FencingToken)
		}
		wantError(t, l.update(`1`), 403, api.CodeLeaseRequired)
	})
}

func TestAcquireOptions(t *testing.T) {
	each(t, server.Config{DefaultNamespace: "work"}, func(t *testing.T, s *edgetest.Server) {
		r := s.Do("POST", "/v1/acquire", `{"owner":"a"}`)
		mustOK(t, r, "acquire without key")
		var gen api.AcquireResponse
		r.JSON(t, &gen)
		if gen.Key == "" || gen.Namespace != "work" {
			t.Fatalf("generated key %+v", gen)
		}
		if r.Header.Get(api.HeaderCorrelationID) != gen.CorrelationID || gen.CorrelationID == "" {
			t.Fatalf("correlation id header %q body %q", r.Header.Get(api.HeaderCorrelationID), gen.CorrelationID)
		}
		r = s.Do("POST", "/v1/acquire?key=q1", `{"owner":"a","namespace":"other"}`, api.HeaderCorrelationID, "my-cid-1")
		mustOK(t, r, "acquire with query key")
		var q api.AcquireResponse
		r.JSON(t, &q)
		if q.Key != "q1" || q.Namespace != "other" || q.CorrelationID != "my-cid-1" {
			t.Fatalf("query key/namespace/correlation: %+v", q)
		}
		txn := q.TxnID
		r = s.Do("POST", "/v1/acquire", `{"key":"q2","owner":"a"}`, api.HeaderTxnID, txn)
		var j api.AcquireResponse
		r.JSON(t, &j)
		if j.TxnID != txn {
			t.Fatalf("X-Txn-ID not joined: %s vs %s", j.TxnID, txn)
		}
		l := acquire(t, s, "created", "a", `"if_not_exists":true`)
		mustOK(t, l.update(`{}`), "update")
		mustOK(t, l.release(false), "release")
		wantError(t, s.Do("POST", "/v1/acquire", `{"key":"created","owner":"b","if_not_exists":true}`), 409, api.CodeAlreadyExists)
		r = s.Do("POST", "/v1/acquire", `{"key":"ttl","owner":"a","ttl_seconds":999999}`)
		var ttl api.AcquireResponse
		r.JSON(t, &ttl)
		if got := ttl.ExpiresAtUnix - time.Now().Unix(); got > 30*60+2 {
			t.Fatalf("ttl not clamped to max: %ds", got)
		}
	})
}

func TestWaitingHasRetryAfter(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		acquire(t, s, "held", "a", `"ttl_seconds":20`)
		r := s.Do("POST", "/v1/acquire", `{"key":"held","owner":"b","block_seconds":-1}`)
		wantError(t, r, 409, api.CodeWaiting)
		var e api.ErrorResponse
		r.JSON(t, &e)
		if e.RetryAfterSeconds < 19 || r.Header.Get("Retry-After") != strconv.FormatInt(e.RetryAfterSeconds, 10) {
			t.Fatalf("retry after %d header %q", e.RetryAfterSeconds, r.Header.Get("Retry-After"))
		}
	})
}

// A blocked acquire is answered as soon as the holder releases. The
// server's clock is fake and never advanced: a hand-off that waited for a
// timer (polling) would never come, and a loaded machine cannot make an
// event-driven one late enough to fail.
func TestBlockingAcquireHandOff(t *testing.T) {
	each(t, server.Config{Clock: clock.NewFake(time.Now())}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "hot", "a")
		var wg sync.WaitGroup
		results := make(chan edgetest.Response, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- s.Do("POST", "/v1/acquire", `{"key":"hot","owner":"b","block_seconds":30}`)
		}()
		deadline := time.Now().Add(5 * time.Second)
		for n := waitersOf(t, s, "hot"); n == 0; n = waitersOf(t, s, "hot") {
			if time.Now().After(deadline) {
				t.Fatal("waiter never queued")
			}
			time.Sleep(time.Millisecond)
		}
		mustOK(t, l.release(false), "release")
		var r edgetest.Response
		select {
		case r = <-results:
		case <-time.After(30 * time.Second):
			t.Fatal("the blocked acquire was not handed the lease (polling on a timer?)")
		}
		wg.Wait()
		mustOK(t, r, "blocked acquire")
		var got api.AcquireResponse
		r.JSON(t, &got)
		if got.Owner != "b" || got.FencingToken != 2 {
			t.Fatalf("hand-off %+v", got)
		}
	})
}

// A blocked acquirer that hangs up just before the key is released does
// not keep the lease for its TTL: the hang-up and the release race, and
// whichever wins, the next acquirer gets the key within seconds.
func TestWaiterThatJustHungUpHoldsNoLease(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		for i := range 15 {
			key := fmt.Sprintf("race%d", i)
			l := acquire(t, s, key, "a", `"ttl_seconds":60`)
			conn, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			body := `{"key":"` + key + `","owner":"gone","block_seconds":60,"ttl_seconds":120}`
			fmt.Fprintf(conn, "POST /v1/acquire HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			eventually(t, "waiter queued", func() bool { return waitersOf(t, s, key) == 1 })
			conn.(*net.TCPConn).SetLinger(0) // a reset, in the socket before the release is sent
			conn.Close()
			mustOK(t, l.release(false), "release")
			r := s.Do("POST", "/v1/acquire", `{"key":"`+key+`","owner":"next","block_seconds":10}`)
			if r.Status != 200 {
				t.Fatalf("round %d: the lease stayed with the acquirer that hung up: %d %s", i, r.Status, r.Body)
			}
		}
	})
}

// A blocked acquirer that hangs up leaves the queue at once: the lease goes
// to the next live waiter, not to a client that is gone.
func TestDisconnectedWaiterIsWithdrawn(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "hot", "a", `"ttl_seconds":60`)
		waiters := func() int { return waitersOf(t, s, "hot") }
		conn, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		body := `{"key":"hot","owner":"gone","block_seconds":60}`
		fmt.Fprintf(conn, "POST /v1/acquire HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		eventually(t, "first waiter queued", func() bool { return waiters() == 1 })
		second := make(chan edgetest.Response, 1)
		go func() { second <- s.Do("POST", "/v1/acquire", `{"key":"hot","owner":"live","block_seconds":60}`) }()
		eventually(t, "second waiter queued", func() bool { return waiters() == 2 })
		conn.Close()
		eventually(t, "gone waiter withdrawn", func() bool { return waiters() == 1 })
		mustOK(t, l.release(false), "release")
		select {
		case r := <-second:
			var got api.AcquireResponse
			r.JSON(t, &got)
			if r.Status != 200 || got.Owner != "live" {
				t.Fatalf("second waiter: %d %s", r.Status, r.Body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the lease went to the client that hung up")
		}
	})
}
