package disk

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lockdhq/lockd/store"
)

// committer is the store's group committer. Callers of Apply (key and
// queue actors, many at once) append their ops to the open round, one
// shared pebble batch, and return at once; one goroutine commits the
// rounds in order, each as one pebble commit and one WAL sync, and then
// marks the round durable. While a round syncs, the next one fills, so a
// round holds the writes of everyone who arrived during the previous
// fsync.
//
// One pebble commit per round instead of one per write saves pebble's
// per-commit work (the commit pipeline, a WAL record, a sync waiter) and
// the waits: a caller whose reply is a round waits for it once (see
// OnDurable), with no extra wake-up for the sync.
//
// Until its round is applied, a write is not in pebble: pending holds its
// ETag for conditional writes, Get of a pending key waits for the round to
// be applied, and List and Scan wait for every round opened before they
// were called, so everything Apply returned is visible, as the Batcher
// contract says.
type committer struct {
	s     *Store
	wopts *pebble.WriteOptions

	mu sync.Mutex
	// open accepts writes; the committer takes it once it has any.
	open *round
	// inflight is the round being committed, until it is applied.
	inflight *round
	// pending maps each key written by an unapplied round to that round
	// and the write's ETag ("" for a delete).
	pending map[string]pendingWrite
	spare   *pebble.Batch // a reset batch for the next round

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	// testHold, when set (tests only), runs before each round is applied.
	testHold func()
}

type pendingWrite struct {
	r   *round
	tag string
}

// round is one group commit. It is the store.Durable of every Apply that
// wrote into it.
type round struct {
	c       *committer
	b       *pebble.Batch
	keys    []string
	applied chan struct{} // closed once the batch is in pebble (visible)
	durable chan struct{} // closed once synced, or failed (err)
	err     error
	// synced and notify are guarded by c.mu.
	synced bool
	notify []func(error)
}

func newCommitter(s *Store, wopts *pebble.WriteOptions) *committer {
	c := &committer{s: s, wopts: wopts, pending: map[string]pendingWrite{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	c.open = c.newRound()
	go c.run()
	return c
}

// newRound returns an empty round; the caller holds c.mu or owns c.
func (c *committer) newRound() *round {
	b := c.spare
	c.spare = nil
	if b == nil {
		b = c.s.db.NewBatch()
	}
	return &round{c: c, b: b, applied: make(chan struct{}), durable: make(chan struct{})}
}

// add appends ops to the open round and returns it, setting tags[i] to
// op i's new ETag ("" for a delete). The caller holds the stripe locks of
// the ops' keys, so rounds see each key's writes in the order their
// conditions were checked.
func (c *committer) add(ops []store.Op, tags []string) (*round, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.open
	mark, count := r.b.Len(), r.b.Count()
	for i, op := range ops {
		var tag uint64
		if !op.Delete {
			tag = newETag()
			tags[i] = formatETag(tag)
		}
		if err := appendOp(r.b, op, tag); err != nil {
			// Drop this call's partial ops: a batch is all or nothing.
			if terr := truncate(r, mark, count); terr != nil {
				return nil, fmt.Errorf("disk: batch: %w (and %v)", err, terr)
			}
			return nil, fmt.Errorf("disk: batch: %w", err)
		}
	}
	first := len(r.keys) == 0
	for i, op := range ops {
		r.keys = append(r.keys, op.Key)
		c.pending[op.Key] = pendingWrite{r: r, tag: tags[i]}
	}
	if first {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return r, nil
}

// appendOp writes op into b, the value prefixed with its ETag.
func appendOp(b *pebble.Batch, op store.Op, tag uint64) error {
	if op.Delete {
		d := b.DeleteDeferred(1 + len(op.Key))
		d.Key[0] = recPrefix
		copy(d.Key[1:], op.Key)
		return d.Finish()
	}
	d := b.SetDeferred(1+len(op.Key), 8+len(op.Value))
	d.Key[0] = recPrefix
	copy(d.Key[1:], op.Key)
	binary.BigEndian.PutUint64(d.Value, tag)
	copy(d.Value[8:], op.Value)
	return d.Finish()
}

// truncate drops what was appended to r's batch past mark bytes and count
// ops, by rebuilding the batch from its first ops (an append fails only
// past pebble's batch size limit).
func truncate(r *round, mark int, count uint32) error {
	if mark == r.b.Len() {
		return nil
	}
	nb := r.c.s.db.NewBatch()
	if count > 0 {
		repr := append([]byte(nil), r.b.Repr()[:mark]...)
		binary.LittleEndian.PutUint32(repr[8:12], count) // the header's op count
		if err := nb.SetRepr(repr); err != nil {
			return err
		}
	}
	r.b.Close()
	r.b = nb
	return nil
}

// tag returns the ETag of key's unapplied write, if there is one.
func (c *committer) tag(key string) (string, bool) {
	c.mu.Lock()
	p, ok := c.pending[key]
	c.mu.Unlock()
	return p.tag, ok
}

// awaitKey returns once key has no unapplied write.
func (c *committer) awaitKey(key string) {
	c.mu.Lock()
	p, ok := c.pending[key]
	c.mu.Unlock()
	if ok {
		<-p.r.applied
	}
}

// barrier returns once every write added before it was called is applied.
func (c *committer) barrier() {
	c.mu.Lock()
	r := c.inflight
	if len(c.open.keys) > 0 {
		r = c.open // applied after the inflight round
	}
	c.mu.Unlock()
	if r != nil {
		<-r.applied
	}
}

func (c *committer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			c.commitOpen() // everything added before Close
			return
		}
		// The first write of a round kicks the committer at once; one
		// yield first lets the handlers that are ready to run add their
		// writes to the same round (64 workers: fsyncs per request 0.07 ->
		// 0.05 on lock cycles, 0.21 -> 0.14 on queue messages;
		// docs/BENCHMARKS.md).
		runtime.Gosched()
		c.commitOpen()
	}
}

// commitOpen takes the open round, if it has writes, and commits it.
func (c *committer) commitOpen() {
	c.mu.Lock()
	r := c.open
	if len(r.keys) == 0 {
		c.mu.Unlock()
		return
	}
	c.open, c.inflight = c.newRound(), r
	c.mu.Unlock()
	c.commit(r)
}

// commit applies r as one pebble commit, waits for its WAL sync, and
// tells its writers.
func (c *committer) commit(r *round) {
	if c.testHold != nil {
		c.testHold()
	}
	c.s.countCommit()
	var err error
	if c.wopts.Sync {
		err = c.s.db.ApplyNoSyncWait(r.b, c.wopts)
	} else {
		err = c.s.db.Apply(r.b, c.wopts)
	}
	c.mu.Lock()
	c.inflight = nil
	for _, k := range r.keys {
		if c.pending[k].r == r {
			delete(c.pending, k)
		}
	}
	c.mu.Unlock()
	close(r.applied)
	if err == nil && c.wopts.Sync {
		err = r.b.SyncWait()
	}
	if err != nil {
		err = fmt.Errorf("disk: commit: %w", err)
		c.s.forgetETagsOf(r.keys)
		c.s.failed(err)
	}
	r.err = err
	c.mu.Lock()
	r.synced = true
	fns := r.notify
	r.notify = nil
	c.mu.Unlock()
	close(r.durable)
	for _, fn := range fns {
		fn(err)
	}
	b := r.b
	r.b, r.keys = nil, nil
	if b.Len() > 1<<20 {
		b.Close() // do not keep a large buffer
		return
	}
	b.Reset()
	c.mu.Lock()
	if c.spare == nil {
		c.spare = b
		b = nil
	}
	c.mu.Unlock()
	if b != nil {
		b.Close()
	}
}

// close commits what was added and stops the committer.
func (c *committer) close() {
	close(c.stop)
	<-c.done
}

// Wait blocks until the round is durable.
func (r *round) Wait() error {
	<-r.durable
	return r.err
}

// OnDurable arranges for fn to run, on the committer's goroutine, once
// the round is durable (with the sync error, if any), and reports true;
// it reports false, and does not call fn, when the round already is. fn
// must not block.
func (r *round) OnDurable(fn func(error)) bool {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if r.synced {
		return false
	}
	r.notify = append(r.notify, fn)
	return true
}
