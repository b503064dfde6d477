package sdk

import (
	"bytes"
	"errors"
	"fmt"
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
		return nil, fmt.Errorf("spool payload: %w", err)
	}
	if n <= spoolMem {
		return io.NopCloser(&buf), nil
	}
	f, err := os.CreateTemp("", "lockd-payload-*")
	if err != nil {
		return nil, err
	}
	if err = fill(f, &buf, r); err != nil {
		return nil, errors.Join(err, f.Close(), os.Remove(f.Name()))
	}
	return &tempFile{f}, nil
}

// fill writes head and then the rest of r to f and rewinds f. Any error,
// in particular one of r in the middle of the payload, is returned: a
// short copy must never pass for the whole payload.
func fill(f *os.File, head *bytes.Buffer, r io.Reader) error {
	if _, err := head.WriteTo(f); err != nil {
		return fmt.Errorf("spool payload: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("spool payload: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool payload: %w", err)
	}
	return nil
}

type tempFile struct{ *os.File }

func (t *tempFile) Close() error {
	return errors.Join(t.File.Close(), os.Remove(t.Name()))
}
