package edge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
)

// part is one part of a multipart body under construction.
type part struct {
	name, ctype string
	body        []byte
}

// multipartBody builds a multipart/form-data body.
func multipartBody(t *testing.T, parts ...part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.name != "" {
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"`)
		}
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.body)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func metaPart(t *testing.T, meta any) part {
	b, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	return part{name: "meta", ctype: "application/json", body: b}
}

func enqueueRaw(s *edgetest.Server, body []byte, ctype string, headers ...string) edgetest.Response {
	return s.Do("POST", "/v1/queue/enqueue", body, append([]string{"Content-Type", ctype}, headers...)...)
}

// enqueue puts payload on queue with optional meta fields.
func enqueue(t *testing.T, s *edgetest.Server, queue, payload string, meta ...map[string]any) api.EnqueueResponse {
	t.Helper()
	m := map[string]any{"queue": queue, "payload_content_type": "application/json"}
	for _, extra := range meta {
		for k, v := range extra {
			m[k] = v
		}
	}
	body, ctype := multipartBody(t, metaPart(t, m), part{name: "payload", ctype: "application/json", body: []byte(payload)})
	r := enqueueRaw(s, body, ctype)
	if r.Status != 200 {
		t.Fatalf("enqueue %q: %d %s", payload, r.Status, r.Body)
	}
	var res api.EnqueueResponse
	r.JSON(t, &res)
	return res
}

// delivered is one message of a dequeue response.
type delivered struct {
	api.Message
	Payload     []byte
	PayloadType string
	MetaName    string
}

// parseDeliveries reads a multipart/related dequeue response.
func parseDeliveries(t *testing.T, ctype string, body io.Reader) []delivered {
	t.Helper()
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil || mt != "multipart/related" {
		t.Fatalf("content type %q: %v", ctype, err)
	}
	var out []delivered
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		out = append(out, readDelivery(t, mr, p))
	}
}

// readDelivery reads a meta part p and the payload part after it.
func readDelivery(t *testing.T, mr *multipart.Reader, p *multipart.Part) delivered {
	t.Helper()
	if p.FormName() != "meta" {
		t.Fatalf("expected a meta part, got %q", p.FormName())
	}
	var dr api.DequeueResponse
	if err := json.NewDecoder(p).Decode(&dr); err != nil {
		t.Fatalf("meta part: %v", err)
	}
	d := delivered{Message: dr.Message, MetaName: p.FileName()}
	pp, err := mr.NextPart()
	if err != nil || pp.FormName() != "payload" {
		t.Fatalf("payload part: %v %q", err, pp.FormName())
	}
	d.PayloadType = pp.Header.Get("Content-Type")
	// Read by Content-Length: on a subscription the part's closing
	// delimiter only comes with the next delivery.
	n, err := strconv.Atoi(pp.Header.Get("Content-Length"))
	if err != nil {
		t.Fatalf("payload part without Content-Length: %v", err)
	}
	d.Payload = make([]byte, n)
	if _, err := io.ReadFull(pp, d.Payload); err != nil {
		t.Fatal(err)
	}
	return d
}

// dequeue calls /v1/queue/dequeue (or another dequeue path) and returns the
// response and its deliveries.
func dequeue(t *testing.T, s *edgetest.Server, path string, body any) (edgetest.Response, []delivered) {
	t.Helper()
	r := s.Do("POST", path, body)
	if r.Status != 200 {
		return r, nil
	}
	return r, parseDeliveries(t, r.Header.Get("Content-Type"), bytes.NewReader(r.Body))
}

func dequeueOne(t *testing.T, s *edgetest.Server, queue string, extra ...map[string]any) delivered {
	t.Helper()
	req := map[string]any{"queue": queue, "owner": "worker", "wait_seconds": -1}
	for _, e := range extra {
		for k, v := range e {
			req[k] = v
		}
	}
	r, ds := dequeue(t, s, "/v1/queue/dequeue", req)
	if r.Status != 200 || len(ds) != 1 {
		t.Fatalf("dequeue %s: %d %s (%d deliveries)", queue, r.Status, r.Body, len(ds))
	}
	return ds[0]
}

func ackBody(m api.Message) map[string]any {
	return map[string]any{"queue": m.Queue, "namespace": m.Namespace, "message_id": m.MessageID,
		"lease_id": m.LeaseID, "fencing_token": m.FencingToken, "meta_etag": m.MetaETag, "txn_id": m.TxnID}
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func ack(s *edgetest.Server, m api.Message, kv ...any) edgetest.Response {
	return s.Do("POST", "/v1/queue/ack", with(ackBody(m), kv...))
}

func nack(s *edgetest.Server, m api.Message, kv ...any) edgetest.Response {
	return s.Do("POST", "/v1/queue/nack", with(ackBody(m), kv...))
}

func stats(t *testing.T, s *edgetest.Server, queue string) api.QueueStatsResponse {
	t.Helper()
	r := s.Do("POST", "/v1/queue/stats", map[string]any{"queue": queue})
	if r.Status != 200 {
		t.Fatalf("stats: %d %s", r.Status, r.Body)
	}
	var st api.QueueStatsResponse
	r.JSON(t, &st)
	return st
}

// eventually polls cond (a cheap request) until it holds, with a bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// streamRequest opens a streaming POST; the caller closes the body.
func streamRequest(t *testing.T, s *edgetest.Server, path string, body any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := s.Client.Post(s.URL()+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("%s: %d %s", path, resp.StatusCode, data)
	}
	return resp
}
