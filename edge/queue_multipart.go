package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/lockdhq/lockd/internal/spool"
	"github.com/lockdhq/lockd/sdk/api"
)

// maxMetaPart bounds the JSON "meta" part of an enqueue.
const maxMetaPart = 1 << 20

// payloadFunc receives an enqueue's payload once its meta is known. It
// must consume r (or fail); contentType is the meta's
// payload_content_type, else the part's Content-Type.
type payloadFunc func(meta api.EnqueueRequest, contentType string, r io.Reader) error

// readEnqueue decodes a multipart enqueue body: a "meta" part with the
// JSON of api.EnqueueRequest and a "payload" part (or, as in lockd v0.9,
// the first unnamed part) of any content type. onPayload is called exactly
// once, with an empty reader when there is no payload part; a payload sent
// before its meta is spooled (memory up to spoolMem, then a temp file).
// Parts after both are an error, reported after onPayload returned, so the
// caller must undo what onPayload did when readEnqueue fails. Every error
// is a 4xx *httpError except those returned by onPayload.
func readEnqueue(contentType string, body io.Reader, spoolMem int, onPayload payloadFunc) error {
	small, rest, release := prefetchEnqueue(body)
	defer release()
	if small == nil {
		return readMultipart(contentType, rest, spoolMem, onPayload)
	}
	meta, payload, ptype, ok := fastEnqueue(contentType, small)
	if !ok {
		return readMultipart(contentType, bytes.NewReader(small), spoolMem, onPayload)
	}
	m, err := decodeEnqueueMeta(meta)
	if err != nil {
		return err
	}
	d := &enqueueDecoder{meta: &m, onPayload: onPayload}
	return d.deliver(bytes.NewReader(payload), ptype)
}

// readMultipart is readEnqueue through mime/multipart, for every body.
func readMultipart(contentType string, body io.Reader, spoolMem int, onPayload payloadFunc) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") || params["boundary"] == "" {
		return badRequest(api.CodeInvalidContentType, "multipart form required (parts meta and payload)")
	}
	d := &enqueueDecoder{mr: multipart.NewReader(body, params["boundary"]), spoolMem: spoolMem, onPayload: onPayload}
	defer d.close()
	for {
		p, err := d.mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return badRequest(api.CodeMultipartError, "malformed multipart body: "+err.Error())
		}
		if err := d.part(p); err != nil {
			return err
		}
	}
	if d.meta == nil {
		return badRequest(api.CodeMultipartError, `a "meta" part with the message's JSON metadata is required`)
	}
	if !d.delivered {
		return d.deliver(strings.NewReader(""), "")
	}
	return nil
}

type enqueueDecoder struct {
	mr        *multipart.Reader
	spoolMem  int
	onPayload payloadFunc
	meta      *api.EnqueueRequest
	early     *spool.Spool // a payload that came before the meta
	earlyType string
	delivered bool
}

// part handles one part; NextPart discards whatever of it was not read.
func (d *enqueueDecoder) part(p *multipart.Part) error {
	name := p.FormName()
	switch {
	case name == "meta":
		if d.meta != nil {
			return badRequest(api.CodeMultipartError, `duplicate "meta" part`)
		}
		return d.readMeta(p)
	case name == "payload" || (name == "" && !d.delivered && d.early == nil):
		if d.delivered || d.early != nil {
			return badRequest(api.CodeMultipartError, `duplicate "payload" part`)
		}
		if d.meta == nil {
			return d.spoolPayload(p)
		}
		return d.deliver(p, p.Header.Get("Content-Type"))
	case name == "":
		return badRequest(api.CodeMultipartError, "unexpected unnamed part after the payload")
	}
	return badRequest(api.CodeMultipartError, fmt.Sprintf("unexpected part %q (want meta and payload)", name))
}

func (d *enqueueDecoder) readMeta(p *multipart.Part) error {
	b, err := io.ReadAll(io.LimitReader(p, maxMetaPart+1))
	if err != nil {
		return badRequest(api.CodeMultipartError, "read meta part: "+err.Error())
	}
	if len(b) > maxMetaPart {
		return badRequest(api.CodeInvalidBody, fmt.Sprintf("meta part exceeds %d bytes", maxMetaPart))
	}
	meta, err := decodeEnqueueMeta(b)
	if err != nil {
		return err
	}
	d.meta = &meta
	if d.early != nil {
		r, err := d.early.Reader()
		if err != nil {
			return internalError("could not read the buffered payload", err)
		}
		return d.deliver(r, d.earlyType)
	}
	return nil
}

// decodeEnqueueMeta parses the meta JSON. Like lockd v0.9 it ignores
// unknown fields; malformed JSON and wrong types are 400 invalid_body.
func decodeEnqueueMeta(b []byte) (api.EnqueueRequest, error) {
	var meta api.EnqueueRequest
	if fastDecode(b, &meta) {
		return meta, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&meta); err != nil {
		return meta, badRequest(api.CodeInvalidBody, "invalid meta JSON: "+err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return meta, badRequest(api.CodeInvalidBody, "invalid meta JSON: unexpected trailing data")
	}
	return meta, nil
}

func (d *enqueueDecoder) spoolPayload(p *multipart.Part) error {
	d.early = spool.New(d.spoolMem, "")
	d.earlyType = p.Header.Get("Content-Type")
	br := &bodyReader{r: p}
	if _, err := io.Copy(spoolWriter{d.early}, br); err != nil {
		if br.err != nil && !errors.Is(br.err, io.EOF) {
			return badRequest(api.CodeMultipartError, "read payload part: "+br.err.Error())
		}
		return internalError("could not buffer the payload", err)
	}
	return nil
}

// deliver hands the payload to onPayload. Read errors of the request body
// are the client's (400), not the store's.
func (d *enqueueDecoder) deliver(r io.Reader, partType string) error {
	d.delivered = true
	ct := strings.TrimSpace(d.meta.PayloadContentType)
	if ct == "" {
		ct = strings.TrimSpace(partType)
	}
	br := &bodyReader{r: r}
	err := d.onPayload(*d.meta, ct, br)
	if br.err != nil && !errors.Is(br.err, io.EOF) {
		return badRequest(api.CodeMultipartError, "read payload part: "+br.err.Error())
	}
	return err
}

func (d *enqueueDecoder) close() {
	if d.early != nil {
		d.early.Close()
	}
}

// bodyReader remembers the first read error of the request body.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}
