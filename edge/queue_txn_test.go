package edge_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func emptyNow(t *testing.T, s *edgetest.Server, queue string) bool {
	r, _ := dequeue(t, s, "/v1/queue/dequeue", map[string]any{"queue": queue, "owner": "probe", "wait_seconds": -1})
	return r.Status == 409
}

// A message dequeued under a key's transaction is acked by its commit.
func TestQueueEnlistedCommitAcks(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "jobs", `{"job":1}`)
		k := acquire(t, s, "job-state", "w")
		d := dequeueOne(t, s, "jobs", map[string]any{"txn_id": k.TxnID})
		if d.Message.TxnID != k.TxnID {
			t.Fatalf("delivery txn %s, want %s", d.Message.TxnID, k.TxnID)
		}
		mustOK(t, k.update(`{"done":1}`), "update")
		mustOK(t, k.release(false), "commit")
		if !emptyNow(t, s, "jobs") {
			t.Fatal("commit did not ack the enlisted message")
		}
		if p := publicGet(s, "job-state"); string(p.Body) != `{"done":1}` {
			t.Fatalf("state %d %s", p.Status, p.Body)
		}
		// The consumer's own ack afterwards finds nothing left to ack.
		if r := ack(s, d.Message); r.Status != 200 && r.Status != 404 {
			t.Fatalf("late ack: %d %s", r.Status, r.Body)
		}
	})
}

// Rolling the transaction back returns the message, counting a failure.
func TestQueueEnlistedRollbackNacks(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "jobs", `{"job":2}`)
		k := acquire(t, s, "job-state", "w")
		dequeueOne(t, s, "jobs", map[string]any{"txn_id": k.TxnID})
		mustOK(t, k.update(`{"done":2}`), "update")
		mustOK(t, k.release(true), "rollback")
		again := dequeueOne(t, s, "jobs")
		if again.Message.FailureAttempts != 1 {
			t.Fatalf("redelivery %+v", again.Message)
		}
		if p := publicGet(s, "job-state"); p.Status != 204 {
			t.Fatalf("rolled-back state visible: %s", p.Body)
		}
	})
}

// The consumer's ack decides the transaction like a release would.
func TestQueueAckDecidesTransaction(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "jobs", `{"job":3}`)
		k := acquire(t, s, "job-state", "w")
		d := dequeueOne(t, s, "jobs", map[string]any{"txn_id": k.TxnID})
		mustOK(t, k.update(`{"done":3}`), "update")
		mustOK(t, ack(s, d.Message), "ack")
		if p := publicGet(s, "job-state"); string(p.Body) != `{"done":3}` {
			t.Fatalf("ack did not commit the key: %d %s", p.Status, p.Body)
		}
		mustOK(t, k.release(false), "later release")
		if !emptyNow(t, s, "jobs") {
			t.Fatal("message still queued")
		}
	})
}

// A delivery whose visibility ran out cannot be acked by the commit: the
// transaction rolls back and the commit answers 409 txn_aborted (as for a
// lapsed key lease; the cause is in the detail when the commit itself found
// it, and the message's expiry may have rolled the transaction back first).
// The state stays uncommitted and the message is delivered again.
func TestQueueStaleLeaseAbortsCommit(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "jobs", `{"job":4}`)
		k := acquire(t, s, "job-state", "w")
		dequeueOne(t, s, "jobs", map[string]any{"txn_id": k.TxnID, "visibility_timeout_seconds": 1})
		mustOK(t, k.update(`{"done":4}`), "update")
		eventually(t, "visibility expiry", func() bool { return stats(t, s, "jobs").InFlight == 0 })
		wantError(t, k.release(false), 409, api.CodeTxnAborted)
		if p := publicGet(s, "job-state"); p.Status != 204 {
			t.Fatalf("state committed although the message could not be acked: %s", p.Body)
		}
		if again := dequeueOne(t, s, "jobs"); again.Message.Attempts != 2 {
			t.Fatalf("redelivery %+v", again.Message)
		}
	})
}

// A long-polling consumer that hangs up is not handed the next message.
func TestDisconnectedDequeueWaiterGetsNothing(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		conn, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		body := `{"queue":"jobs","owner":"gone","wait_seconds":60}`
		fmt.Fprintf(conn, "POST /v1/queue/dequeue HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		eventually(t, "consumer waiting", func() bool { return stats(t, s, "jobs").WaitingConsumers == 1 })
		conn.Close()
		eventually(t, "consumer withdrawn", func() bool { return stats(t, s, "jobs").WaitingConsumers == 0 })
		enqueue(t, s, "jobs", `{"job":5}`)
		if d := dequeueOne(t, s, "jobs"); d.Message.Attempts != 1 {
			t.Fatalf("message was delivered to the consumer that hung up: %+v", d.Message)
		}
	})
}

// A consumer that hangs up just before a message arrives is not left
// holding it for its visibility timeout: the hang-up and the enqueue race,
// and whichever wins, the next consumer gets the message within seconds.
func TestDequeueWaiterThatJustHungUpHoldsNothing(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		for i := range 15 {
			queue := fmt.Sprintf("race%d", i)
			conn, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			body := `{"queue":"` + queue + `","owner":"gone","wait_seconds":60,"visibility_timeout_seconds":120}`
			fmt.Fprintf(conn, "POST /v1/queue/dequeue HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			eventually(t, "consumer waiting", func() bool { return stats(t, s, queue).WaitingConsumers == 1 })
			conn.(*net.TCPConn).SetLinger(0) // a reset, in the socket before the enqueue is sent
			conn.Close()
			enqueue(t, s, queue, `{"job":1}`)
			r, ds := dequeue(t, s, "/v1/queue/dequeue", map[string]any{"queue": queue, "owner": "next", "wait_seconds": 10})
			if r.Status != 200 || len(ds) != 1 {
				t.Fatalf("round %d: the message stayed with the consumer that hung up: %d %s", i, r.Status, r.Body)
			}
		}
	})
}

// Deliveries of a subscription that names a txn_id are enlisted like a
// dequeue's: the transaction's commit acks them, its rollback nacks them.
func TestQueueSubscriptionEnlists(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		commit := acquire(t, s, "sub-commit", "w")
		sub := subscribe(t, s, "/v1/queue/subscribe", map[string]any{"queue": "subjobs", "owner": "s1", "page_size": 1, "txn_id": commit.TxnID})
		enqueue(t, s, "subjobs", `{"job":1}`)
		d := sub.next(t)
		if d.Message.TxnID != commit.TxnID {
			t.Fatalf("delivery txn %s, want %s", d.Message.TxnID, commit.TxnID)
		}
		mustOK(t, commit.release(false), "commit")
		eventually(t, "the commit acks the subscribed message", func() bool {
			st := stats(t, s, "subjobs")
			return st.InFlight == 0 && st.Ready == 0
		})

		rollback := acquire(t, s, "sub-rollback", "w")
		sub2 := subscribe(t, s, "/v1/queue/subscribe", map[string]any{"queue": "subjobs2", "owner": "s2", "page_size": 1, "txn_id": rollback.TxnID})
		enqueue(t, s, "subjobs2", `{"job":2}`)
		sub2.next(t)
		mustOK(t, rollback.release(true), "rollback")
		// The nacked message cannot join the decided transaction again: the
		// subscription hands it back and ends, and a dequeue gets it.
		select {
		case d, ok := <-sub2.out:
			if ok {
				t.Fatalf("delivery %s after the subscription's transaction was decided", d.MessageID)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("subscription of a decided transaction did not end")
		}
		again := dequeueOne(t, s, "subjobs2")
		if string(again.Payload) != `{"job":2}` || again.Message.FailureAttempts != 1 {
			t.Fatalf("after rollback: %s %+v", again.Payload, again.Message)
		}
	})
}
