package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/lockdhq/lockd/store"
)

// Several writers. On a store without atomic batches (S3, Azure) several
// lockd processes may share the index: a key's owner indexes its commits,
// but during an ownership move the old owner may still be indexing the
// key while the new one commits it, and any node's reconcile pass touches
// every key of a namespace. Records are written so that no interleaving
// of such writers loses a posting the key's newest indexed version needs:
//
//   - A posting's value is the version it was written for; a new version
//     writes the postings of its terms first (unconditionally: an extra
//     posting only widens candidate sets, and every candidate is re-checked
//     against the committed document).
//   - The entry is then replaced conditionally on the ETag read, and only
//     by a newer version (or the same version with other terms); on a
//     conflict the writer reads it again and starts over. Entries are
//     never deleted for a key that still has a record: a removed or hidden
//     document leaves a tombstone (Gone) carrying its version.
//   - Only the writer whose entry write succeeded deletes the postings of
//     the terms it dropped, and each delete is conditional: the posting is
//     read, kept when it was written for a newer version, and deleted only
//     if its ETag is still the one read. A newer writer that needs the
//     posting has either written it already (newer value, or a changed
//     ETag) or writes it after the delete.
//
// So every term of the newest entry has its posting, whatever the order
// in which writers run; a writer that loses a race leaves at most extra
// postings behind.

// maxEntryRetries bounds the conditional entry writes of one key update.
const maxEntryRetries = 8

// errEntryContended is returned when a key's entry kept changing.
var errEntryContended = errors.New("index: entry changed under every retry")

// applyKey makes the index hold want for key (see above).
func (s *Service) applyKey(ctx context.Context, ns, key string, want docState) error {
	ver := []byte(strconv.FormatInt(want.version, 10))
	for range maxEntryRetries {
		old, tag, had, err := s.readEntryTag(ctx, ns, key)
		if err != nil {
			return err
		}
		oldPresent := had && !old.Gone
		if had && (want.version < old.Version || (want.version == old.Version && oldPresent == want.present &&
			old.Overflow == want.overflow && slices.Equal(old.Terms, want.terms))) {
			return nil // as new or newer already
		}
		if !had && !want.present {
			return nil // nothing indexed, nothing to index
		}
		var oldTerms []string
		if oldPresent {
			oldTerms = old.Terms
		}
		for _, t := range missing(want.terms, oldTerms) {
			if _, err := s.st.Put(ctx, postingKey(ns, t, key), ver, store.Cond{}); err != nil {
				return fmt.Errorf("%w: index posting: %v", ErrUnavailable, err)
			}
		}
		if want.present && want.overflow && !(oldPresent && old.Overflow) {
			if _, err := s.st.Put(ctx, overflowPrefix(ns)+key, ver, store.Cond{}); err != nil {
				return fmt.Errorf("%w: index overflow: %v", ErrUnavailable, err)
			}
		}
		next := entry{Version: want.version, Terms: want.terms, Overflow: want.overflow, Gone: !want.present}
		if !want.present {
			next.Terms, next.Overflow = nil, false
		}
		b, _ := json.Marshal(next)
		cond := store.Cond{IfMatch: tag, IfNotExists: !had}
		if _, err := s.st.Put(ctx, entryPrefix(ns)+key, b, cond); errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			continue // another writer got there first: look again
		} else if err != nil {
			return fmt.Errorf("%w: index entry: %v", ErrUnavailable, err)
		}
		for _, t := range missing(oldTerms, next.Terms) {
			if err := s.dropIfNotNewer(ctx, postingKey(ns, t, key), want.version); err != nil {
				return err
			}
		}
		if oldPresent && old.Overflow && !next.Overflow {
			if err := s.dropIfNotNewer(ctx, overflowPrefix(ns)+key, want.version); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s/%s", errEntryContended, ns, key)
}

// dropKey removes the index records of a key that has no record any more
// (a reconcile found its entry alone): the entry goes conditionally, then
// the postings it lists that no newer writer rewrote.
func (s *Service) dropKey(ctx context.Context, ns, key string) error {
	old, tag, had, err := s.readEntryTag(ctx, ns, key)
	if err != nil || !had {
		return err
	}
	if err := s.st.Delete(ctx, entryPrefix(ns)+key, store.Cond{IfMatch: tag}); errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return nil // rewritten meanwhile: the key is back
	} else if err != nil {
		return fmt.Errorf("%w: index entry: %v", ErrUnavailable, err)
	}
	if old.Gone {
		return nil
	}
	for _, t := range old.Terms {
		if err := s.dropIfNotNewer(ctx, postingKey(ns, t, key), old.Version); err != nil {
			return err
		}
	}
	if old.Overflow {
		return s.dropIfNotNewer(ctx, overflowPrefix(ns)+key, old.Version)
	}
	return nil
}

// dropIfNotNewer deletes the record k unless it was written for a version
// newer than v, conditionally on the ETag it was read with. Records of
// earlier builds (empty values) count as version 0.
func (s *Service) dropIfNotNewer(ctx context.Context, k string, v int64) error {
	rec, err := s.st.Get(ctx, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: read posting: %v", ErrUnavailable, err)
	}
	if pv, _ := strconv.ParseInt(string(rec.Value), 10, 64); pv > v {
		return nil
	}
	err = s.st.Delete(ctx, k, store.Cond{IfMatch: rec.ETag})
	if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("%w: delete posting: %v", ErrUnavailable, err)
}

// missing returns the terms of a that are not in b.
func missing(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, t := range b {
		in[t] = true
	}
	var out []string
	for _, t := range a {
		if !in[t] {
			out = append(out, t)
		}
	}
	return out
}
