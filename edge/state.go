package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/lockdhq/lockd/internal/jsonutil"
	"github.com/lockdhq/lockd/internal/spool"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/sdk/api"
)

func (s *Server) get(c *call) error {
	if c.query("key") == "" {
		return badRequest(api.CodeMissingParams, "key query required")
	}
	leaseID := c.header(api.HeaderLeaseID)
	public := leaseID == "" && c.queryBool("public")
	req := keyspace.GetRequest{Public: public}
	if !public {
		fencing, err := c.fencing()
		if err != nil {
			return err
		}
		if leaseID == "" {
			return badRequest(api.CodeMissingParams, "lease_id required (or use public=1)")
		}
		req.LeaseProof = keyspace.LeaseProof{LeaseID: leaseID, Fencing: fencing}
	}
	ref, err := c.queryRef(api.CodeMissingParams)
	if err != nil {
		return err
	}
	req.Ref = ref
	v, err := s.keys.Get(c.ctx, req)
	if err != nil {
		return err
	}
	if v.NoState {
		c.SetStatusCode(204)
		return nil
	}
	var body io.ReadCloser
	if v.Inline == nil {
		if body, err = s.keys.OpenState(c.ctx, v); err != nil {
			return err
		}
	}
	h := &c.Response.Header
	h.Set(api.HeaderETag, v.ETag)
	setIntHeader(h, api.HeaderKeyVersion, v.Version)
	if !public {
		setUintHeader(h, api.HeaderFencingToken, v.Fencing)
	}
	c.SetContentType("application/json")
	c.SetStatusCode(200)
	if v.Inline != nil {
		c.SetBody(v.Inline) // small states come from the actor's memory
		return nil
	}
	c.SetBodyStream(body, int(v.Size))
	return nil
}

func metaJSON(hidden bool) string {
	if hidden {
		return `{"query_hidden":true}`
	}
	return `{}`
}

func (s *Server) update(c *call) error {
	ref, err := c.queryRef(api.CodeMissingKey)
	if err != nil {
		return err
	}
	proof, err := c.leaseProof()
	if err != nil {
		return err
	}
	ifVersion, err := c.ifVersion()
	if err != nil {
		return err
	}
	hidden, err := c.hiddenHeader()
	if err != nil {
		return err
	}
	exp, err := c.expectations()
	if err != nil {
		return err
	}
	st, err := s.readState(c, exp)
	if err != nil {
		return err
	}
	req := keyspace.UpdateRequest{
		Ref: ref, LeaseProof: proof, IfVersion: ifVersion, IfETag: c.header(api.HeaderIfStateETag),
		Hidden: hidden, ETag: st.etag, Inline: st.inline, Size: int64(len(st.inline)),
	}
	if st.inline == nil {
		defer st.body.Close()
		if req.Body, err = st.body.Reader(); err != nil {
			return err
		}
		req.Size = st.body.Size()
	}
	res, err := s.keys.Update(c.ctx, req)
	if err != nil {
		return err
	}
	setIntHeader(&c.Response.Header, api.HeaderKeyVersion, res.NewVersion)
	c.Response.Header.Set(api.HeaderETag, res.NewETag)
	writeObject(c.RequestCtx, func(o *jsonObject) {
		o.int("bytes", res.Bytes, false)
		o.raw("metadata", metaJSON(res.Hidden))
		o.str("new_state_etag", res.NewETag, true)
		o.int("new_version", res.NewVersion, false)
	})
	return nil
}

// expectation is the client's claim about the raw body it sent.
type expectation struct {
	sha256 string
	bytes  int64 // -1 = none
}

func (c *call) expectations() (expectation, error) {
	e := expectation{bytes: -1}
	if v := c.header(api.HeaderExpectedSHA256); v != "" {
		if _, err := hex.DecodeString(v); err != nil || len(v) != 64 {
			return e, badRequest(api.CodeInvalidExpectedSHA, "X-Expected-SHA256 must be 64 hex characters")
		}
		e.sha256 = string(bytes.ToLower([]byte(v)))
	}
	if v := c.header(api.HeaderExpectedBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return e, badRequest(api.CodeInvalidExpectedLen, "X-Expected-Bytes must be a non-negative integer")
		}
		e.bytes = n
	}
	return e, nil
}

// compacted is a validated, compacted JSON body and its SHA-256: inline
// for small bodies, else in body.
type compacted struct {
	inline []byte
	body   *spool.Spool
	etag   string
}

// smallState is the largest declared body readState compacts in memory in
// one piece; larger or chunked bodies stream through a spool.
const smallState = 64 << 10

// readState validates and compacts the request body into a spool, within
// JSONMax, and checks the client's expectations about the raw bytes.
func (s *Server) readState(c *call, exp expectation) (compacted, error) {
	limit := s.cfg.JSONMax
	if cl := c.Request.Header.ContentLength(); cl > 0 && int64(cl) > limit {
		return compacted{}, documentTooLarge(limit)
	}
	if cl := c.Request.Header.ContentLength(); cl >= 0 && cl <= smallState {
		return readSmallState(c, exp, cl, limit)
	}
	raw := &rawMeter{r: c.bodyReader()}
	if exp.sha256 != "" {
		raw.h = sha256.New()
	}
	out := compacted{body: spool.New(s.cfg.SpoolMemory, "")}
	sum := sha256.New()
	w := io.MultiWriter(spoolWriter{out.body}, sum)
	var err error
	if cl := c.Request.Header.ContentLength(); cl >= 0 && cl <= 1<<20 {
		err = compactSmall(w, raw, limit)
	} else {
		_, err = jsonutil.CompactStream(w, raw, limit)
	}
	if err == nil {
		err = exp.check(raw)
	}
	if err != nil {
		out.body.Close()
		return compacted{}, stateError(err, limit)
	}
	out.etag = hex.EncodeToString(sum.Sum(nil))
	return out, nil
}

// readSmallState reads a body of declared length n (within limit) whole,
// then checks, compacts and hashes it without further copies.
func readSmallState(c *call, exp expectation, n int, limit int64) (compacted, error) {
	raw := c.PostBody()
	if c.RequestBodyStream() != nil {
		raw = make([]byte, n)
		if _, err := io.ReadFull(c.bodyReader(), raw); err != nil {
			return compacted{}, stateError(err, limit)
		}
	}
	m := &rawMeter{n: int64(len(raw))}
	if exp.sha256 != "" {
		m.h = sha256.New()
		m.h.Write(raw)
	}
	var out bytes.Buffer
	out.Grow(len(raw)) // compacting never grows a document
	err := jsonutil.CompactBytes(&out, raw)
	if err == nil {
		err = exp.check(m)
	}
	if err != nil {
		return compacted{}, stateError(err, limit)
	}
	sum := sha256.Sum256(out.Bytes())
	return compacted{inline: out.Bytes(), etag: hex.EncodeToString(sum[:])}, nil
}

func compactSmall(w io.Writer, r io.Reader, limit int64) error {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > limit {
		return jsonutil.ErrTooLarge
	}
	var buf bytes.Buffer
	if err := jsonutil.CompactBytes(&buf, b); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// documentTooLarge answers a state document over --json-max (lockd v0.9:
// 413 document_too_large).
func documentTooLarge(limit int64) *httpError {
	return fail(413, api.CodeDocumentTooLarge, fmt.Sprintf("state document exceeds %d bytes (--json-max)", limit))
}

// spoolError is a failure to buffer a request body on the server (a full
// disk, say): the server's fault, not the client's.
type spoolError struct{ err error }

func (e spoolError) Error() string { return "spool request body: " + e.err.Error() }
func (e spoolError) Unwrap() error { return e.err }

// spoolWriter marks the errors of w as spoolErrors.
type spoolWriter struct{ w io.Writer }

func (s spoolWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		err = spoolError{err}
	}
	return n, err
}

func stateError(err error, limit int64) error {
	var se *jsonutil.SyntaxError
	var spe spoolError
	switch {
	case errors.As(err, &spe):
		return internalError("could not buffer the request body", err)
	case errors.Is(err, jsonutil.ErrTooLarge):
		return documentTooLarge(limit)
	case errors.Is(err, jsonutil.ErrEmpty):
		return badRequest(api.CodeInvalidBody, "json: empty input")
	case errors.As(err, &se):
		return badRequest(api.CodeInvalidBody, "json: "+se.Error())
	}
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	return badRequest(api.CodeInvalidBody, "read body: "+err.Error())
}

func (e expectation) check(m *rawMeter) error {
	if e.bytes >= 0 && m.n != e.bytes {
		return fail(409, api.CodeExpectedLenMismatch, fmt.Sprintf("received %d bytes, expected %d", m.n, e.bytes))
	}
	if e.sha256 != "" {
		if got := hex.EncodeToString(m.h.Sum(nil)); got != e.sha256 {
			return fail(409, api.CodeExpectedSHAMismatch, "body sha256 "+got+" does not match X-Expected-SHA256")
		}
	}
	return nil
}

// rawMeter counts (and optionally hashes) the raw bytes read.
type rawMeter struct {
	r io.Reader
	n int64
	h hash.Hash
}

func (m *rawMeter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.h != nil {
		m.h.Write(p[:n])
	}
	return n, err
}

// bodyReader streams the request body. With a declared Content-Length, a
// body that ends early (the client went away) is io.ErrUnexpectedEOF, never
// a silently shorter body.
func (c *call) bodyReader() io.Reader {
	r := c.RequestBodyStream()
	if r == nil {
		return bytes.NewReader(c.PostBody())
	}
	if n := c.Request.Header.ContentLength(); n >= 0 {
		return &exactReader{r: r, left: int64(n)}
	}
	return r
}

type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func (s *Server) remove(c *call) error {
	ref, err := c.queryRef(api.CodeMissingKey)
	if err != nil {
		return err
	}
	proof, err := c.leaseProof()
	if err != nil {
		return err
	}
	ifVersion, err := c.ifVersion()
	if err != nil {
		return err
	}
	res, err := s.keys.Remove(c.ctx, keyspace.RemoveRequest{
		Ref: ref, LeaseProof: proof, IfVersion: ifVersion, IfETag: c.header(api.HeaderIfStateETag),
	})
	if err != nil {
		return err
	}
	setIntHeader(&c.Response.Header, api.HeaderKeyVersion, res.NewVersion)
	writeJSON(c.RequestCtx, 200, api.RemoveResponse{Removed: res.Removed, NewVersion: res.NewVersion})
	return nil
}

// maxMetadataBody bounds /v1/metadata bodies (4 KiB, as lockd v0.9).
const maxMetadataBody = 4 << 10

func (s *Server) metadata(c *call) error {
	ref, err := c.queryRef(api.CodeMissingKey)
	if err != nil {
		return err
	}
	proof, err := c.leaseProof()
	if err != nil {
		return err
	}
	ifVersion, err := c.ifVersion()
	if err != nil {
		return err
	}
	hidden, err := c.hiddenHeader()
	if err != nil {
		return err
	}
	var body api.MetadataMutation
	raw, err := c.readBody(maxMetadataBody)
	if err == nil {
		err = c.decodeStrictBytes(raw, &body, true)
	}
	if err != nil {
		var he *httpError
		if errors.As(err, &he) && he.code == api.CodeInvalidBody {
			he.code = api.CodeInvalidMetadata
		}
		return err
	}
	if hidden == nil {
		hidden = body.QueryHidden
	}
	if hidden == nil {
		return badRequest(api.CodeInvalidMetadata, "no metadata fields provided")
	}
	res, err := s.keys.UpdateMetadata(c.ctx, keyspace.MetadataRequest{Ref: ref, LeaseProof: proof, IfVersion: ifVersion, Hidden: hidden})
	if err != nil {
		return err
	}
	setIntHeader(&c.Response.Header, api.HeaderKeyVersion, res.Version)
	writeJSON(c.RequestCtx, 200, api.MetadataUpdateResponse{Namespace: ref.Namespace, Key: ref.Key, Version: res.Version, Metadata: meta(res.Hidden)})
	return nil
}
