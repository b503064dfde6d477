package index

import (
	"context"
	"errors"
	"strings"

	"github.com/lockdhq/lockd/keyspace"
)

// reconcileChunk bounds the documents compared in one reconcile step.
const reconcileChunk = 256

var errChunkFull = errors.New("index: chunk full")

// reconcileStep advances one namespace's reconcile pass by a chunk and
// reports whether there was work. A pass walks the committed records and
// the index entries in key order together, re-indexing the keys whose
// version differs and dropping entries of keys without published state,
// so it costs one read per key and writes only what changed.
func (s *Service) reconcileStep() bool {
	ns, after, ok := s.nextReconcile()
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), indexerTimeout)
	defer cancel()
	next, done, err := s.reconcileChunk(ctx, ns, after)
	var orphans map[string]string
	defer func() { s.dropOrphans(orphans) }() // after the unlock below
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.spaceLocked(ns)
	switch {
	case err != nil:
		s.log.Warn().Err(err).Str("namespace", ns).Msg("index: reconcile step failed; retrying")
		sp.stale = true // restart the pass
	case sp.stale:
		// A commit was dropped during the pass: nextReconcile restarts it.
	case done:
		orphans, sp.orphans = sp.orphans, nil
		s.passes.Add(1)
		sp.reconciling, sp.building = false, false
		for _, w := range sp.waiters {
			close(w)
		}
		sp.waiters = nil
	default:
		sp.recAfter = next
	}
	return err == nil
}

// nextReconcile picks a namespace with reconcile work, (re)starting its
// pass when it was marked stale.
func (s *Service) nextReconcile() (string, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return "", "", false
	}
	for ns, sp := range s.spaces {
		if sp.stale {
			sp.stale, sp.reconciling, sp.recAfter = false, true, ""
		}
		if sp.reconciling {
			return ns, sp.recAfter, true
		}
	}
	return "", "", false
}

// reconcileChunk reconciles the keys after `after` up to the chunk's last
// document; done reports that the namespace's end was reached.
func (s *Service) reconcileChunk(ctx context.Context, ns, after string) (string, bool, error) {
	var docs []keyspace.Document
	err := s.src.Scan(ctx, ns, after, func(d keyspace.Document) error {
		docs = append(docs, d)
		if len(docs) == reconcileChunk {
			return errChunkFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errChunkFull) {
		return "", false, err
	}
	done := err == nil
	upTo := ""
	if !done {
		upTo = docs[len(docs)-1].Key
	}
	live := map[string]bool{}
	var ops []opList
	for _, d := range docs {
		live[d.Key] = true
		op, err := s.reconcileDoc(ctx, ns, d)
		if err != nil {
			return "", false, err
		}
		ops = append(ops, op)
	}
	gone, stop, err := s.entriesWithout(ctx, ns, after, upTo, live)
	if err != nil {
		return "", false, err
	}
	if stop != "" {
		// Too many dead entries for one step: resume after the last one
		// (documents past it are re-checked, which is idempotent).
		upTo, done = stop, false
	}
	for _, key := range gone {
		if s.batch == nil {
			if err := s.dropKey(ctx, ns, key); err != nil {
				return "", false, err
			}
			continue
		}
		op, err := s.diff(ctx, ns, key, docState{version: 1<<63 - 1})
		if err != nil {
			return "", false, err
		}
		ops = append(ops, op)
	}
	s.mu.Lock()
	seq := s.spaceLocked(ns).seq
	s.mu.Unlock()
	if err := s.write(ctx, ns, ops, seq); err != nil {
		return "", false, err
	}
	return upTo, done, nil
}

// reconcileDoc returns the writes that bring one document's entry up to
// date; a current entry costs a read and nothing else.
func (s *Service) reconcileDoc(ctx context.Context, ns string, d keyspace.Document) (opList, error) {
	old, had, err := s.readEntry(ctx, ns, d.Key)
	if err != nil {
		return nil, err
	}
	present := had && !old.Gone
	visible := !d.Hidden && !d.View.NoState
	if present == visible && (!present || old.Version == d.Version) {
		return nil, nil
	}
	want := docState{version: d.Version}
	if visible {
		raw, err := s.readView(ctx, d.View)
		if err != nil {
			return nil, err
		}
		want = s.docState(d.Version, raw)
	}
	if s.batch == nil {
		return nil, s.applyKey(ctx, ns, d.Key, want)
	}
	return diffOps(ns, d.Key, old, had, want), nil
}

// entriesWithout lists the keys in (after, upTo] ("" = to the end) that
// have an index entry but are not in live. It stops early at stop (the
// last key returned) once it has collected a chunk's worth.
func (s *Service) entriesWithout(ctx context.Context, ns, after, upTo string, live map[string]bool) (gone []string, stop string, err error) {
	prefix := entryPrefix(ns)
	cursor := ""
	if after != "" {
		cursor = prefix + after
	}
	for {
		keys, err := s.st.List(ctx, prefix, cursor, 512)
		if err != nil {
			return nil, "", err
		}
		for _, k := range keys {
			key := strings.TrimPrefix(k, prefix)
			if upTo != "" && key > upTo {
				return gone, "", nil
			}
			if !live[key] {
				gone = append(gone, key)
				if len(gone) == 4*reconcileChunk {
					return gone, key, nil
				}
			}
		}
		if len(keys) < 512 {
			return gone, "", nil
		}
		cursor = keys[len(keys)-1]
	}
}
