package index

import (
	"context"
	"fmt"
	"strings"

	"github.com/lockdhq/lockd/keyspace"
)

const (
	// estimateCap bounds the postings counted to cost a plan; an auto
	// query whose plan reaches it is broad and goes to the scan engine,
	// which finds a page of common matches sooner.
	estimateCap = 4096
	// listPage is the store listing page size.
	listPage = 1000
	// maxWindow bounds the candidate keys a secondary query holds.
	maxWindow = 8192
	// maxRounds bounds the candidate windows one page examines; a page
	// that needs more ends early with a cursor after the last key
	// examined, so pagination neither skips nor repeats keys.
	maxRounds = 64
)

// planQuery compiles the selector into a plan (nil: not answerable by
// the index) and, for auto queries, reports a plan too broad to beat a
// scan.
func (s *Service) planQuery(ctx context.Context, qq *q, forced bool) (plan, bool) {
	root := qq.sel.Root()
	if root == nil {
		return nil, false
	}
	est := func(p plan) int { return s.estimate(ctx, qq.ns, p) }
	p := planFor(root, est, s.seal)
	if p == nil || forced {
		return p, false
	}
	return p, est(p) >= estimateCap
}

// estimate counts a plan's postings, up to estimateCap.
func (s *Service) estimate(ctx context.Context, ns string, p plan) int {
	n := 0
	for _, lk := range p {
		err := s.eachKey(ctx, postingPrefix(ns)+lk.prefix, lk, "", func(string) bool {
			n++
			return n < estimateCap
		})
		if err != nil || n >= estimateCap {
			return estimateCap
		}
	}
	return n
}

// eachKey lists the keys of a lookup under prefix, calling fn until it
// returns false. Exact lookups list keys in order and skip to after.
func (s *Service) eachKey(ctx context.Context, prefix string, lk lookup, after string, fn func(string) bool) error {
	cursor := ""
	switch {
	case lk.exact && after != "":
		cursor = prefix + after
	case !lk.exact && lk.from != "":
		cursor = prefix + lk.from
	}
	for {
		keys, err := s.st.List(ctx, prefix, cursor, listPage)
		if err != nil {
			return fmt.Errorf("%w: list postings: %w", ErrUnavailable, err)
		}
		for _, k := range keys {
			rest := k[len(prefix):]
			if !lk.exact {
				val, key, _ := strings.Cut(rest, "/")
				if lk.hasHi && val > lk.hi {
					return nil
				}
				if lk.nonNull && val == string(tagNull) {
					continue
				}
				rest = key
			}
			if !fn(rest) {
				return nil
			}
		}
		if len(keys) < listPage {
			return nil
		}
		cursor = keys[len(keys)-1]
	}
}

// window returns, sorted, the smallest w candidate keys after `after`,
// and whether candidates beyond them may exist.
func (s *Service) window(ctx context.Context, ns string, p plan, after string, w int) ([]string, bool, error) {
	h := newKeyWindow(w, after)
	for _, lk := range p {
		if err := s.eachKey(ctx, postingPrefix(ns)+lk.prefix, lk, after, func(k string) bool {
			return h.offer(k) || !lk.exact
		}); err != nil {
			return nil, false, err
		}
	}
	// Documents past the index limits are always candidates.
	over := lookup{exact: true}
	if err := s.eachKey(ctx, overflowPrefix(ns), over, after, h.offer); err != nil {
		return nil, false, err
	}
	return h.sorted(), h.dropped, nil
}

// secondaryQuery is the index engine: candidate windows in key order,
// each candidate re-checked against its published document.
func (s *Service) secondaryQuery(ctx context.Context, qq *q, p plan, emit func(Hit) error) (string, error) {
	after, n, w := qq.after, 0, qq.limit
	for round := 0; round < maxRounds; round++ {
		keys, more, err := s.window(ctx, qq.ns, p, after, w)
		if err != nil {
			return "", err
		}
		for _, key := range keys {
			ok, err := s.verify(ctx, qq, key, emit)
			if err != nil {
				return "", err
			}
			if ok {
				if n++; n == qq.limit {
					return key, nil
				}
			}
		}
		if !more || len(keys) == 0 {
			return "", nil
		}
		after, w = keys[len(keys)-1], min(2*w, maxWindow)
	}
	return after, nil
}

// verify reads a candidate's published state and emits it if it matches.
func (s *Service) verify(ctx context.Context, qq *q, key string, emit func(Hit) error) (bool, error) {
	ref := keyspace.Ref{Namespace: qq.ns, Key: key}
	v, err := s.src.ReadCommitted(ctx, ref)
	if err != nil {
		return false, err
	}
	if v.NoState || v.Hidden {
		return false, nil
	}
	h, ok, err := s.check(ctx, qq, ref, v)
	if err != nil || !ok {
		return false, err
	}
	return true, emit(h)
}
