package keyspace_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
)

// sweepingStore runs a sweep right after each blob write, the worst moment:
// the blob exists but its key does not reference it yet.
type sweepingStore struct {
	*mem.Store
	sweep func()
}

func (s *sweepingStore) WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error) {
	n, err := s.Store.WriteBlob(ctx, name, r)
	if err == nil && s.sweep != nil {
		s.sweep()
	}
	return n, err
}

var _ store.Store = (*sweepingStore)(nil)

func TestSweeperSparesUploadsInFlight(t *testing.T) {
	st := &sweepingStore{Store: mem.New()}
	svc := keyspace.New(actors.NewSystem(), st, keyspace.Config{InlineMax: 4, Clock: clock.NewFake(time.Now().Add(time.Hour)), Actors: actors.Config{IdleAfter: -1}})
	t.Cleanup(svc.Close)
	swept := 0
	st.sweep = func() {
		n, err := svc.SweepOrphans(context.Background(), 0)
		if err != nil {
			t.Error(err)
		}
		swept += n
	}
	l, err := svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"big":"state"}`
	if _, err := svc.Update(ctx(t), keyspace.UpdateRequest{Ref: ref, LeaseProof: proof(l), Body: strings.NewReader(body), Size: int64(len(body)), ETag: etag(body)}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Attach(ctx(t), keyspace.AttachRequest{Ref: ref, LeaseProof: proof(l), Name: "f", Body: strings.NewReader("data"), ExpectedBytes: -1}); err != nil {
		t.Fatal(err)
	}
	if swept != 0 {
		t.Fatalf("the sweeper took %d uploads in flight", swept)
	}
	if _, err := svc.Release(ctx(t), keyspace.ReleaseRequest{Ref: ref, LeaseProof: proof(l)}); err != nil {
		t.Fatal(err)
	}
	_, r, err := svc.OpenAttachment(ctx(t), ref, true, keyspace.LeaseProof{}, "f", "")
	if err != nil {
		t.Fatalf("attachment lost: %v", err)
	}
	r.Close()
}
