// Package otlptest runs OTLP trace receivers on loopback for tests: a gRPC
// one implementing the collector's TraceService and an HTTP one taking
// protobuf POSTs on /v1/traces. Both keep every span they receive.
package otlptest

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Span is a received span, its ids in hex.
type Span struct {
	Name         string
	TraceID      string
	SpanID       string
	ParentSpanID string
	Attrs        map[string]string
	Service      string // the resource's service.name
}

// Receiver collects spans.
type Receiver struct {
	// Addr is the receiver's host:port.
	Addr string

	mu    sync.Mutex
	spans []Span
	added chan struct{}
}

func newReceiver(addr string) *Receiver {
	return &Receiver{Addr: addr, added: make(chan struct{}, 1)}
}

func (r *Receiver) add(req *coltrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, convert(s, service))
			}
		}
	}
	r.mu.Unlock()
	select {
	case r.added <- struct{}{}:
	default:
	}
}

func convert(s *tracepb.Span, service string) Span {
	return Span{
		Name: s.GetName(), TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
		ParentSpanID: hex.EncodeToString(s.GetParentSpanId()), Attrs: attrs(s.GetAttributes()), Service: service,
	}
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			m[kv.GetKey()] = v.GetStringValue()
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}

// Spans returns a copy of the spans received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// WaitFor waits up to timeout until ok holds for the spans received, and
// returns them.
func (r *Receiver) WaitFor(timeout time.Duration, ok func([]Span) bool) ([]Span, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if s := r.Spans(); ok(s) {
			return s, true
		}
		select {
		case <-r.added:
		case <-deadline.C:
			s := r.Spans()
			return s, ok(s)
		}
	}
}

type grpcService struct {
	coltrace.UnimplementedTraceServiceServer
	r *Receiver
}

func (g grpcService) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	g.r.add(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// GRPC starts a gRPC OTLP receiver on 127.0.0.1; it stops with the test.
func GRPC(t testing.TB) *Receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(ln.Addr().String())
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, grpcService{r: r})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return r
}

// HTTP starts an OTLP/HTTP receiver (protobuf on /v1/traces) on
// 127.0.0.1; it stops with the test.
func HTTP(t testing.TB) *Receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(ln.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var msg coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&msg)
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}
