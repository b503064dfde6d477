package edge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/sdk/api"
)

// streamFlushBytes and streamFlushIdle decide when buffered NDJSON rows
// go out: when this much is buffered, or at once when rows come slower
// than this (a selective query over a large namespace).
const (
	streamFlushBytes = 16 << 10
	streamFlushIdle  = 5 * time.Millisecond
)

var queryTrailers = strings.Join([]string{api.HeaderQueryCursor, api.HeaderQueryIndexSeq, api.HeaderQueryMetadata}, ", ")

// streamDocuments answers return=documents: NDJSON rows streamed as the
// query finds them, with cursor, index seq and metadata as HTTP trailers.
func (s *Server) streamDocuments(c *call, prep *index.Prepared, qp queryParams) error {
	h := &c.Response.Header
	if err := h.SetTrailer(queryTrailers); err != nil {
		return err
	}
	h.Set(api.HeaderQueryReturn, string(api.QueryReturnDocuments))
	c.SetContentType(api.ContentTypeNDJSON)
	c.SetStatusCode(200)
	c.SetBodyStream(&docStream{hdr: h, run: func(ctx context.Context, w io.Writer) (index.Result, error) {
		return s.writeRows(ctx, w, prep, qp)
	}}, -1)
	return nil
}

// writeRows runs the query and writes one row per hit.
func (s *Server) writeRows(ctx context.Context, w io.Writer, prep *index.Prepared, qp queryParams) (index.Result, error) {
	bw := bufio.NewWriterSize(w, 2*streamFlushBytes)
	last := time.Now()
	var row []byte
	res, err := prep.Run(ctx, func(hit index.Hit) error {
		doc, err := project(hit.Doc, qp)
		if err != nil {
			return err
		}
		if int64(len(doc)) > s.cfg.JSONMax {
			return fail(413, api.CodeDocumentTooLarge, "state exceeds json-max")
		}
		row = appendRow(row[:0], qp.req.Namespace, hit, doc)
		if _, err := bw.Write(row); err != nil {
			return err
		}
		now := time.Now()
		if bw.Buffered() >= streamFlushBytes || now.Sub(last) > streamFlushIdle {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		last = now
		return nil
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err == nil {
		s.clusterIndexSeq(ctx, qp.req.Namespace, &res)
	}
	return res, err
}

// appendRow renders {"ns","key","ver","doc"} with the raw document.
func appendRow(b []byte, ns string, hit index.Hit, doc []byte) []byte {
	b = append(b, `{"ns":`...)
	b = strconv.AppendQuote(b, ns)
	b = append(b, `,"key":`...)
	b = strconv.AppendQuote(b, hit.Key)
	if hit.Version != 0 {
		b = append(b, `,"ver":`...)
		b = strconv.AppendInt(b, hit.Version, 10)
	}
	b = append(b, `,"doc":`...)
	b = append(b, doc...)
	return append(b, "}\n"...)
}

// project applies the fields projection to a raw document.
func project(raw []byte, qp queryParams) ([]byte, error) {
	if len(qp.fields) == 0 {
		return raw, nil
	}
	doc, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(index.Project(doc, qp.fields))
}

func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// docStream is the response body of a documents query. fasthttp reads it
// on the connection's goroutine after the headers went out; the query
// runs in a goroutine started by the first Read and feeds a pipe, and
// the trailer values are set by the Read that sees the end, before
// fasthttp writes the trailer section. Close (the client went away)
// cancels the query.
type docStream struct {
	hdr    *fasthttp.ResponseHeader
	run    func(ctx context.Context, w io.Writer) (index.Result, error)
	pr     *io.PipeReader
	cancel context.CancelFunc
	done   chan index.Result
	ended  bool
}

var errStreamClosed = errors.New("edge: query stream closed")

func (d *docStream) Read(p []byte) (int, error) {
	if d.pr == nil {
		d.start()
	}
	if d.ended {
		return 0, io.EOF
	}
	n, err := d.pr.Read(p)
	if err == io.EOF {
		d.ended = true
		res := <-d.done
		for k, v := range queryHeaders(res, queryMetadata(res)) {
			d.hdr.Set(k, v)
		}
	}
	return n, err
}

func (d *docStream) start() {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	d.pr, d.cancel, d.done = pr, cancel, make(chan index.Result, 1)
	go func() {
		res, err := d.run(ctx, pw)
		d.done <- res
		pw.CloseWithError(err) // nil: EOF after the last row
	}()
}

// Close stops the query if it still runs.
func (d *docStream) Close() error {
	if d.pr != nil {
		d.cancel()
		d.pr.CloseWithError(errStreamClosed)
	}
	return nil
}
