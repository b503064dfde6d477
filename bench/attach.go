package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// runAttach measures attachment upload and download throughput on disk
// against a raw sequential write (with fsync) to the same file system. With
// -rounds N the raw write and the transfers alternate N times and each
// column shows its median ("of raw" is the median of the per-round ratios):
// the raw write's speed moves by 2x from minute to minute on this disk.
func runAttach(disk *target, dir string) {
	header("attachments on "+disk.name+" (one stream at a time)", "size", "raw write MB/s", "upload MB/s", "of raw", "download MB/s",
		"server CPU µs/MiB up", "server CPU µs/MiB down")
	for _, size := range []int64{1 << 20, 100 << 20} {
		var raws, ups, downs, ratios, cpuUp, cpuDown []float64
		for round := 0; round < max(*cmpRounds, 1); round++ {
			raw := rawWrite(dir, size)
			x := attachRoundTrip(disk, size)
			raws, ups, downs, ratios = append(raws, raw), append(ups, x.up), append(downs, x.down), append(ratios, x.up/raw)
			mib := float64(size) * float64(rounds(size)) / (1 << 20)
			cpuUp, cpuDown = append(cpuUp, float64(x.upCPU.Microseconds())/mib), append(cpuDown, float64(x.downCPU.Microseconds())/mib)
		}
		line := fmt.Sprintf("| %d MiB | %.0f | %.0f | %.0f%% | %.0f |", size>>20, mid(raws), mid(ups), 100*mid(ratios), mid(downs))
		if disk.cpu != nil {
			line += fmt.Sprintf(" %.0f | %.0f |", mid(cpuUp), mid(cpuDown))
		} else {
			line += " — | — |"
		}
		fmt.Println(line)
	}
	fmt.Println()
}

// rounds repeats small transfers so each figure covers at least ~200 MB.
func rounds(size int64) int { return int(max(1, (200<<20)/size)) }

func rawWrite(dir string, size int64) float64 {
	buf := bytes.Repeat([]byte{0xAB}, 1<<20)
	start := time.Now()
	n := rounds(size)
	for i := 0; i < n; i++ {
		f, err := os.Create(filepath.Join(dir, "raw-"+strconv.Itoa(i)))
		check(err)
		for w := int64(0); w < size; w += int64(len(buf)) {
			_, err = f.Write(buf[:min(int64(len(buf)), size-w)])
			check(err)
		}
		check(f.Sync())
		check(f.Close())
		os.Remove(f.Name())
	}
	return float64(size) * float64(n) / (1 << 20) / time.Since(start).Seconds()
}

// transfer is one round of uploads and downloads: MB/s and server CPU.
type transfer struct {
	up, down       float64
	upCPU, downCPU time.Duration
}

func attachRoundTrip(t *target, size int64) (x transfer) {
	c := newClient(t, 1)
	h, err := c.acquire("bench/attach", "bench", 0)
	check(err)
	n := rounds(size)
	chunk := bytes.Repeat([]byte{0xAB}, 1<<20)
	hdr := []string{"X-Lease-ID", h.LeaseID, "X-Txn-ID", h.TxnID, "X-Fencing-Token", strconv.FormatInt(h.FencingToken, 10)}
	m := startMeter(t)
	start := time.Now()
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("POST", fmt.Sprintf("http://%s/v1/attachments?key=bench/attach&name=f%d", t.addr, i), io.LimitReader(fill{}, size))
		req.Body = io.NopCloser(io.LimitReader(&repeat{b: chunk}, size)) // prefilled, like the raw write
		req.ContentLength = size
		for j := 0; j < len(hdr); j += 2 {
			req.Header.Set(hdr[j], hdr[j+1])
		}
		resp, err := http.DefaultClient.Do(req)
		check(err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			check(fmt.Errorf("upload: %d", resp.StatusCode))
		}
	}
	x.up = float64(size) * float64(n) / (1 << 20) / time.Since(start).Seconds()
	x.upCPU = m.done().cpu
	check(c.release(h, "bench/attach"))
	m = startMeter(t)
	start = time.Now()
	for i := 0; i < n; i++ {
		resp, err := http.Get(fmt.Sprintf("http://%s/v1/attachment?public=1&key=bench/attach&name=f%d", t.addr, i))
		check(err)
		got, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got != size {
			check(fmt.Errorf("download %d of %d bytes", got, size))
		}
	}
	x.down = float64(size) * float64(n) / (1 << 20) / time.Since(start).Seconds()
	x.downCPU = m.done().cpu
	return x
}

type fill struct{}

func (fill) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

// repeat reads b over and over (a prefilled source, as the raw write uses).
type repeat struct {
	b   []byte
	off int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}
