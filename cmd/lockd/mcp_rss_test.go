package main_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"testing"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/bigbody"
)

// RSS above this in the facade while a 1 GiB attachment passes through it
// means it buffered the payload.
const mcpRSSBudgetMiB = 200

// A 1 GiB attachment goes up and comes back through "lockd mcp" in 4 MiB
// chunks, byte for byte, with the facade's RSS far below its size.
//
// Under -race the test's own base64 and JSON work on 1 GiB takes longer
// than CI allows, so the race build sends 128 MiB (the facade binary is
// never a race build, so its RSS is measured the same way); scripts/test.sh
// runs the full 1 GiB without -race.
func TestMCPOneGiBAttachmentKeepsFacadeRSSLow(t *testing.T) {
	const chunk = 4 << 20
	size := int64(1 << 30)
	if raceEnabled {
		size = 128 << 20
	}
	p := startLockd(t, "--store", "disk://"+t.TempDir())
	m := startMCP(t, "--server", p.URL, "--disable-mtls", "--disable-oauth", "--max-chunk-bytes", "4194304")
	cs := mcpConnect(t, &sdkmcp.StreamableClientTransport{Endpoint: m.endpoint, MaxRetries: -1})
	base, err := rssMiB(m.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		LeaseID string `json:"lease_id"`
	}
	mcpCall(t, cs, "lock_acquire", map[string]any{"key": "big", "ttl_seconds": 3600}, &l)
	var up struct {
		UploadID string `json:"upload_id"`
	}
	mcpCall(t, cs, "upload_begin", map[string]any{"target": "attachment", "lease_id": l.LeaseID, "name": "blob.bin",
		"expected_bytes": size}, &up)
	src := bigbody.NewPattern(size)
	buf := make([]byte, chunk)
	stop := rssPeak(&m.proc)
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			mcpCall(t, cs, "upload_write", map[string]any{"upload_id": up.UploadID, "base64": base64.StdEncoding.EncodeToString(buf[:n])}, nil)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var fin struct {
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	mcpCall(t, cs, "upload_finish", map[string]any{"upload_id": up.UploadID}, &fin)
	upPeak := stop()
	if fin.Bytes != size || fin.SHA256 != hex.EncodeToString(src.Sum()) {
		t.Fatalf("upload: %d bytes, sha %s", fin.Bytes, fin.SHA256)
	}
	mcpCall(t, cs, "lock_release", map[string]any{"lease_id": l.LeaseID}, nil)

	var got struct {
		StreamID string `json:"stream_id"`
		Bytes    int64  `json:"bytes"`
	}
	mcpCall(t, cs, "attachment_get", map[string]any{"key": "big", "name": "blob.bin"}, &got)
	if got.StreamID == "" || got.Bytes != size {
		t.Fatalf("attachment_get %+v", got)
	}
	stop = rssPeak(&m.proc)
	sum := sha256.New()
	var total int64
	var last string
	for i := 0; ; i++ {
		if int64(i) > size/chunk+2 {
			t.Fatal("download did not end")
		}
		var ch struct {
			Base64 string `json:"base64"`
			EOF    bool   `json:"eof"`
			SHA256 string `json:"sha256"`
		}
		mcpCall(t, cs, "download_read", map[string]any{"stream_id": got.StreamID, "max_bytes": chunk}, &ch)
		b, err := base64.StdEncoding.DecodeString(ch.Base64)
		if err != nil {
			t.Fatal(err)
		}
		sum.Write(b)
		total += int64(len(b))
		if ch.EOF {
			last = ch.SHA256
			break
		}
	}
	downPeak := stop()
	if total != size || !bytes.Equal(sum.Sum(nil), src.Sum()) || last != hex.EncodeToString(src.Sum()) {
		t.Fatalf("download: %d bytes, same bytes %v, reported sha %s", total, bytes.Equal(sum.Sum(nil), src.Sum()), last)
	}
	t.Logf("lockd mcp RSS: %.0f MiB at start, peak %.0f MiB uploading and %.0f MiB downloading %d MiB in %d KiB chunks",
		base, upPeak, downPeak, size>>20, chunk>>10)
	if upPeak > mcpRSSBudgetMiB || downPeak > mcpRSSBudgetMiB {
		t.Fatalf("lockd mcp RSS peaked at %.0f MiB (upload) / %.0f MiB (download) for a %d MiB attachment; budget %d MiB",
			upPeak, downPeak, size>>20, mcpRSSBudgetMiB)
	}
}
