package edge

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// countingConn counts the Write calls that reach the connection.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// Frames sent by many goroutines at once arrive whole, each sender's in
// its order, however the writer batched them.
func TestMuxWriterKeepsFramesWholeAndOrdered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer dialed.Close()
	server := <-accepted
	defer server.Close()
	cc := &countingConn{Conn: dialed}
	w := &muxWriter{conn: cc}
	const senders, each = 16, 200
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				payload := []byte(fmt.Sprintf("sender %d frame %d %s", s, i, strings.Repeat("x", i%50)))
				frame := append(appendMuxHead(nil, muxRequest, uint32(s), len(payload)), payload...)
				if err := w.send(frame); err != nil {
					t.Error(err)
					return
				}
			}
		}(s)
	}
	br := bufio.NewReader(server)
	next := make([]int, senders)
	server.SetReadDeadline(time.Now().Add(30 * time.Second))
	for n := 0; n < senders*each; n++ {
		typ, id, payload, err := readMuxFrame(br)
		if err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		want := fmt.Sprintf("sender %d frame %d %s", id, next[id], strings.Repeat("x", next[id]%50))
		if typ != muxRequest || string(payload) != want {
			t.Fatalf("frame %d: type %d %q, want %q", n, typ, payload, want)
		}
		next[id]++
	}
	wg.Wait()
	t.Logf("%d frames in %d writes", senders*each, cc.writes.Load())
}

// A frame head announcing more than muxMaxFrame is refused before
// anything is allocated for it.
func TestReadMuxFrameRefusesHugeFrames(t *testing.T) {
	var h [muxHead]byte
	h[0] = muxResponse
	binary.BigEndian.PutUint32(h[5:], muxMaxFrame+1)
	if _, _, _, err := readMuxFrame(bufio.NewReader(strings.NewReader(string(h[:])))); err == nil {
		t.Fatal("a frame over the limit was accepted")
	}
}

// An owner that does not switch to muxProtocol (an older node) is asked once; its
// forwards go plain until muxRefusedFor has passed.
func TestMuxPeerFallsBackWhenTheOwnerRefuses(t *testing.T) {
	var asked atomic.Int64
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == muxPath {
			asked.Add(1)
		}
		http.NotFound(w, r)
	}))
	defer owner.Close()
	ps := newPeers(nil, "node-a")
	pool, err := ps.pool(owner.URL)
	if err != nil {
		t.Fatal(err)
	}
	mp := ps.mux(owner.URL, pool, zerolog.Nop())
	for i := 0; i < 3; i++ {
		mc, err := mp.conn()
		if err != nil || mc != nil {
			t.Fatalf("conn %d: %v %v, want none (plain forwards)", i, mc, err)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("the owner was asked %d times, want once", n)
	}
}

// An owner that cannot be reached fails forwards at once for a moment
// after a failed dial, instead of one dial per forward.
func TestMuxPeerFailsFastAfterAFailedDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ps := newPeers(nil, "node-a")
	pool, err := ps.pool("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	mp := ps.mux("http://"+addr, pool, zerolog.Nop())
	if _, err := mp.conn(); err == nil || err == errOwnerDown {
		t.Fatalf("first conn: %v, want the dial's error", err)
	}
	if _, err := mp.conn(); err != errOwnerDown {
		t.Fatalf("second conn: %v, want errOwnerDown", err)
	}
}
