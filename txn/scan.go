package txn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/lockdhq/lockd/store"
)

// scanPage is how many record keys one List call returns.
const scanPage = 500

// cursor is where a bounded scan over the records stopped. The replay loop
// and the sweeper each keep one: their rounds are bounded in time (a
// context deadline), and with more records than one round reads, a round
// that started from the beginning every time would never reach the
// records past the bound.
type cursor struct {
	mu    sync.Mutex
	after string // the last record key visited ("" = the beginning)
}

func (c *cursor) get() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.after
}

func (c *cursor) set(k string) {
	c.mu.Lock()
	c.after = k
	c.mu.Unlock()
}

// each calls fn for every coordinator record, from the beginning.
func (s *Service) each(ctx context.Context, fn func(string, record)) error {
	_, err := s.scanRange(ctx, "", "", fn)
	return err
}

// eachFrom is a round of a bounded scan: it calls fn for every record,
// starting after c's key and wrapping around to the beginning, up to
// where it started. When ctx ends first it stops, leaving c on the last
// record visited, so the next round goes on from there; a whole round
// leaves c where it was.
func (s *Service) eachFrom(ctx context.Context, c *cursor, fn func(string, record)) error {
	start := c.get()
	last, err := s.scanRange(ctx, start, "", fn)
	if err == nil && start != "" {
		// Wrapped around: the records up to the start, inclusive.
		last, err = s.scanRange(ctx, "", start, fn)
	}
	if err != nil && last != "" {
		c.set(last)
	}
	return err
}

// scanRange calls fn for every record key in (after, upto] (upto "" = to
// the end) and returns the last key visited. Each store call is bounded
// by FanoutTimeout as well as ctx. It stops at the first
// listing failure or when ctx ends.
func (s *Service) scanRange(ctx context.Context, after, upto string, fn func(string, record)) (string, error) {
	last := ""
	for {
		lctx, cancel := context.WithTimeout(ctx, s.cfg.FanoutTimeout)
		keys, err := s.st.List(lctx, recordPrefix, after, scanPage)
		cancel()
		if err != nil {
			return last, fmt.Errorf("%w: list: %w", ErrUnavailable, err)
		}
		if len(keys) == 0 {
			return last, nil
		}
		for _, k := range keys {
			if upto != "" && k > upto {
				return last, nil
			}
			if err := ctx.Err(); err != nil {
				return last, fmt.Errorf("%w: scan stopped before %s: %w", ErrUnavailable, k, err)
			}
			if err := s.visit(ctx, k, fn); err != nil {
				return last, err
			}
			last = k
		}
		after = keys[len(keys)-1]
	}
}

// visit reads record k and passes it to fn; an unreadable record is
// logged and skipped (the next round reads it again). It fails only when
// ctx ended before k was read.
func (s *Service) visit(ctx context.Context, k string, fn func(string, record)) error {
	gctx, cancel := context.WithTimeout(ctx, s.cfg.FanoutTimeout)
	got, err := s.st.Get(gctx, k)
	cancel()
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted since the listing
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: scan stopped at %s: %w", ErrUnavailable, k, cerr)
		}
		s.log.Warn().Err(err).Str("key", k).Msg("reading a transaction record failed; the next round retries it")
		return nil
	}
	rec, err := decodeRecord(got.Value)
	if err != nil {
		s.log.Error().Err(err).Str("key", k).Bool("corrupt", true).
			Msg("CORRUPT TRANSACTION RECORD: it is never replayed until repaired or removed")
		return nil
	}
	fn(strings.TrimPrefix(k, recordPrefix), rec)
	return nil
}
