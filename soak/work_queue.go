package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
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
		got, uncertain := t.dequeueOne(ctx, t.cli, w, false)
		if !got {
			w.pause(stop, uncertain)
		}
	}
}

// dequeueOne handles one delivery, dequeued through from; got is false
// when none came. A draining consumer acks everything but poison and
// never abandons. Settlements always go through t.cli: one request each,
// so that their outcomes stay precise.
func (t *traffic) dequeueOne(ctx context.Context, from *sdk.Client, w *worker, draining bool) (got, uncertain bool) {
	op := Op{Kind: KindDequeue, Worker: w.id, Key: t.lay.Queue, Call: t.rec.Now()}
	qm, err := from.Dequeue(ctx, t.lay.Queue, sdk.DequeueOptions{Owner: "soak-consumer", BlockSeconds: 1, Visibility: t.p.Visibility})
	var m message
	if err == nil {
		if err = qm.DecodePayloadJSON(&m); err != nil {
			qm.ClosePayload()
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

// settle acks or nacks the delivery qm with one request of t.cli.
func (t *traffic) settle(ctx context.Context, w *worker, qm *sdk.QueueMessage, m message, kind Kind) {
	qm.ClosePayload()
	d := qm.Meta()
	op := Op{Kind: kind, Worker: w.id, Key: t.lay.Queue, Msg: m.M, MsgID: qm.ID(), Attempts: qm.Attempts(), Call: t.rec.Now()}
	var err error
	if kind == KindAck {
		_, err = t.cli.QueueAck(ctx, api.AckRequest{Namespace: d.Namespace, Queue: d.Queue, MessageID: d.MessageID,
			LeaseID: d.LeaseID, FencingToken: d.FencingToken, MetaETag: d.MetaETag, TxnID: d.TxnID})
	} else {
		_, err = t.cli.QueueNack(ctx, api.NackRequest{Namespace: d.Namespace, Queue: d.Queue, MessageID: d.MessageID,
			LeaseID: d.LeaseID, FencingToken: d.FencingToken, MetaETag: d.MetaETag, TxnID: d.TxnID,
			Intent: api.NackIntentFailure, LastError: json.RawMessage(`"soak: refused"`)})
	}
	op.Return = t.rec.Now()
	op.set(err)
	t.rec.Add(op)
}

// drainWorkers is how many consumers the final drain runs.
const drainWorkers = 4

// drain consumes until the queue holds no ready, delayed or in-flight
// message (poison ones go on to the dead-letter queue), within bound. It
// reports whether the queue emptied and how many messages remained (-1:
// the stats never answered).
//
// Consumers dequeue and the stats are read through the patient client,
// which waits out 429 and 503 answers as their Retry-After asks (an
// overloaded server may still be shedding when traffic stops); the
// settlements are single requests. Each call is bounded by the drain's
// deadline.
func (t *traffic) drain(ctx context.Context, bound time.Duration) (bool, int64) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	// stop ends the consumers' loops; their requests run under ctx, so a
	// settlement in flight when the queue reads empty still completes.
	stop, halt := context.WithCancel(ctx)
	defer halt()
	var wg sync.WaitGroup
	for i := range drainWorkers {
		w := &worker{id: 2000 + i, rng: newRand(0, uint64(2000+i))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := int64(0); n < t.p.MaxOps && stop.Err() == nil; n++ {
				if got, uncertain := t.dequeueOne(ctx, t.patient, w, true); !got {
					w.pause(stop, uncertain)
				}
			}
		}()
	}
	defer func() {
		halt()
		wg.Wait()
	}()
	left := int64(-1)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := t.patient.QueueStats(ctx, t.lay.Queue); err == nil {
			left = st.Ready + st.Delayed + st.InFlight
			if left == 0 {
				return true, 0
			}
		}
		select {
		case <-ctx.Done():
			return false, left
		case <-tick.C:
		}
	}
}

// deadLetters lists the queue's dead-letter queue by message id.
func (t *traffic) deadLetters(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	cursor := ""
	for range 1000 { // pages of 1000: bounded at a million dead letters
		res, err := t.patient.QueueDLQList(ctx, api.QueueDLQListRequest{Queue: t.lay.Queue, StartAfter: cursor, Limit: 1000})
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
