package azure_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/store"
)

// pattern is the repeating content of patternReader.
var pattern = func() []byte {
	b := make([]byte, 64<<10+7) // odd length: part boundaries fall mid-pattern
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}()

// patternReader yields n bytes of pattern and fails with err after fail
// bytes (if fail > 0). It samples the live heap every 4 MiB.
type patternReader struct {
	n, off, fail int64
	heap         *heapPeak
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.fail > 0 && r.off >= r.fail {
		return 0, errors.New("client went away")
	}
	if r.off >= r.n {
		return 0, io.EOF
	}
	if r.heap != nil && r.off%(4<<20) < int64(len(p)) {
		r.heap.sample()
	}
	k := int(min(int64(len(p)), r.n-r.off))
	for done := 0; done < k; {
		done += copy(p[done:k], pattern[(r.off+int64(done))%int64(len(pattern)):])
	}
	r.off += int64(k)
	return k, nil
}

// heapPeak tracks the largest live heap seen, after a GC, and the largest
// resident set (which also counts memory outside the Go heap).
type heapPeak struct{ base, peak, rssBase, rssPeak uint64 }

func newHeapPeak() *heapPeak {
	h := &heapPeak{}
	h.base, h.rssBase = liveHeap(), rss()
	return h
}

// rss returns the resident set size in bytes (0 where /proc is missing).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func (h *heapPeak) sample() {
	h.peak, h.rssPeak = max(h.peak, liveHeap()), max(h.rssPeak, rss())
}

func (h *heapPeak) growth() uint64 { return h.peak - min(h.base, h.peak) }

func (h *heapPeak) rssGrowth() uint64 { return h.rssPeak - min(h.rssBase, h.rssPeak) }

// checkPattern compares r with n bytes of pattern, sampling the heap.
func checkPattern(t *testing.T, r io.Reader, n int64, h *heapPeak) {
	buf := make([]byte, 256<<10)
	want := &patternReader{n: n}
	wbuf := make([]byte, len(buf))
	var off int64
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			want.Read(wbuf[:k])
			if !bytes.Equal(buf[:k], wbuf[:k]) {
				t.Fatalf("content differs in [%d, %d)", off, off+int64(k))
			}
			if off%(4<<20) < int64(k) {
				h.sample()
			}
			off += int64(k)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if off != n {
		t.Fatalf("read %d bytes, want %d", off, n)
	}
}

// TestLargeBlobBoundedMemory streams a 64 MiB blob in and out and checks
// that the live heap never grows by more than half the blob. (UploadStream
// keeps its Concurrency blocks in mmap'd buffers outside the Go heap.) Not
// parallel: it measures the process heap.
func TestLargeBlobBoundedMemory(t *testing.T) {
	const size, block = 64 << 20, 4 << 20
	ctx, cfg := testCtx(t), testservers.AzureConfig(t)
	cfg.BlockSize, cfg.Concurrency = block, 2
	s := testservers.OpenAzure(t, cfg)
	h := newHeapPeak()
	n, err := s.WriteBlob(ctx, "big", &patternReader{n: size, heap: h})
	if err != nil || n != size {
		t.Fatalf("WriteBlob: %d %v", n, err)
	}
	up, upRSS := h.growth(), h.rssGrowth()
	st := s.Stats().WriteBlob
	t.Logf("upload: heap grew %.1f MiB, RSS %.1f MiB, %d round trips (%d blocks)", float64(up)/(1<<20), float64(upRSS)/(1<<20), st.RoundTrips, size/block)
	h = newHeapPeak()
	r, got, err := s.OpenBlob(ctx, "big")
	if err != nil || got != size {
		t.Fatalf("OpenBlob: %d %v", got, err)
	}
	checkPattern(t, r, size, h)
	r.Close()
	t.Logf("download: heap grew %.1f MiB, RSS %.1f MiB", float64(h.growth())/(1<<20), float64(h.rssGrowth())/(1<<20))
	if raceEnabled {
		upRSS = 0 // the race detector's shadow memory grows with every allocation
	}
	if limit := uint64(size / 2); up > limit || h.growth() > limit || upRSS > limit {
		t.Fatalf("upload grew heap %d, RSS %d bytes; download heap %d; want each < %d", up, upRSS, h.growth(), limit)
	}
}

// TestFailedBlockWrite checks that a blob write failing after several
// staged blocks leaves the previous blob in place and no new blob.
func TestFailedBlockWrite(t *testing.T) {
	t.Parallel()
	ctx, cfg := testCtx(t), testservers.AzureConfig(t)
	cfg.BlockSize = 1 << 20
	s := testservers.OpenAzure(t, cfg)
	if _, err := s.WriteBlob(ctx, "b", strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "fresh"} {
		_, err := s.WriteBlob(ctx, name, &patternReader{n: 8 << 20, fail: 5 << 20})
		if err == nil {
			t.Fatalf("%s: WriteBlob with failing reader succeeded", name)
		}
	}
	r, _, err := s.OpenBlob(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "old" {
		t.Fatalf("failed replace changed the blob to %d bytes", len(got))
	}
	if _, _, err := s.OpenBlob(ctx, "fresh"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed write left a blob: %v", err)
	}
	if names, _ := s.ListBlobs(ctx, "", "", 0); fmt.Sprint(names) != "[b]" {
		t.Fatalf("ListBlobs: %v", names)
	}
}

// TestBlobCancelled checks that cancelling the context stops a write and
// leaves no blob.
func TestBlobCancelled(t *testing.T) {
	t.Parallel()
	cfg := testservers.AzureConfig(t)
	cfg.BlockSize = 1 << 20
	s := testservers.OpenAzure(t, cfg)
	ctx, cancel := context.WithCancel(testCtx(t))
	r := &cancelAfter{r: &patternReader{n: 12 << 20}, n: 5 << 20, cancel: cancel}
	if _, err := s.WriteBlob(ctx, "c", r); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteBlob: %v, want context.Canceled", err)
	}
	if _, _, err := s.OpenBlob(testCtx(t), "c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancelled write left a blob: %v", err)
	}
}

// cancelAfter calls cancel once n bytes were read.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	if c.n -= int64(k); c.n <= 0 {
		c.cancel()
	}
	return k, err
}
