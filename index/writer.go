package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
)

// entry is the persisted index entry of a key: the version indexed and
// the terms its postings were written under.
type entry struct {
	Version  int64    `json:"v"`
	Terms    []string `json:"t,omitempty"`
	Overflow bool     `json:"o,omitempty"`
	// Gone marks a tombstone: the key has no indexed document since
	// Version. Only stores written by several processes keep tombstones
	// (multiwriter.go), so that a late writer of an older version cannot
	// bring the key's postings back.
	Gone bool `json:"g,omitempty"`
}

// docState is what the index should hold for a key.
type docState struct {
	version  int64
	present  bool // false: removed, hidden or without state
	terms    []string
	overflow bool
}

// opList is the store writes for one key.
type opList []store.Op

// commitState computes the wanted index state of a queued commit.
func (s *Service) commitState(ctx context.Context, it item) (docState, error) {
	ev := it.ev
	if ev.Removed || ev.Hidden || ev.View.NoState {
		return docState{version: ev.Version}, nil
	}
	raw := ev.Doc
	if raw == nil {
		var err error
		if raw, err = s.readView(ctx, ev.View); err != nil {
			return docState{}, err
		}
	}
	return s.docState(ev.Version, raw), nil
}

// docState is the index state of a document: its terms, sealed when the
// store is encrypted.
func (s *Service) docState(version int64, raw []byte) docState {
	d := stateOf(version, raw)
	d.terms = s.seal.terms(d.terms)
	return d
}

// stateOf flattens a document; a document that does not decode is kept
// as overflow (always a candidate, re-checked by the query).
func stateOf(version int64, raw []byte) docState {
	doc, err := decodeDoc(raw)
	if err != nil {
		return docState{version: version, present: true, overflow: true}
	}
	terms, overflow := flatten(doc)
	return docState{version: version, present: true, terms: terms, overflow: overflow}
}

func decodeDoc(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// readView reads a committed state whole, up to DocMax bytes.
func (s *Service) readView(ctx context.Context, v keyspace.View) ([]byte, error) {
	if v.Inline != nil {
		return v.Inline, nil
	}
	if v.Size > s.opt.DocMax {
		return nil, fmt.Errorf("%w: %d bytes", ErrDocumentTooLarge, v.Size)
	}
	r, err := s.src.OpenState(ctx, v)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, s.opt.DocMax+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read state: %w", ErrUnavailable, err)
	}
	if int64(len(b)) > s.opt.DocMax {
		return nil, fmt.Errorf("%w: over %d bytes", ErrDocumentTooLarge, s.opt.DocMax)
	}
	return b, nil
}

// readEntry returns key's index entry; ok is false when it has none.
func (s *Service) readEntry(ctx context.Context, ns, key string) (entry, bool, error) {
	e, _, ok, err := s.readEntryTag(ctx, ns, key)
	return e, ok, err
}

// readEntryTag is readEntry with the record's ETag, for conditional writes.
func (s *Service) readEntryTag(ctx context.Context, ns, key string) (entry, string, bool, error) {
	rec, err := s.st.Get(ctx, entryPrefix(ns)+key)
	if errors.Is(err, store.ErrNotFound) {
		return entry{}, "", false, nil
	}
	if err != nil {
		return entry{}, "", false, fmt.Errorf("%w: read entry: %w", ErrUnavailable, err)
	}
	var e entry
	if err := json.Unmarshal(rec.Value, &e); err != nil {
		// A torn entry is rewritten; its postings may leak but only
		// widen candidate sets.
		return entry{Version: -1}, rec.ETag, true, nil
	}
	return e, rec.ETag, true, nil
}

// diff reads key's entry and returns the writes that make the index hold
// want. A want older than the entry (a late commit event) changes
// nothing. On a store without atomic batches, which several processes
// may share, it writes the key's records itself, safely against the
// other writers (applyKey), and returns no writes.
func (s *Service) diff(ctx context.Context, ns, key string, want docState) (opList, error) {
	if s.batch == nil {
		return nil, s.applyKey(ctx, ns, key, want)
	}
	old, had, err := s.readEntry(ctx, ns, key)
	if err != nil {
		return nil, err
	}
	if had && want.version < old.Version {
		return nil, nil
	}
	return diffOps(ns, key, old, had, want), nil
}

// diffOps is the pure part of diff.
func diffOps(ns, key string, old entry, had bool, want docState) opList {
	if !had && !want.present {
		return nil
	}
	var ops opList
	keep := map[string]bool{}
	for _, t := range want.terms {
		keep[t] = true
	}
	oldTerms := map[string]bool{}
	for _, t := range old.Terms {
		oldTerms[t] = true
		if !keep[t] {
			ops = append(ops, store.Op{Key: postingKey(ns, t, key), Delete: true})
		}
	}
	for _, t := range want.terms {
		if !oldTerms[t] {
			ops = append(ops, store.Op{Key: postingKey(ns, t, key), Value: []byte{}})
		}
	}
	if want.overflow != old.Overflow || !want.present {
		ops = append(ops, store.Op{Key: overflowPrefix(ns) + key, Value: []byte{}, Delete: !want.present || !want.overflow})
	}
	if !want.present {
		return append(ops, store.Op{Key: entryPrefix(ns) + key, Delete: true})
	}
	b, _ := json.Marshal(entry{Version: want.version, Terms: want.terms, Overflow: want.overflow})
	return append(ops, store.Op{Key: entryPrefix(ns) + key, Value: b})
}

// write applies the ops of a batch and the namespace's meta in one atomic
// store batch when the store has them; otherwise one record at a time,
// entries last, so a crash leaves at worst extra postings (the meta stays
// "open" and the next start reconciles).
func (s *Service) write(ctx context.Context, ns string, lists []opList, seq uint64) error {
	var ops []store.Op
	for _, l := range lists {
		ops = append(ops, l...)
	}
	b, _ := json.Marshal(meta{State: "open", Seq: seq})
	ops = append(ops, store.Op{Key: s.metaKey(ns), Value: b})
	if s.batch != nil {
		_, _, err := s.batch.Apply(ctx, ops)
		if err != nil {
			return fmt.Errorf("%w: index batch: %w", ErrUnavailable, err)
		}
		return nil
	}
	for _, op := range ops {
		var err error
		if op.Delete {
			err = s.st.Delete(ctx, op.Key, store.Cond{})
		} else {
			_, err = s.st.Put(ctx, op.Key, op.Value, store.Cond{})
		}
		if err != nil {
			return fmt.Errorf("%w: index write: %w", ErrUnavailable, err)
		}
	}
	return nil
}
