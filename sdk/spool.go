package sdk

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// spoolMem is how much of a buffered payload stays in memory before the
// rest goes to a temporary file.
const spoolMem = 4 << 20

// spool copies r into memory, spilling to a temporary file past spoolMem,
// and returns a reader over the copy that removes the file on Close.
func spool(r io.Reader) (io.ReadCloser, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, spoolMem+1))
	if err != nil {
		return nil, err
	}
	if n <= spoolMem {
		return io.NopCloser(&buf), nil
	}
	f, err := os.CreateTemp("", "lockd-payload-*")
	if err != nil {
		return nil, err
	}
	if _, err = buf.WriteTo(f); err == nil {
		_, err = io.Copy(f, r)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &tempFile{f}, nil
}

type tempFile struct{ *os.File }

func (t *tempFile) Close() error {
	return errors.Join(t.File.Close(), os.Remove(t.Name()))
}
