package sdk

import (
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// brokenReader yields n zero bytes and then fails with errBroken.
type brokenReader struct{ n int }

var errBroken = errors.New("test: broken")

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, errBroken
	}
	n := min(len(p), b.n)
	clear(p[:n])
	b.n -= n
	return n, nil
}

func spoolFiles(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(os.TempDir(), "lockd-payload-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSpoolFailsWhenTheSourceFails(t *testing.T) {
	for _, n := range []int{100, spoolMem, spoolMem + 1, spoolMem + 100, 2 * spoolMem} {
		before := len(spoolFiles(t))
		rc, err := spool(&brokenReader{n: n})
		if !errors.Is(err, errBroken) {
			got := -1
			if rc != nil {
				b, _ := io.ReadAll(rc)
				got = len(b)
				rc.Close()
			}
			t.Fatalf("source failing after %d bytes: err %v, spooled %d bytes", n, err, got)
		}
		if rc != nil {
			t.Fatalf("failed spool returned a reader")
		}
		if after := len(spoolFiles(t)); after > before {
			t.Fatalf("failed spool of %d bytes left a temporary file", n)
		}
	}
}

func TestSpoolKeepsEveryByte(t *testing.T) {
	for _, n := range []int{0, 1, spoolMem, spoolMem + 1, 2*spoolMem + 3} {
		src := bytes.Repeat([]byte("ab"), n/2+1)[:n]
		rc, err := spool(bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("%d bytes: read %d, %v", n, len(got), err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPayloadReaderRejectsAShortPart(t *testing.T) {
	h := textproto.MIMEHeader{}
	h.Set("Content-Length", "10")
	got, err := io.ReadAll(payloadReader(strings.NewReader("12345"), h, -1))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short part: %q, %v", got, err)
	}
	// payload_bytes applies when the part has no Content-Length.
	got, err = io.ReadAll(payloadReader(strings.NewReader("1234567890tail"), textproto.MIMEHeader{}, 10))
	if err != nil || string(got) != "1234567890" {
		t.Fatalf("exact part: %q, %v", got, err)
	}
	if _, err = io.ReadAll(payloadReader(strings.NewReader("123"), textproto.MIMEHeader{}, 10)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short part by payload_bytes: %v", err)
	}
}
