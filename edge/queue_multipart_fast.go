package edge

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// smallEnqueue is the largest enqueue body read whole and split by
// fastEnqueue; larger (or longer) bodies stream through mime/multipart.
const smallEnqueue = 16 << 10

var enqueueBufs = sync.Pool{New: func() any { b := make([]byte, smallEnqueue+1); return &b }}

// prefetchEnqueue reads body into a pooled buffer when all of it fits.
// It returns the whole body (small) or a reader equivalent to body (the
// part already read followed by the rest, with any read error in place);
// release gives the buffer back once neither is used.
func prefetchEnqueue(body io.Reader) (small []byte, rest io.Reader, release func()) {
	bp := enqueueBufs.Get().(*[]byte)
	release = func() { enqueueBufs.Put(bp) }
	buf := *bp
	n, err := io.ReadFull(body, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return buf[:n], nil, release
	case err != nil:
		return nil, io.MultiReader(bytes.NewReader(buf[:n]), errReader{err}), release
	}
	return nil, io.MultiReader(bytes.NewReader(buf[:n]), body), release
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// fastEnqueue splits the common enqueue body, exactly a "meta" part and
// then a "payload" part with the headers multipart.Writer and the SDK
// write, without mime/multipart's allocations. It reports false for
// anything else (a quoted or padded boundary, a preamble or epilogue,
// other headers or parts, the payload first), which readEnqueue then
// reads in general: it accepts only bodies that mime/multipart reads to
// the same parts (FuzzFastEnqueue checks this against it).
func fastEnqueue(contentType string, body []byte) (meta, payload []byte, payloadType string, ok bool) {
	const prefix = "multipart/form-data; boundary="
	if len(contentType) <= len(prefix) || !strings.EqualFold(contentType[:len(prefix)], prefix) {
		return nil, nil, "", false
	}
	boundary := contentType[len(prefix):]
	if len(boundary) > 70 || !boundaryChars(boundary) {
		return nil, nil, "", false
	}
	var dbuf [80]byte
	delim := append(append(dbuf[:0], "\r\n--"...), boundary...) // precedes every boundary but the first
	if !bytes.HasPrefix(body, delim[2:]) || !bytes.HasPrefix(body[len(delim)-2:], crlf) {
		return nil, nil, "", false
	}
	rest := body[len(delim):]
	name, _, meta, rest, last, ok := fastPart(rest, delim)
	if !ok || last || name != "meta" {
		return nil, nil, "", false
	}
	name, payloadType, payload, rest, last, ok = fastPart(rest, delim)
	if !ok || !last || name != "payload" || (len(rest) != 0 && !bytes.Equal(rest, crlf)) {
		return nil, nil, "", false
	}
	return meta, payload, payloadType, true
}

var crlf = []byte("\r\n")

// fastPart reads one part's headers and content up to the next boundary;
// last is true when that boundary closes the body.
func fastPart(b, delim []byte) (name, ctype string, content, rest []byte, last, ok bool) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end <= 0 {
		return "", "", nil, nil, false, false
	}
	var disposition bool
	for hdr := b[:end]; len(hdr) > 0; {
		line := hdr
		if i := bytes.Index(hdr, crlf); i >= 0 {
			line, hdr = hdr[:i], hdr[i+2:]
		} else {
			hdr = nil
		}
		key, val, found := bytes.Cut(line, []byte(":"))
		if !found || !printable(val) {
			return "", "", nil, nil, false, false
		}
		val = bytes.Trim(val, " \t")
		switch string(key) {
		case "Content-Disposition":
			switch {
			case disposition:
				return "", "", nil, nil, false, false
			case string(val) == `form-data; name="meta"`:
				name = "meta"
			case string(val) == `form-data; name="payload"`:
				name = "payload"
			default:
				return "", "", nil, nil, false, false
			}
			disposition = true
		case "Content-Type":
			if ctype != "" || len(val) == 0 {
				return "", "", nil, nil, false, false
			}
			ctype = string(val)
		default:
			return "", "", nil, nil, false, false
		}
	}
	if !disposition {
		return "", "", nil, nil, false, false
	}
	b = b[end+4:]
	i := bytes.Index(b, delim)
	if i < 0 {
		return "", "", nil, nil, false, false
	}
	content, rest = b[:i], b[i+len(delim):]
	switch {
	case bytes.HasPrefix(rest, crlf):
		return name, ctype, content, rest[2:], false, true
	case bytes.HasPrefix(rest, []byte("--")):
		return name, ctype, content, rest[2:], true, true
	}
	return "", "", nil, nil, false, false
}

// boundaryChars reports a boundary that is a plain MIME token (RFC 2045:
// no tspecials, so mime.ParseMediaType takes it unquoted).
func boundaryChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '\'' || c == '+' || c == '-' || c == '.' || c == '_':
		default:
			return false
		}
	}
	return true
}

// printable reports visible ASCII and spaces only.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
