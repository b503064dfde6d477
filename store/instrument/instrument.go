// Package instrument decorates a store with metrics and trace spans: every
// call counts in lockd_store_operations_total{op} (and failures in
// lockd_store_errors_total{op}), and a call made under a recording trace
// span context (the edge's request span, an actor hand-off span) gets a child span
// "store.<op>". A call without a recording span costs one context lookup
// and an atomic add.
package instrument

import (
	"context"
	"errors"
	"io"

	"github.com/VictoriaMetrics/metrics"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/lockdhq/lockd/store"
)

const tracerName = "github.com/lockdhq/lockd/store"

// The operations counted, one per store method.
const (
	OpGet        = "get"
	OpPut        = "put"
	OpDelete     = "delete"
	OpList       = "list"
	OpApply      = "apply"
	OpScan       = "scan"
	OpWriteBlob  = "write_blob"
	OpOpenBlob   = "open_blob"
	OpDeleteBlob = "delete_blob"
	OpListBlobs  = "list_blobs"
)

type counters struct{ ops, errs *metrics.Counter }

var byOp = map[string]counters{}

func init() {
	for _, op := range []string{OpGet, OpPut, OpDelete, OpList, OpApply, OpScan, OpWriteBlob, OpOpenBlob, OpDeleteBlob, OpListBlobs} {
		byOp[op] = counters{
			ops:  metrics.NewCounter(`lockd_store_operations_total{op="` + op + `"}`),
			errs: metrics.NewCounter(`lockd_store_errors_total{op="` + op + `"}`),
		}
	}
}

// Store counts and traces the calls to an inner store. Wrap returns a type
// that also implements each optional ability of the inner store
// (store.Batcher, store.Scanner), and only those.
type Store struct {
	inner store.Store
}

var _ store.Store = (*Store)(nil)

// Wrap instruments inner. The result has exactly the optional abilities of
// inner; closing it closes inner.
func Wrap(inner store.Store) store.Store {
	s := &Store{inner: inner}
	var bo store.Batcher
	if b, ok := inner.(store.Batcher); ok {
		bo = batchOps{s, b}
	}
	var so store.Scanner
	if sc, ok := inner.(store.Scanner); ok {
		so = scanOps{s, sc}
	}
	return store.WithAbilities(s, bo, so)
}

// begin counts op and, under a recording span, starts its child span; the
// returned function ends it with err.
func (s *Store) begin(ctx context.Context, op, key string) (context.Context, func(error)) {
	c := byOp[op]
	c.ops.Inc()
	// The span context, not a recording span: an actor's store calls carry
	// only the span context of the request it serves (actors.TraceContext).
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ctx, func(err error) {
			if failed(err) {
				c.errs.Inc()
			}
		}
	}
	ctx, span := otel.Tracer(tracerName).Start(ctx, "store."+op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("lockd.store.op", op),
		attribute.String("lockd.store.key", key),
		attribute.String("lockd.sys", "storage"),
	))
	return ctx, func(err error) {
		if failed(err) {
			c.errs.Inc()
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// failed reports whether err is a failure of the store rather than an
// answer (a missing record, a condition that did not hold).
func failed(err error) bool {
	return err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict)
}

// Get implements store.Backend.
func (s *Store) Get(ctx context.Context, key string) (store.Record, error) {
	ctx, end := s.begin(ctx, OpGet, key)
	rec, err := s.inner.Get(ctx, key)
	end(err)
	return rec, err
}

// Put implements store.Backend.
func (s *Store) Put(ctx context.Context, key string, value []byte, cond store.Cond) (string, error) {
	ctx, end := s.begin(ctx, OpPut, key)
	tag, err := s.inner.Put(ctx, key, value, cond)
	end(err)
	return tag, err
}

// Delete implements store.Backend.
func (s *Store) Delete(ctx context.Context, key string, cond store.Cond) error {
	ctx, end := s.begin(ctx, OpDelete, key)
	err := s.inner.Delete(ctx, key, cond)
	end(err)
	return err
}

// List implements store.Backend.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	ctx, end := s.begin(ctx, OpList, prefix)
	keys, err := s.inner.List(ctx, prefix, after, limit)
	end(err)
	return keys, err
}

// Close closes the inner store.
func (s *Store) Close() error { return s.inner.Close() }

// WriteBlob implements store.Blobs.
func (s *Store) WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error) {
	ctx, end := s.begin(ctx, OpWriteBlob, name)
	n, err := s.inner.WriteBlob(ctx, name, r)
	end(err)
	return n, err
}

// OpenBlob implements store.Blobs. Its span covers the open, not the read.
func (s *Store) OpenBlob(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	ctx, end := s.begin(ctx, OpOpenBlob, name)
	r, n, err := s.inner.OpenBlob(ctx, name)
	end(err)
	return r, n, err
}

// DeleteBlob implements store.Blobs.
func (s *Store) DeleteBlob(ctx context.Context, name string) error {
	ctx, end := s.begin(ctx, OpDeleteBlob, name)
	err := s.inner.DeleteBlob(ctx, name)
	end(err)
	return err
}

// ListBlobs implements store.Blobs.
func (s *Store) ListBlobs(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	ctx, end := s.begin(ctx, OpListBlobs, prefix)
	names, err := s.inner.ListBlobs(ctx, prefix, after, limit)
	end(err)
	return names, err
}

type batchOps struct {
	s     *Store
	inner store.Batcher
}

// Apply implements store.Batcher; the span covers the apply, not the wait
// for durability (the disk store's group commit).
func (b batchOps) Apply(ctx context.Context, ops []store.Op) ([]string, store.Durable, error) {
	key := ""
	if len(ops) > 0 {
		key = ops[0].Key
	}
	ctx, end := b.s.begin(ctx, OpApply, key)
	tags, d, err := b.inner.Apply(ctx, ops)
	end(err)
	return tags, d, err
}

type scanOps struct {
	s     *Store
	inner store.Scanner
}

// Scan implements store.Scanner.
func (sc scanOps) Scan(ctx context.Context, prefix, after string, limit int, fn func(key string, rec store.Record) error) error {
	ctx, end := sc.s.begin(ctx, OpScan, prefix)
	err := sc.inner.Scan(ctx, prefix, after, limit, fn)
	end(err)
	return err
}
