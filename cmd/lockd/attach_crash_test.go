package main_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

func (h held) attach(t *testing.T, base, name string, data []byte) {
	t.Helper()
	st, body, err := post(base, "/v1/attachments?key="+h.Key+"&name="+name, string(data), h.headers()...)
	if err != nil || st != 200 {
		t.Fatalf("attach %s: %d %s %v", name, st, body, err)
	}
}

// blobFiles counts the blob files holding data; the store also keeps a few
// empty files ready for the next writes, which do not count.
func blobFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Size() > 0 {
			n++
		}
		return nil
	})
	return n
}

func TestAttachmentsSurviveKill9AndStagedUploadsAreSwept(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--store", "disk://" + dir, "--sweeper-interval", "100ms", "--sweeper-grace", "1ms"}
	p := startLockd(t, args...)
	data := bytes.Repeat([]byte("attachment-bytes-"), 120000) // ~2 MB
	h, err := acquireKey(p.URL, "doc")
	if err != nil {
		t.Fatal(err)
	}
	h.attach(t, p.URL, "report.bin", data)
	if err := h.release(p.URL); err != nil {
		t.Fatal(err)
	}
	// A second holder stages an upload and dies with the server.
	st, body, _ := post(p.URL, "/v1/acquire", api.AcquireRequest{Key: "doc", Owner: "doomed", TTLSeconds: 1})
	if st != 200 {
		t.Fatalf("acquire: %d %s", st, body)
	}
	var doomed held
	mustJSON(t, body, &doomed.AcquireResponse)
	doomed.attach(t, p.URL, "partial.bin", []byte("never committed"))
	p.kill()
	if n := blobFiles(t, dir); n != 2 {
		t.Fatalf("blob files before restart: %d", n)
	}
	p = startLockd(t, args...)
	resp, err := http.Get(p.URL + "/v1/attachment?public=1&key=doc&name=report.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("committed attachment after kill -9: %d, %d bytes", resp.StatusCode, len(got))
	}
	deadline := time.Now().Add(15 * time.Second)
	for blobFiles(t, dir) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("staged upload of the dead lease was not swept: %d blob files", blobFiles(t, dir))
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, body, _ = post(p.URL, "/v1/get?key=doc&public=1", nil)
	if st != 204 {
		t.Fatalf("state: %d %s", st, body)
	}
	next, err := acquireKey(p.URL, "doc")
	if err != nil || next.FencingToken != doomed.FencingToken+1 {
		t.Fatalf("fencing %d after %d: %v", next.FencingToken, doomed.FencingToken, err)
	}
}
