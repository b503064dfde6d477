package sweep

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/store"
)

// Defaults of a Walker.
const (
	DefaultPageSize = 1000
	DefaultPages    = 16
)

// Walker walks the blob names of St. Its zero fields take the defaults.
type Walker struct {
	St store.Store
	// CursorKey names the record that keeps the position between runs.
	CursorKey string
	// PageSize is how many names one listing returns; Pages how many
	// listings one Run makes at most.
	PageSize int
	Pages    int
}

// Run hands fn the next pages of blob names, at most w.Pages of them, and
// saves the position after each. It reports whether the walk reached the
// end of the listing (the next Run starts a new pass). An error of fn
// stops the run; the page is handed again next time.
func (w *Walker) Run(ctx context.Context, fn func(names []string) error) (bool, error) {
	size, pages := w.PageSize, w.Pages
	if size <= 0 {
		size = DefaultPageSize
	}
	if pages <= 0 {
		pages = DefaultPages
	}
	after, err := w.cursor(ctx)
	if err != nil {
		return false, err
	}
	for range pages {
		names, err := w.St.ListBlobs(ctx, "", after, size)
		if err != nil {
			return false, fmt.Errorf("sweep: list after %q: %w", after, err)
		}
		if len(names) > 0 {
			if err := fn(names); err != nil {
				return false, err
			}
			after = names[len(names)-1]
		}
		if len(names) < size {
			return true, w.save(ctx, "")
		}
		if err := w.save(ctx, after); err != nil {
			return false, err
		}
	}
	return false, nil
}

func (w *Walker) cursor(ctx context.Context) (string, error) {
	rec, err := w.St.Get(ctx, w.CursorKey)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sweep: read cursor %s: %w", w.CursorKey, err)
	}
	return string(rec.Value), nil
}

func (w *Walker) save(ctx context.Context, after string) error {
	if _, err := w.St.Put(ctx, w.CursorKey, []byte(after), store.Cond{}); err != nil {
		return fmt.Errorf("sweep: save cursor %s: %w", w.CursorKey, err)
	}
	return nil
}
