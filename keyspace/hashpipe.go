package keyspace

import (
	"crypto/sha256"
	"hash"
	"sync"
)

// hashChunk is the unit a hashPipe hands to its hashing goroutine. Bodies
// smaller than one chunk are hashed on the caller's goroutine.
const hashChunk = 256 << 10

// hashChunks bounds the chunks of one upload in flight (copied, not yet
// hashed): the pipe holds at most hashChunks*hashChunk bytes.
const hashChunks = 4

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, hashChunk); return &b }}

// hashPipe computes the SHA-256 of a stream on a second goroutine, so that
// hashing an upload overlaps reading it from the network, writing it and
// syncing it instead of adding to them. Write copies the bytes (the caller
// may reuse or encrypt its buffer in place); Sum waits for the hasher.
// Close must be called on every path (Sum does it).
//
// A pipe takes at most hashChunks buffers from chunkPool and cycles them
// between the writer and the hasher, so a long upload allocates nothing.
type hashPipe struct {
	h     hash.Hash
	cur   *[]byte
	taken int
	work  chan *[]byte
	free  chan *[]byte
	done  chan struct{}
}

func newHashPipe() *hashPipe {
	return &hashPipe{h: sha256.New()}
}

func (p *hashPipe) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if p.cur == nil {
			p.cur = p.takeChunk()
		}
		c := *p.cur
		k := copy(c[len(c):cap(c)], b)
		*p.cur = c[:len(c)+k]
		b = b[k:]
		if len(*p.cur) == cap(*p.cur) {
			p.send()
		}
	}
	return n, nil
}

// takeChunk returns an empty buffer: a new one while the pipe holds fewer
// than hashChunks, else the next one the hasher is done with.
func (p *hashPipe) takeChunk() *[]byte {
	var c *[]byte
	if p.taken < hashChunks {
		p.taken++
		c = chunkPool.Get().(*[]byte)
	} else {
		c = <-p.free
	}
	*c = (*c)[:0]
	return c
}

// send hands the current chunk to the hasher, starting it on first use.
func (p *hashPipe) send() {
	if p.work == nil {
		p.work = make(chan *[]byte, hashChunks)
		p.free = make(chan *[]byte, hashChunks)
		p.done = make(chan struct{})
		go p.run()
	}
	p.work <- p.cur
	p.cur = nil
}

func (p *hashPipe) run() {
	defer close(p.done)
	for c := range p.work {
		p.h.Write(*c)
		p.free <- c
	}
}

// Close stops the hasher and returns the buffers to the pool; the hash
// then covers everything written.
func (p *hashPipe) Close() {
	if p.work != nil {
		close(p.work)
		<-p.done
		for len(p.free) > 0 {
			chunkPool.Put(<-p.free)
		}
		p.work = nil
	}
	if p.cur != nil {
		p.h.Write(*p.cur)
		chunkPool.Put(p.cur)
		p.cur = nil
	}
	p.taken = 0
}

// Sum closes the pipe and returns the SHA-256 of everything written.
func (p *hashPipe) Sum() []byte {
	p.Close()
	return p.h.Sum(nil)
}
