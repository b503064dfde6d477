package queues

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/store"
)

// The actor keeps inline payloads in memory up to Config.InlineMemory per
// queue. Past that, a message's payload lives only in its record: the
// entry is cold, and the payload is read back whenever the record is
// rewritten (so the write keeps it) and for as long as that turn needs it.

// keepInline decides whether e's inline payload stays in memory.
func (a *queueActor) keepInline(e *entry) {
	n := int64(len(e.rec.Inline))
	if n == 0 {
		return
	}
	if a.warm+n > a.svc.cfg.InlineMemory {
		e.rec.Inline, e.cold = nil, true
		return
	}
	a.warm += n
}

// forget releases the memory accounting of an entry that left the queue.
func (a *queueActor) forget(e *entry) {
	if !e.cold {
		a.warm -= int64(len(e.rec.Inline))
	}
}

// thaw reads back the payloads of cold entries the batch rewrites.
func (a *queueActor) thaw(ctx context.Context, ws []*write) ([]*entry, error) {
	var thawed []*entry
	for _, w := range ws {
		e := w.e
		if w.skip || w.del || !e.cold || e.rec.Inline != nil || e.rec.Blob != "" || e.rec.Size == 0 {
			continue
		}
		inline, err := a.storedInline(ctx, e.rec.ID)
		if err != nil {
			return thawed, err
		}
		e.rec.Inline = inline
		thawed = append(thawed, e)
	}
	return thawed, nil
}

// storedInline reads a message's inline payload from whichever lane's
// record holds it before the batch.
func (a *queueActor) storedInline(ctx context.Context, id string) ([]byte, error) {
	for _, dead := range []bool{false, true} {
		rec, err := a.svc.st.Get(ctx, a.core.keys.record(dead, id))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: read payload of %s: %w", ErrUnavailable, id, err)
		}
		r, err := decodeRecord(rec.Value)
		if err != nil {
			return nil, fmt.Errorf("queues: record of %s: %w", id, err)
		}
		return r.Inline, nil
	}
	return nil, fmt.Errorf("%w: record of %s vanished", ErrConflict, id)
}

// refreeze drops payloads thawed for a batch once its replies are built.
func refreeze(es []*entry) {
	for _, e := range es {
		e.rec.Inline = nil
	}
}
