package keyspace

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/xid"
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
// It returns how many blobs it deleted.
func (s *Service) SweepOrphans(ctx context.Context, grace time.Duration) (int, error) {
	cutoff := s.clock.Now().Add(-grace)
	deleted, after := 0, ""
	for {
		names, err := s.st.ListBlobs(ctx, "", after, 1000)
		if err != nil {
			return deleted, fmt.Errorf("keyspace: sweep list: %w", err)
		}
		if len(names) == 0 {
			return deleted, nil
		}
		after = names[len(names)-1]
		byKey := map[Ref][]string{}
		for _, n := range names {
			if ref, born, ok := blobRef(n); ok && born.Before(cutoff) {
				byKey[ref] = append(byKey[ref], n)
			}
		}
		for ref, cands := range byKey {
			v, err := s.call(ctx, ref, &opSweep{names: cands})
			if err != nil {
				return deleted, err
			}
			orphans := v.([]string)
			s.deleteBlobs(orphans)
			deleted += len(orphans)
		}
	}
}
