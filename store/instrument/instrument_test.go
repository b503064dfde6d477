package instrument_test

import (
	"context"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/instrument"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/store/storetest"
)

func TestDecoratorKeepsCapabilities(t *testing.T) {
	storetest.RunDecorator(t, func(*testing.T) store.Store { return mem.New() },
		func(_ *testing.T, inner store.Store) store.Store { return instrument.Wrap(inner) })
}

func counter(t *testing.T, name string) string {
	t.Helper()
	var b strings.Builder
	metrics.WritePrometheus(&b, false)
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, name+" ") {
			return strings.TrimPrefix(l, name+" ")
		}
	}
	return ""
}

// A call under a recording span gets a child span named for its op; one
// without gets none. Both are counted.
func TestSpansAndCounts(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	otel.SetTracerProvider(tp)
	st := instrument.Wrap(mem.New())
	defer st.Close()

	before := counter(t, `lockd_store_operations_total{op="put"}`)
	if _, err := st.Put(context.Background(), "a", []byte("1"), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if len(rec.Ended()) != 0 {
		t.Fatalf("a call without a span made %d spans", len(rec.Ended()))
	}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	if _, err := st.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "missing"); err == nil {
		t.Fatal("missing key found")
	}
	parent.End()
	after := counter(t, `lockd_store_operations_total{op="put"}`)
	if before == after {
		t.Fatalf("put not counted: %s -> %s", before, after)
	}
	var gets int
	for _, s := range rec.Ended() {
		if s.Name() != "store.get" {
			continue
		}
		gets++
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("store.get parent %s, want %s", s.Parent().SpanID(), parent.SpanContext().SpanID())
		}
	}
	if gets != 2 {
		t.Fatalf("%d store.get spans, want 2", gets)
	}
}
