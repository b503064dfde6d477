package tc

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/store"
)

// ErrUnavailable wraps store failures of the TC records.
var ErrUnavailable = errors.New("tc: store unavailable")

// maxCASAttempts bounds a read-modify-write loop under contention.
const maxCASAttempts = 32

// edit is one step of a read-modify-write: given the current value (nil
// when absent) it returns the next value, or del to delete the record, or
// skip to write nothing.
type edit func(cur []byte) (next []byte, del, skip bool, err error)

// update applies fn to the record under key with conditional writes,
// rereading and retrying when another writer got there first.
func update(ctx context.Context, st store.Backend, key string, fn edit) error {
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		var cur []byte
		cond := store.Cond{IfNotExists: true}
		got, err := st.Get(ctx, key)
		switch {
		case err == nil:
			cur, cond = got.Value, store.Cond{IfMatch: got.ETag}
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("%w: read %s: %w", ErrUnavailable, key, err)
		}
		next, del, skip, err := fn(cur)
		if err != nil || skip {
			return err
		}
		switch {
		case del && cur == nil:
			return nil
		case del:
			err = st.Delete(ctx, key, cond)
		default:
			_, err = st.Put(ctx, key, next, cond)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: write %s: %w", ErrUnavailable, key, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: %s: too much contention", ErrUnavailable, key)
}

// list calls fn with every record under prefix.
func list(ctx context.Context, st store.Backend, prefix string, fn func(key string, val []byte)) error {
	after := ""
	for {
		keys, err := st.List(ctx, prefix, after, 500)
		if err != nil {
			return fmt.Errorf("%w: list %s: %w", ErrUnavailable, prefix, err)
		}
		if len(keys) == 0 {
			return nil
		}
		for _, k := range keys {
			got, err := st.Get(ctx, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%w: read %s: %w", ErrUnavailable, k, err)
			}
			fn(k, got.Value)
		}
		after = keys[len(keys)-1]
	}
}
