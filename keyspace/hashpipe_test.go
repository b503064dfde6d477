package keyspace

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// The piped hash equals SHA-256 of the stream for every size and write
// pattern, including empty streams and chunk boundaries.
func TestHashPipeMatchesSHA256(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, hashChunk - 1, hashChunk, hashChunk + 1, 3 * hashChunk, hashChunks*hashChunk + 17, 10<<20 + 3}
	for _, size := range sizes {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		p := newHashPipe()
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(hashChunk*2))
			buf := append([]byte(nil), rest[:n]...)
			p.Write(buf)
			for i := range buf { // the caller may reuse its buffer at once
				buf[i] = 0
			}
			rest = rest[n:]
		}
		want := sha256.Sum256(data)
		if got := p.Sum(); !bytes.Equal(got, want[:]) {
			t.Fatalf("size %d: sum %x, want %x", size, got, want)
		}
	}
}

// An abandoned upload (Close without Sum) stops the hashing goroutine.
func TestHashPipeCloseStopsHasher(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		p := newHashPipe()
		p.Write(make([]byte, 3*hashChunk+5))
		p.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
