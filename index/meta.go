package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lockdhq/lockd/store"
)

// Meta records with several writers. Each process that maintains a
// store's index (Options.Writer) keeps its own meta record per namespace,
// <ns>/x/meta/<writer>: "open" while it runs, "clean" once it closed with
// every commit indexed. No writer overwrites another's. A namespace with
// no meta record at all was never indexed (dormant). A writer that
// departed is adopted by one of the others (Recover): a "clean" record is
// deleted, an "open" one (it may have died with commits not yet indexed)
// makes the adopter reconcile the namespace and is deleted, conditionally
// on the ETag it was seen with, once that pass completed.

// metaKey is this process's meta record of ns.
func (s *Service) metaKey(ns string) string {
	if s.opt.Writer == "" {
		return metaKey(ns)
	}
	return metaKey(ns) + "/" + s.opt.Writer
}

// metaRecord is one writer's meta record as listed.
type metaRecord struct {
	key, writer string
}

// metas lists the meta records of ns: the single-writer record (writer
// "") and every writer's.
func (s *Service) metas(ctx context.Context, ns string) ([]metaRecord, error) {
	prefix := metaKey(ns)
	var out []metaRecord
	after := ""
	for {
		keys, err := s.st.List(ctx, prefix, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("%w: list meta of %s: %v", ErrUnavailable, ns, err)
		}
		for _, k := range keys {
			rest := k[len(prefix):]
			switch {
			case rest == "":
				out = append(out, metaRecord{key: k})
			case strings.HasPrefix(rest, "/"):
				out = append(out, metaRecord{key: k, writer: rest[1:]})
			}
		}
		if len(keys) < 1000 {
			return out, nil
		}
		after = keys[len(keys)-1]
	}
}

// openShared starts maintaining ns as one writer among several: dormant
// when nobody ever indexed it, else open (its own record says so) and up
// to date unless Recover finds a departed writer's open record.
func (s *Service) openShared(ctx context.Context, ns string) error {
	recs, err := s.metas(ctx, ns)
	if err != nil {
		return err
	}
	sp := &space{dormant: len(recs) == 0}
	if !sp.dormant {
		b, _ := json.Marshal(meta{State: "open"})
		if _, err := s.st.Put(ctx, s.metaKey(ns), b, store.Cond{}); err != nil {
			return fmt.Errorf("%w: open %s: %v", ErrUnavailable, ns, err)
		}
	}
	s.mu.Lock()
	s.spaces[ns] = sp
	s.mu.Unlock()
	s.signal()
	return nil
}

// Recover adopts the meta records of departed writers: for each namespace
// this process maintains and each record of a writer for which adopt
// returns true (it departed, and this process is the one to take over
// for it), a clean record is deleted and an open one makes this process
// reconcile the namespace, then delete the record. Call it once this
// process knows its peers and again whenever one departs. It does nothing
// for a single writer (Options.Writer empty).
func (s *Service) Recover(ctx context.Context, adopt func(writer string) bool) error {
	if s.opt.Writer == "" || s.opt.Disabled {
		return nil
	}
	s.mu.Lock()
	var nss []string
	for ns, sp := range s.spaces {
		if !sp.dormant {
			nss = append(nss, ns)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, ns := range nss {
		errs = append(errs, s.recoverNamespace(ctx, ns, adopt))
	}
	return errors.Join(errs...)
}

func (s *Service) recoverNamespace(ctx context.Context, ns string, adopt func(string) bool) error {
	recs, err := s.metas(ctx, ns)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.writer == s.opt.Writer || !adopt(r.writer) {
			continue
		}
		rec, err := s.st.Get(ctx, r.key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: read meta %s: %v", ErrUnavailable, r.key, err)
		}
		var m meta
		if json.Unmarshal(rec.Value, &m) == nil && m.State == "clean" {
			if err := s.st.Delete(ctx, r.key, store.Cond{IfMatch: rec.ETag}); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: delete meta %s: %v", ErrUnavailable, r.key, err)
			}
			continue
		}
		s.log.Info().Str("namespace", ns).Str("writer", r.writer).Msg("index: a departed node may have left commits unindexed; reconciling")
		s.mu.Lock()
		sp := s.spaceLocked(ns)
		sp.stale = true
		if sp.orphans == nil {
			sp.orphans = map[string]string{}
		}
		sp.orphans[r.key] = rec.ETag
		s.mu.Unlock()
		s.signal()
	}
	return nil
}

// dropOrphans deletes the adopted records whose namespace was reconciled.
func (s *Service) dropOrphans(orphans map[string]string) {
	if len(orphans) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), indexerTimeout)
	defer cancel()
	for k, tag := range orphans {
		if err := s.st.Delete(ctx, k, store.Cond{IfMatch: tag}); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn().Err(err).Str("record", k).Msg("index: could not delete an adopted meta record; the next pass retries")
		}
	}
}
