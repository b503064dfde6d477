package edge

import (
	"io"
	"math/rand/v2"
)

// partWriter writes a multipart body: the bytes mime/multipart.Writer
// writes (delimiters, headers in sorted order, the closing delimiter),
// without building a header map and formatting each part. Deliveries are
// written on every dequeue, so this is a hot path.
type partWriter struct {
	w        io.Writer
	boundary string
	buf      []byte
	parts    int
}

// newBoundary returns a random boundary (RFC 2046: at most 70 characters
// that cannot occur in a part by chance); boundaries are not secrets, so
// the runtime's generator serves.
func newBoundary() string {
	const hexdig = "0123456789abcdef"
	var b [32]byte
	for i := 0; i < len(b); i += 16 {
		v := rand.Uint64()
		for j := 0; j < 16; j++ {
			b[i+j] = hexdig[v&0xf]
			v >>= 4
		}
	}
	return string(b[:])
}

func newPartWriter(w io.Writer, boundary string) *partWriter {
	return &partWriter{w: w, boundary: boundary}
}

// open starts a part with the given header lines, each "Name: value",
// which the caller lists in sorted order of their names (as
// mime/multipart does).
func (p *partWriter) open(headers ...string) error {
	b := p.buf[:0]
	if p.parts > 0 {
		b = append(b, "\r\n"...)
	}
	p.parts++
	b = append(append(append(b, "--"...), p.boundary...), "\r\n"...)
	for _, h := range headers {
		b = append(append(b, h...), "\r\n"...)
	}
	b = append(b, "\r\n"...)
	p.buf = b
	_, err := p.w.Write(b)
	return err
}

// close writes the closing delimiter.
func (p *partWriter) close() error {
	b := append(p.buf[:0], "\r\n--"...)
	b = append(append(b, p.boundary...), "--\r\n"...)
	p.buf = b
	_, err := p.w.Write(b)
	return err
}
