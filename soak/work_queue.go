package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// message is a queue payload: our id for it, and whether consumers must
// always refuse it (so it ends in the dead-letter queue).
type message struct {
	M      string `json:"m"`
	Poison bool   `json:"poison,omitempty"`
	Pad    string `json:"pad,omitempty"`
}

// enqueue adds one message with a fresh id.
func (t *traffic) enqueue(ctx context.Context, w *worker) bool {
	m := message{M: w.tag("m"), Poison: w.rng.Float64() < t.p.PoisonRatio, Pad: t.pad}
	b, _ := json.Marshal(m)
	op := Op{Kind: KindEnqueue, Worker: w.id, Key: t.lay.Queue, Msg: m.M, Poison: m.Poison, Call: t.rec.Now()}
	res, err := t.cli.Enqueue(ctx, t.lay.Queue, bytes.NewReader(b), sdk.EnqueueOptions{
		MaxAttempts: t.p.MaxAttempts, Visibility: t.p.Visibility, ContentType: "application/json"})
	op.Return = t.rec.Now()
	op.set(err)
	if err == nil {
		op.MsgID = res.MessageID
	}
	t.rec.Add(op)
	return op.Outcome == Unknown
}

// consume dequeues until stop ends: it acks most deliveries, nacks
// poison messages and a few others, and abandons some (a consumer that
// died holding them: they come back after their visibility).
func (t *traffic) consume(stop, ctx context.Context, w *worker) {
	ctx = withWorker(ctx, w)
	for i := int64(0); i < t.p.MaxOps && stop.Err() == nil; i++ {
		got, uncertain := t.dequeueOne(ctx, w, false)
		if !got {
			w.pause(stop, uncertain)
		}
	}
}

// dequeueOne handles one delivery; got is false when none came. A
// draining consumer acks everything but poison and never abandons.
func (t *traffic) dequeueOne(ctx context.Context, w *worker, draining bool) (got, uncertain bool) {
	op := Op{Kind: KindDequeue, Worker: w.id, Key: t.lay.Queue, Call: t.rec.Now()}
	qm, err := t.cli.Dequeue(ctx, t.lay.Queue, sdk.DequeueOptions{Owner: "soak-consumer", BlockSeconds: 1, Visibility: t.p.Visibility})
	var m message
	if err == nil {
		if err = qm.DecodePayloadJSON(&m); err != nil {
			qm.Close()
		}
	}
	op.Return = t.rec.Now()
	op.set(err)
	if err != nil {
		if !errors.Is(err, sdk.ErrWaiting) && ctx.Err() == nil {
			t.rec.Add(op)
		}
		return false, op.Outcome == Unknown
	}
	op.Msg, op.MsgID, op.Attempts, op.Poison = m.M, qm.ID(), qm.Attempts(), m.Poison
	t.rec.Add(op)
	r := w.rng.Float64()
	switch {
	case m.Poison || (!draining && r < t.p.NackRatio):
		t.settle(ctx, w, qm, m, KindNack)
	case !draining && r < t.p.NackRatio+t.p.AbandonRatio:
		qm.ClosePayload() // abandoned: redelivered after its visibility
	default:
		t.settle(ctx, w, qm, m, KindAck)
	}
	return true, false
}

func (t *traffic) settle(ctx context.Context, w *worker, qm *sdk.QueueMessage, m message, kind Kind) {
	op := Op{Kind: kind, Worker: w.id, Key: t.lay.Queue, Msg: m.M, MsgID: qm.ID(), Attempts: qm.Attempts(), Call: t.rec.Now()}
	var err error
	if kind == KindAck {
		err = qm.Ack(ctx)
	} else {
		err = qm.Nack(ctx, sdk.NackOptions{Intent: api.NackIntentFailure, LastError: "soak: refused"})
	}
	op.Return = t.rec.Now()
	op.set(err)
	t.rec.Add(op)
}

// drain consumes until the queue holds no ready, delayed or in-flight
// message (poison ones go on to the dead-letter queue), within bound. It
// reports whether the queue emptied and how many messages remained.
func (t *traffic) drain(ctx context.Context, bound time.Duration) (bool, int64) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	w := &worker{id: 2000, rng: newRand(0, 2000)}
	left := int64(-1)
	for i := int64(0); i < t.p.MaxOps && ctx.Err() == nil; i++ {
		got, uncertain := t.dequeueOne(ctx, w, true)
		if got {
			continue
		}
		st, err := t.cli.QueueStats(ctx, t.lay.Queue)
		if err == nil {
			left = st.Ready + st.Delayed + st.InFlight
			if left == 0 {
				return true, 0
			}
		}
		w.pause(ctx, uncertain || err != nil)
	}
	return false, left
}

// deadLetters lists the queue's dead-letter queue by message id.
func (t *traffic) deadLetters(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	cursor := ""
	for range 1000 { // pages of 1000: bounded at a million dead letters
		res, err := t.cli.QueueDLQList(ctx, api.QueueDLQListRequest{Queue: t.lay.Queue, StartAfter: cursor, Limit: 1000})
		if err != nil {
			return out, err
		}
		for _, m := range res.Messages {
			out[m.MessageID] = m.DeadLetterReason
		}
		if res.NextCursor == "" || len(res.Messages) == 0 {
			return out, nil
		}
		cursor = res.NextCursor
	}
	return out, nil
}
