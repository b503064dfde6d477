package queues

import "github.com/lockdhq/lockd/store"

// write is one record write of the current batch. Several changes to the
// same record within a batch collapse into one write of the final state,
// conditional on what the store held before the batch.
type write struct {
	key     string
	e       *entry // the entry whose record is written (and gets the ETag)
	del     bool
	create  bool   // the record must not exist yet
	ifMatch string // else: the record's ETag before the batch
	skip    bool   // created and deleted within the batch
}

// batch collects the writes of one actor turn and the blobs that become
// garbage once they are durable.
type batch struct {
	writes  []*write
	byKey   map[string]*write
	garbage []string
}

// put records that e's record in lane l must be written.
func (b *batch) put(c *core, l *lane, e *entry) {
	key := c.keys.record(l.dead, e.rec.ID)
	if w := b.lookup(key); w != nil {
		w.e, w.del, w.skip = e, false, false
		return
	}
	b.add(&write{key: key, e: e, create: e.etag == "", ifMatch: e.etag})
}

// remove records that e's record in lane l must be deleted.
func (b *batch) remove(c *core, l *lane, e *entry) {
	key := c.keys.record(l.dead, e.rec.ID)
	if w := b.lookup(key); w != nil {
		if w.create {
			w.skip = true // never written: nothing to delete
		}
		w.del = true
		return
	}
	b.add(&write{key: key, del: true, ifMatch: e.etag})
}

func (b *batch) lookup(key string) *write {
	if b.byKey == nil {
		return nil
	}
	return b.byKey[key]
}

func (b *batch) add(w *write) {
	if b.byKey == nil {
		b.byKey = map[string]*write{}
	}
	b.byKey[w.key] = w
	b.writes = append(b.writes, w)
}

// take returns and clears the batch.
func (b *batch) take() ([]*write, []string) {
	ws, g := b.writes, b.garbage
	b.writes, b.byKey, b.garbage = nil, nil, nil
	return ws, g
}

// ops turns writes into store operations; live[i] is the write of ops[i].
func ops(ws []*write) (out []store.Op, live []*write, err error) {
	for _, w := range ws {
		if w.skip {
			continue
		}
		op := store.Op{Key: w.key, Delete: w.del}
		switch {
		case w.create && !w.del:
			op.Cond.IfNotExists = true
		default:
			op.Cond.IfMatch = w.ifMatch
		}
		if !w.del {
			if op.Value, err = w.e.rec.encode(); err != nil {
				return nil, nil, err
			}
		}
		out = append(out, op)
		live = append(live, w)
	}
	return out, live, nil
}
