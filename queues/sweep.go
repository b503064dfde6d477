package queues

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lockdhq/lockd/internal/sweep"
)

// opOrphans asks a queue which of the payload blobs names it no longer
// references (in either lane).
type opOrphans struct{ names []string }

func (a *queueActor) orphans(req *request, op *opOrphans) {
	live := map[string]bool{}
	for _, l := range []*lane{a.core.main, a.core.dlq} {
		for _, e := range l.msgs {
			if e.rec.Blob != "" {
				live[e.rec.Blob] = true
			}
		}
	}
	var out []string
	for _, n := range op.names {
		if !live[n] {
			out = append(out, n)
		}
	}
	req.Answer(out, nil, a.last)
}

// payloadRef parses a payload blob name "<ns>/q/<queue>:p/<id>" and returns
// its queue and when its message id was minted.
func payloadRef(name string) (Ref, time.Time, bool) {
	ns, rest, ok := strings.Cut(name, "/")
	if !ok || !strings.HasPrefix(rest, "q/") {
		return Ref{}, time.Time{}, false
	}
	i := strings.LastIndex(rest, ":p/")
	if i < 2 {
		return Ref{}, time.Time{}, false
	}
	u, err := uuid.Parse(rest[i+3:])
	if err != nil || u.Version() != 7 {
		return Ref{}, time.Time{}, false
	}
	sec, nsec := u.Time().UnixTime()
	return Ref{Namespace: ns, Queue: rest[2:i]}, time.Unix(sec, nsec), true
}

// SweepOrphans deletes payload blobs that no message references: blobs of
// enqueues that crashed (or were refused) between writing the payload and
// its record. Blobs younger than grace are left alone, since their enqueue
// may still be on its way to the queue. One call is one bounded run
// (Config.SweepPages pages of the blob listing) that continues where the
// previous run stopped, from a cursor kept in the store. It returns how
// many it deleted.
func (s *Service) SweepOrphans(ctx context.Context, grace time.Duration) (int, error) {
	cutoff := s.clock.Now().Add(-grace)
	w := sweep.Walker{St: s.st, CursorKey: sweepCursorKey, PageSize: s.cfg.SweepPageSize, Pages: s.cfg.SweepPages}
	deleted := 0
	_, err := w.Run(ctx, func(names []string) error {
		byQueue := map[Ref][]string{}
		for _, n := range names {
			if ref, born, ok := payloadRef(n); ok && born.Before(cutoff) {
				byQueue[ref] = append(byQueue[ref], n)
			}
		}
		for ref, cands := range byQueue {
			v, err := s.call(ctx, ref, &opOrphans{names: cands})
			if err != nil {
				return err
			}
			for _, n := range v.([]string) {
				if err := s.st.DeleteBlob(ctx, n); err == nil {
					deleted++
				}
			}
		}
		return nil
	})
	if err != nil {
		return deleted, fmt.Errorf("queues: sweep: %w", err)
	}
	return deleted, nil
}

// sweepCursorKey is the record that keeps the sweeper's position.
const sweepCursorKey = ".sweep/queues"
