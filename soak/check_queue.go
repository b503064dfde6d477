package soak

import (
	"fmt"
	"sort"
)

// queueLog gathers a phase's queue operations by payload id.
type queueLog struct {
	enq   map[string]Op   // payload id → its (single) enqueue attempt
	deliv map[string][]Op // payload id → successful dequeues
	acks  map[string][]Op // payload id → ok or unknown acks
	ids   map[string]map[string]bool
}

func newQueueLog(ops []Op) *queueLog {
	q := &queueLog{enq: map[string]Op{}, deliv: map[string][]Op{}, acks: map[string][]Op{}, ids: map[string]map[string]bool{}}
	addID := func(msg, id string) {
		if id == "" {
			return
		}
		if q.ids[msg] == nil {
			q.ids[msg] = map[string]bool{}
		}
		q.ids[msg][id] = true
	}
	for _, op := range ops {
		switch {
		case op.Kind == KindEnqueue:
			q.enq[op.Msg] = op
			addID(op.Msg, op.MsgID)
		case op.Kind == KindDequeue && op.Outcome == OK:
			q.deliv[op.Msg] = append(q.deliv[op.Msg], op)
			addID(op.Msg, op.MsgID)
		case op.Kind == KindAck && op.Outcome != Fail:
			q.acks[op.Msg] = append(q.acks[op.Msg], op)
		}
	}
	return q
}

// checkQueue proves invariant 5: an acknowledged enqueue is delivered
// until it is acknowledged or dead-lettered; an acknowledged message is
// never delivered again; nothing is delivered that nobody enqueued, and
// one enqueue is one message.
func checkQueue(phase string, ops []Op, fin Final) Verdict {
	v := Verdict{Check: "queue-delivery", Phase: phase, Status: Passed,
		Invariant: "every acknowledged enqueue is delivered until acked or dead-lettered; acked messages are never redelivered"}
	if !fin.QueueChecked {
		v.Status, v.Summary = Skipped, "no queue traffic"
		return v
	}
	q := newQueueLog(ops)
	lost, pending, dead := 0, 0, 0
	for _, msg := range sortedKeys(q.enq) {
		e := q.enq[msg]
		if e.Outcome != OK {
			continue
		}
		v.Checked++
		if len(q.ids[msg]) > 1 {
			v.fail(Failure{Key: msg, History: append([]Op{e}, q.deliv[msg]...),
				Message: fmt.Sprintf("one enqueue of %s became %d messages", msg, len(q.ids[msg]))})
		}
		_, isDead := fin.DeadLetters[e.MsgID]
		settled := len(q.acks[msg]) > 0 || isDead
		switch {
		case isDead:
			dead++
		case !settled && !fin.Drained:
			pending++
		case !settled:
			lost++
			v.fail(Failure{Key: msg, History: append([]Op{e}, q.deliv[msg]...),
				Message: fmt.Sprintf("message %s (id %s) was enqueued (200) and delivered %d times but never acked nor dead-lettered, and the queue is empty", msg, e.MsgID, len(q.deliv[msg]))})
		}
		if f, bad := redelivered(msg, q); bad {
			v.fail(f)
		}
	}
	for _, msg := range sortedKeys(q.deliv) {
		if _, ok := q.enq[msg]; !ok {
			v.fail(Failure{Key: msg, History: q.deliv[msg], Message: "delivered a message nobody enqueued: " + msg})
		}
	}
	if pending > 0 && v.Status == Passed {
		v.Status = Inconclusive
	}
	v.Summary = fmt.Sprintf("%d acknowledged enqueues: %d lost, %d dead-lettered", v.Checked, lost, dead)
	if !fin.Drained {
		v.Summary += fmt.Sprintf("; queue did not drain (%d left, %d messages undecided)", fin.Remaining, pending)
	}
	return v
}

// redelivered finds a delivery that started after an ack of the same
// message had returned success.
func redelivered(msg string, q *queueLog) (Failure, bool) {
	var firstAck *Op
	for i, a := range q.acks[msg] {
		if a.Outcome == OK && (firstAck == nil || a.Return < firstAck.Return) {
			firstAck = &q.acks[msg][i]
		}
	}
	if firstAck == nil {
		return Failure{}, false
	}
	ds := append([]Op(nil), q.deliv[msg]...)
	sort.Slice(ds, func(i, j int) bool { return ds[i].Call < ds[j].Call })
	for _, d := range ds {
		if d.Call > firstAck.Return {
			return Failure{Key: msg, History: []Op{*firstAck, d},
				Message: fmt.Sprintf("message %s was acked (op #%d) and delivered again afterwards (op #%d)", msg, firstAck.ID, d.ID)}, true
		}
	}
	return Failure{}, false
}
