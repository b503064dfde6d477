// Package bigbody makes and reads large bodies for tests without holding
// them in memory: a deterministic byte stream that hashes what it yields,
// a streamed multipart body for /v1/queue/enqueue, and the split of a
// /v1/queue/dequeue response into metadata and a payload stream.
package bigbody

import (
	"crypto/sha256"
	"encoding/json"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"

	"github.com/lockdhq/lockd/sdk/api"
)

// Pattern yields N deterministic bytes and hashes them as it goes.
type Pattern struct {
	left int64
	x    byte
	h    hash.Hash
}

// NewPattern returns a stream of n bytes.
func NewPattern(n int64) *Pattern { return &Pattern{left: n, h: sha256.New()} }

func (p *Pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.left)]
	for i := range b {
		b[i] = p.x
		p.x = p.x*31 + 7
	}
	p.left -= int64(len(b))
	p.h.Write(b)
	return len(b), nil
}

// Sum is the SHA-256 of the bytes read so far (all of them once read to
// the end).
func (p *Pattern) Sum() []byte { return p.h.Sum(nil) }

// Enqueue returns a streamed multipart enqueue body ("meta" then
// "payload") for queue with payload read from src, and its content type.
func Enqueue(queue string, src io.Reader) (contentType string, body io.Reader) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="meta"`)
		w, _ := mw.CreatePart(h)
		json.NewEncoder(w).Encode(map[string]any{"queue": queue, "payload_content_type": "application/octet-stream"})
		h = textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="payload"`)
		w, _ = mw.CreatePart(h)
		if _, err := io.Copy(w, src); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(mw.Close())
	}()
	return mw.FormDataContentType(), pr
}

// Delivery splits a one-message /v1/queue/dequeue response (multipart: the
// message's metadata, then its payload) into the decoded metadata and a
// stream of the payload part, whose headers it also returns.
func Delivery(resp *http.Response) (api.DequeueResponse, *multipart.Part, error) {
	var dr api.DequeueResponse
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return dr, nil, err
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	meta, err := mr.NextPart()
	if err != nil {
		return dr, nil, err
	}
	if err := json.NewDecoder(meta).Decode(&dr); err != nil {
		return dr, nil, err
	}
	payload, err := mr.NextPart()
	return dr, payload, err
}
