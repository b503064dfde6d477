package index

import (
	"context"
	"errors"

	"github.com/lockdhq/lockd/keyspace"
)

// scanQuery is the scan engine: it walks the namespace's committed
// records in key order after qq.after and checks each document. It
// returns the last emitted key when the page filled up.
func (s *Service) scanQuery(ctx context.Context, qq *q, emit func(Hit) error) (string, error) {
	n, last := 0, ""
	err := s.src.Scan(ctx, qq.ns, qq.after, func(d keyspace.Document) error {
		if d.Hidden || d.View.NoState {
			return nil
		}
		h, ok, err := s.check(ctx, qq, d.Ref, d.View)
		if err != nil || !ok {
			return err
		}
		if err := emit(h); err != nil {
			return err
		}
		if n++; n == qq.limit {
			last = d.Key
			return errPageFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return "", err
	}
	return last, nil
}
