package edge

import (
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// jsonObject appends a JSON object field by field without reflection; the
// hot responses (acquire, update, release, keepalive, errors) use it.
type jsonObject struct {
	b    []byte
	open bool
}

func newObject(b []byte) *jsonObject { return &jsonObject{b: append(b, '{')} }

// replyObjects holds the objects hot replies are built in before fasthttp
// copies them into the response.
var replyObjects = sync.Pool{New: func() any { return &jsonObject{b: make([]byte, 0, 512)} }}

// writeObject builds a 200 JSON reply with fill in a pooled object.
func writeObject(ctx *fasthttp.RequestCtx, fill func(o *jsonObject)) {
	o := replyObjects.Get().(*jsonObject)
	o.b, o.open = append(o.b[:0], '{'), false
	fill(o)
	writeRaw(ctx, 200, o.end())
	replyObjects.Put(o)
}

func (o *jsonObject) key(k string) {
	if o.open {
		o.b = append(o.b, ',')
	}
	o.open = true
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// str writes k: v; omitEmpty skips an empty v.
func (o *jsonObject) str(k, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

func (o *jsonObject) int(k string, v int64, omitZero bool) {
	if omitZero && v == 0 {
		return
	}
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObject) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *jsonObject) raw(k, v string) {
	o.key(k)
	o.b = append(o.b, v...)
}

func (o *jsonObject) end() []byte { return append(o.b, '}', '\n') }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does (control characters, quotes, backslash, <, >, &, U+2028, U+2029;
// invalid UTF-8 becomes U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}

// setIntHeader sets a response header to a decimal number without allocating.
func setIntHeader(h *fasthttp.ResponseHeader, key string, v int64) {
	var buf [24]byte
	h.SetBytesV(key, strconv.AppendInt(buf[:0], v, 10))
}

// setUintHeader is setIntHeader for unsigned numbers (fencing tokens).
func setUintHeader(h *fasthttp.ResponseHeader, key string, v uint64) {
	var buf [24]byte
	h.SetBytesV(key, strconv.AppendUint(buf[:0], v, 10))
}
