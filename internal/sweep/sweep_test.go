package sweep_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/sweep"
	"github.com/lockdhq/lockd/store/mem"
)

// Runs are bounded, each continues where the last stopped (also in a new
// Walker, as after a restart), and a pass that ends starts over.
func TestRunsAreBoundedAndResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := mem.New()
	var all []string
	for i := range 95 {
		n := fmt.Sprintf("b/%03d", i)
		all = append(all, n)
		if _, err := st.WriteBlob(ctx, n, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	run := func() (bool, int) {
		w := sweep.Walker{St: st, CursorKey: ".sweep/test", PageSize: 10, Pages: 3}
		before := len(seen)
		end, err := w.Run(ctx, func(names []string) error { seen = append(seen, names...); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return end, len(seen) - before
	}
	for i, want := range []int{30, 30, 30, 5} {
		end, n := run()
		if n != want || end != (i == 3) {
			t.Fatalf("run %d visited %d names (want %d), end of pass %v", i+1, n, want, end)
		}
	}
	if strings.Join(seen, ",") != strings.Join(all, ",") {
		t.Fatalf("one pass visited %d names, not each once", len(seen))
	}
	seen = nil
	if _, n := run(); n != 30 || seen[0] != all[0] {
		t.Fatalf("the next pass did not start over: %d names from %v", n, seen[:1])
	}
}

// A failing page is handed again by the next run.
func TestFailedPageIsRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := mem.New()
	for i := range 25 {
		st.WriteBlob(ctx, fmt.Sprintf("b/%03d", i), strings.NewReader("x"))
	}
	w := sweep.Walker{St: st, CursorKey: ".sweep/test", PageSize: 10, Pages: 3}
	pages := 0
	_, err := w.Run(ctx, func([]string) error {
		if pages++; pages == 2 {
			return fmt.Errorf("page 2 fails")
		}
		return nil
	})
	if err == nil {
		t.Fatal("error of fn lost")
	}
	var first string
	w.Run(ctx, func(names []string) error {
		if first == "" {
			first = names[0]
		}
		return nil
	})
	if first != "b/010" {
		t.Fatalf("retry starts at %q, want the failed page b/010", first)
	}
}
