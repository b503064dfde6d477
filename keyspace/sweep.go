package keyspace

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/xid"

	"github.com/lockdhq/lockd/internal/sweep"
)

// opSweep asks a key which of names its record no longer references. The
// key first settles an expired lease, so staged blobs of a dead holder are
// released too.
type opSweep struct{ names []string }

func (a *keyActor) sweep(now time.Time, req *request, op *opSweep) {
	a.settle(now)
	live := map[string]bool{}
	for _, b := range a.rec.blobs() {
		live[b] = true
	}
	for b := range a.pending {
		live[b] = true
	}
	var orphans []string
	for _, n := range op.names {
		if !live[n] {
			orphans = append(orphans, n)
		}
	}
	req.Answer(orphans, nil, a.last)
}

// blobRef parses a state or attachment blob name: "<ns>/s/<key>:<id>" or
// "<ns>/a/<key>:<id>". It returns the key and when the blob was created.
func blobRef(name string) (Ref, time.Time, bool) {
	ns, rest, ok := strings.Cut(name, "/")
	if !ok || len(rest) < 3 || (rest[:2] != "s/" && rest[:2] != "a/") {
		return Ref{}, time.Time{}, false
	}
	key, id, ok := strings.Cut(rest[2:], ":")
	if !ok {
		return Ref{}, time.Time{}, false
	}
	if x, err := xid.FromString(id); err == nil {
		return Ref{Namespace: ns, Key: key}, x.Time(), true
	}
	if u, err := uuid.Parse(id); err == nil && u.Version() == 7 {
		sec, nsec := u.Time().UnixTime()
		return Ref{Namespace: ns, Key: key}, time.Unix(sec, nsec), true
	}
	return Ref{}, time.Time{}, false
}

// SweepOrphans deletes state and attachment blobs no key references: blobs
// of uploads that crashed between writing the blob and recording it, and
// staged blobs of leases that expired while their key slept. Blobs younger
// than grace are left alone (an upload may still be on its way to its key).
//
// One call is one bounded run (Config.SweepPages pages of the blob
// listing) that continues where the previous run stopped, from a cursor
// kept in the store; a full pass takes as many runs as it needs. A key
// whose durable record references every candidate blob under a lease that
// has not expired is not woken: only keys that may own an orphan are
// asked. It returns how many blobs it deleted.
func (s *Service) SweepOrphans(ctx context.Context, grace time.Duration) (int, error) {
	cutoff := s.clock.Now().Add(-grace)
	w := sweep.Walker{St: s.st, CursorKey: sweepCursorKey, PageSize: s.cfg.SweepPageSize, Pages: s.cfg.SweepPages}
	deleted := 0
	_, err := w.Run(ctx, func(names []string) error {
		byKey := map[Ref][]string{}
		for _, n := range names {
			if ref, born, ok := blobRef(n); ok && born.Before(cutoff) {
				byKey[ref] = append(byKey[ref], n)
			}
		}
		for ref, cands := range byKey {
			if s.referencedDurably(ctx, ref, cands) {
				continue
			}
			v, err := s.call(ctx, ref, &opSweep{names: cands})
			if err != nil {
				return err
			}
			orphans := v.([]string)
			s.deleteBlobs(orphans)
			deleted += len(orphans)
		}
		return nil
	})
	if err != nil {
		return deleted, fmt.Errorf("keyspace: sweep: %w", err)
	}
	return deleted, nil
}

// sweepCursorKey is the record that keeps the sweeper's position.
const sweepCursorKey = ".sweep/keyspace"

// referencedDurably reports whether ref's durable record references every
// name under a lease that has not expired, so none can be an orphan and
// the key need not be woken. Any doubt (no record, a record that does not
// decode, an expired lease to settle, a name it does not reference) is
// false: the key's actor decides.
func (s *Service) referencedDurably(ctx context.Context, ref Ref, names []string) bool {
	got, err := s.st.Get(ctx, RecordKey(ref))
	if err != nil {
		return false
	}
	r, err := decodeRecord(got.Value)
	if err != nil || r.expired(s.clock.Now()) {
		return false
	}
	live := map[string]bool{}
	for _, b := range r.blobs() {
		live[b] = true
	}
	for _, n := range names {
		if !live[n] {
			return false
		}
	}
	return true
}
