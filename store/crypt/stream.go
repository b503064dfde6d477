package crypt

import (
	"bufio"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// SegmentSize is the plaintext size of every blob frame but the last.
const SegmentSize = 64 << 10

const (
	frameOverhead = 4 + tagSize
	finalBit      = 1 << 31
)

func frameNonce(counter uint32, final bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint32(n[7:11], counter)
	if final {
		n[11] = 1
	}
	return n
}

// sealer is an io.Reader that encrypts src as a blob stream. It holds two
// plaintext segments (the current one and a look-ahead that tells whether
// the current one is final) and one frame.
type sealer struct {
	src     io.Reader
	aead    cipher.AEAD
	ad      []byte
	cur     []byte
	next    []byte
	curN    int
	curEOF  bool
	started bool
	done    bool
	counter uint32
	out     []byte // bytes not yet returned by Read
	frame   []byte
	n       int64 // plaintext bytes consumed
}

func (k *Key) newSealer(name string, src io.Reader) (*sealer, error) {
	hdr, aead, err := k.newHeader(streamMagic, 0)
	if err != nil {
		return nil, err
	}
	return &sealer{src: src, aead: aead, ad: additional(hdr, name), out: hdr,
		cur: make([]byte, SegmentSize), next: make([]byte, SegmentSize),
		frame: make([]byte, 0, 4+SegmentSize+tagSize)}, nil
}

// fill reads a whole segment unless src ends first.
func (s *sealer) fill(buf []byte) (int, bool, error) {
	n, err := io.ReadFull(s.src, buf)
	s.n += int64(n)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return n, true, nil
	case err != nil:
		return n, false, err
	}
	return n, false, nil
}

func (s *sealer) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.done {
			return 0, io.EOF
		}
		if err := s.produce(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// produce seals the current segment into the next frame.
func (s *sealer) produce() error {
	if !s.started {
		s.started = true
		var err error
		if s.curN, s.curEOF, err = s.fill(s.cur); err != nil {
			return err
		}
	}
	final := s.curEOF
	var nextN int
	var nextEOF bool
	if !final {
		var err error
		if nextN, nextEOF, err = s.fill(s.next); err != nil {
			return err
		}
		final = nextN == 0 && nextEOF
	}
	if s.counter == math.MaxUint32 {
		return errors.New("crypt: blob too large")
	}
	length := uint32(s.curN + tagSize)
	if final {
		length |= finalBit
	}
	s.frame = binary.BigEndian.AppendUint32(s.frame[:0], length)
	s.frame = s.aead.Seal(s.frame, frameNonce(s.counter, final), s.cur[:s.curN], s.ad)
	s.out = s.frame
	s.counter++
	if final {
		s.done = true
		return nil
	}
	s.cur, s.next = s.next, s.cur
	s.curN, s.curEOF = nextN, nextEOF
	return nil
}

// opener is an io.ReadCloser over the plaintext of a blob stream.
type opener struct {
	src     *bufio.Reader
	closer  io.Closer
	aead    cipher.AEAD
	ad      []byte
	counter uint32
	buf     []byte
	plain   []byte
	done    bool
	err     error
}

func (o *opener) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		o.err = o.frame()
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

func (o *opener) Close() error { return o.closer.Close() }

// frame reads, authenticates and decrypts the next frame.
func (o *opener) frame() error {
	var lenb [4]byte
	if _, err := io.ReadFull(o.src, lenb[:]); err != nil {
		return o.readErr(err)
	}
	length := binary.BigEndian.Uint32(lenb[:])
	final := length&finalBit != 0
	length &^= finalBit
	if length < tagSize || length > SegmentSize+tagSize || (!final && length != SegmentSize+tagSize) {
		return fmt.Errorf("%w: bad frame length %d", ErrCorrupt, length)
	}
	ct := o.buf[:length]
	if _, err := io.ReadFull(o.src, ct); err != nil {
		return o.readErr(err)
	}
	plain, err := o.aead.Open(ct[:0], frameNonce(o.counter, final), ct, o.ad)
	if err != nil {
		return fmt.Errorf("%w: frame %d does not authenticate", ErrCorrupt, o.counter)
	}
	o.counter++
	o.plain = plain
	if final {
		o.done = true
		if _, err := o.src.ReadByte(); !errors.Is(err, io.EOF) {
			if err == nil {
				return fmt.Errorf("%w: data after the final frame", ErrCorrupt)
			}
			return err
		}
	}
	return nil
}

// readErr classifies a read failure: a stream that ends early is corrupt
// (truncated); other errors (I/O, cancellation) pass through.
func (o *opener) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: blob truncated", ErrCorrupt)
	}
	return err
}

// plainSize computes a blob's plaintext size from its stored size.
func plainSize(stored int64) (int64, error) {
	body := stored - headerSize
	if body < frameOverhead {
		return 0, fmt.Errorf("%w: blob of %d bytes is too short", ErrCorrupt, stored)
	}
	frames := (body-frameOverhead)/(SegmentSize+frameOverhead) + 1
	plain := body - frames*frameOverhead
	if last := plain - (frames-1)*SegmentSize; last > SegmentSize {
		return 0, fmt.Errorf("%w: blob of %d bytes has no valid frame layout", ErrCorrupt, stored)
	}
	return plain, nil
}

// openStream parses the header read from r and returns the plaintext
// reader.
func (k *Key) openStream(name string, rc io.ReadCloser) (*opener, error) {
	br := bufio.NewReaderSize(rc, 4+SegmentSize+tagSize)
	hdr := make([]byte, headerSize)
	n, err := io.ReadFull(br, hdr)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if !isMagic(hdr[:n]) {
		return nil, ErrNotEncrypted
	}
	if n < headerSize {
		return nil, fmt.Errorf("%w: short header", ErrCorrupt)
	}
	h, aead, err := k.parseHeader(hdr, streamMagic)
	if err != nil {
		return nil, err
	}
	return &opener{src: br, closer: rc, aead: aead, ad: additional(h.raw, name),
		buf: make([]byte, SegmentSize+tagSize)}, nil
}
