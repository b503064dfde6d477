// Package spool buffers a stream in memory up to a threshold and spills the
// rest to a temporary file, so large request bodies never sit in RAM whole.
package spool

import (
	"bytes"
	"io"
	"os"
)

// Spool is an io.Writer followed by one reader. Close removes any file.
type Spool struct {
	mem       bytes.Buffer
	threshold int
	file      *os.File
	dir       string
	size      int64
}

// New returns a spool that keeps up to threshold bytes in memory and spills
// to a file in dir ("" = os.TempDir()).
func New(threshold int, dir string) *Spool {
	return &Spool{threshold: threshold, dir: dir}
}

// Write appends p.
func (s *Spool) Write(p []byte) (int, error) {
	s.size += int64(len(p))
	if s.file == nil && s.mem.Len()+len(p) <= s.threshold {
		return s.mem.Write(p)
	}
	if s.file == nil {
		f, err := os.CreateTemp(s.dir, "lockd-spool-*")
		if err != nil {
			return 0, err
		}
		os.Remove(f.Name()) // unlinked: the kernel frees it on Close or crash
		s.file = f
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			return 0, err
		}
		s.mem = bytes.Buffer{}
	}
	return s.file.Write(p)
}

// Size is the number of bytes written.
func (s *Spool) Size() int64 { return s.size }

// InMemory reports whether everything written is still in memory, and then
// Bytes returns it.
func (s *Spool) InMemory() bool { return s.file == nil }

// Bytes returns the buffered bytes when InMemory.
func (s *Spool) Bytes() []byte { return s.mem.Bytes() }

// Reader returns a reader over everything written, from the start.
func (s *Spool) Reader() (io.Reader, error) {
	if s.file == nil {
		return bytes.NewReader(s.mem.Bytes()), nil
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return s.file, nil
}

// Close releases the spool's file.
func (s *Spool) Close() error {
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}
