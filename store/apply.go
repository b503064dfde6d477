package store

import (
	"context"
	"fmt"
)

// Apply writes ops through the driver's Batcher when it has one. Otherwise
// it performs them one by one, in order, each durable before the next
// starts; a failure stops the sequence and earlier ops stay applied, so
// callers order ops such that every prefix is a consistent state (blobs
// before the record that points at them, deletes of old blobs last).
func Apply(ctx context.Context, b Backend, ops []Op) ([]string, Durable, error) {
	if bb, ok := b.(Batcher); ok {
		return bb.Apply(ctx, ops)
	}
	etags := make([]string, len(ops))
	for i, op := range ops {
		if op.Delete {
			if err := b.Delete(ctx, op.Key, op.Cond); err != nil {
				return nil, nil, fmt.Errorf("op %d delete %q: %w", i, op.Key, err)
			}
			continue
		}
		tag, err := b.Put(ctx, op.Key, op.Value, op.Cond)
		if err != nil {
			return nil, nil, fmt.Errorf("op %d put %q: %w", i, op.Key, err)
		}
		etags[i] = tag
	}
	return etags, Done, nil
}
