package keyspace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/xid"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/internal/domainerr"
	"github.com/lockdhq/lockd/store"
)

// Config configures the key service.
type Config struct {
	// DefaultTTL applies when a request gives none (default 30s); MaxTTL
	// caps requested TTLs (default 30m).
	DefaultTTL time.Duration
	MaxTTL     time.Duration
	// InlineMax is the largest state kept inside the key's record (and in
	// the actor's memory); larger states are blobs (default 64 KiB).
	InlineMax int64
	// AttachmentMax caps one attachment's size (default 1 TiB).
	AttachmentMax int64
	// Actors configures the registry (shards, idle passivation).
	Actors actors.Config
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// SweepPageSize and SweepPages bound one SweepOrphans run: that many
	// pages of that many blob names (defaults 1000 and 16).
	SweepPageSize int
	SweepPages    int

	testHook func(Ref, any)
}

// Service is the entry point to key actors. It is safe for concurrent use.
type Service struct {
	st       store.Store
	cfg      Config
	clock    clock.Clock
	reg      *actors.Registry
	draining atomic.Bool
	observer Observer
	coord    Coordinator
	local    bool         // the store has atomic batches (pebble, memory)
	origins  *originTable // minted txn id -> the key that minted it, while its lease lives
	public   sync.Map     // actor id -> *pubSlot (see published.go)
	caller   actors.Caller
}

// New starts the key service on system over st.
func New(system *actor.ActorSystem, st store.Store, cfg Config) *Service {
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = 30 * time.Second
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = 30 * time.Minute
	}
	if cfg.InlineMax <= 0 {
		cfg.InlineMax = 64 << 10
	}
	if cfg.AttachmentMax <= 0 {
		cfg.AttachmentMax = 1 << 40
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	cfg.Actors.Clock = cfg.Clock
	s := &Service{st: st, cfg: cfg, clock: cfg.Clock, origins: newOriginTable()}
	cfg.Actors.OnTick = func() { s.origins.prune(s.clock.Now()) }
	_, s.local = st.(store.Batcher)
	s.reg = actors.NewRegistry(system, func(id string) actor.Actor {
		ref := parseID(id)
		return &keyActor{svc: s, ref: ref, id: id, recKey: RecordKey(ref)}
	}, cfg.Actors)
	// A key actor's handlers wait on its store only for a local engine's
	// apply (pebble, memory): callers may run it on their goroutine.
	s.caller = actors.Caller{Registry: s.reg, Unavailable: ErrUnavailable, Abandon: s.abandon, Inline: s.local}
	return s
}

// RecordKey is the store record of a key.
func RecordKey(r Ref) string { return r.Namespace + "/k/" + r.Key }

func blobPrefix(r Ref) string { return r.Namespace + "/s/" + r.Key + ":" }

func actorID(r Ref) string { return r.Namespace + "\x00" + r.Key }

func parseID(id string) Ref {
	i := bytes.IndexByte([]byte(id), 0)
	return Ref{Namespace: id[:i], Key: id[i+1:]}
}

// Handoff makes the actors of keys another node owns now leave memory once
// their in-flight requests are answered; blocked acquirers get ErrMoved.
// The new owner loads the key from the store; conditional writes fence out
// anything this node still has in flight (see actors.Registry.Handoff).
func (s *Service) Handoff(moved func(Ref) bool) {
	s.reg.Handoff(func(id string) bool { return moved(parseID(id)) })
}

// Close stops every key actor.
func (s *Service) Close() { s.reg.Close() }

// Live reports how many key actors are in memory.
func (s *Service) Live() int64 { return s.reg.Live() }

// PassivateIdle passivates idle actors now rather than at the next tick.
func (s *Service) PassivateIdle() { s.reg.PassivateIdle() }

// Drain makes new acquires fail with ErrDraining; existing leases go on.
func (s *Service) Drain() { s.draining.Store(true) }

// call sends op to the key's actor and waits for its reply and for the
// durability of whatever the reply reflects.
func (s *Service) call(ctx context.Context, ref Ref, op any) (any, error) {
	return s.caller.Call(ctx, actorID(ref), op, nil)
}

// abandon withdraws a request whose caller left. A blocked acquire is
// cancelled; if the lease was granted meanwhile it is rolled back so that
// nobody is left holding a lease no one knows about.
func (s *Service) abandon(id string, req *request) {
	if _, ok := req.Op.(*opAcquire); ok {
		s.reg.SendAfter(id, newRequest(&opCancel{target: req})) // never before its target
	}
	v, ok := req.Late(time.Minute)
	l, isLease := v.(Lease)
	if !ok || !isLease {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref := parseID(id)
	proof := LeaseProof{LeaseID: l.LeaseID, Fencing: l.Fencing, TxnID: l.TxnID}
	_, _ = s.call(ctx, ref, &opRelease{ReleaseRequest{Ref: ref, LeaseProof: proof, Rollback: true}})
}

// ttl resolves a requested TTL.
func (s *Service) ttl(d time.Duration) time.Duration {
	if d <= 0 {
		return s.cfg.DefaultTTL
	}
	return min(d, s.cfg.MaxTTL)
}

// Acquire takes the lease on a key, waiting up to req.Wait for a holder to
// release it. It returns a *domainerr.Error wrapping ErrWaiting when the lease stays
// held and ErrAlreadyExists for IfNotExists on an existing key.
func (s *Service) Acquire(ctx context.Context, req AcquireRequest) (Lease, error) {
	if s.draining.Load() {
		return Lease{}, &domainerr.Error{Err: ErrDraining, Detail: "server is draining existing leases", RetryAfter: time.Second}
	}
	op := &opAcquire{AcquireRequest: req, leaseID: xid.New().String(), txnID: req.TxnID}
	if op.txnID == "" {
		op.txnID = xid.New().String()
	}
	op.TTL = s.ttl(req.TTL)
	v, err := s.caller.Call(ctx, actorID(req.Ref), op, actors.WaitUpTo(req.Wait, req.WhileBlocked, req.Delivered))
	if err != nil {
		return Lease{}, err
	}
	return v.(Lease), nil
}

// KeepAlive extends a lease to now + TTL and returns the new expiry.
func (s *Service) KeepAlive(ctx context.Context, req KeepAliveRequest) (time.Time, error) {
	req.TTL = s.ttl(req.TTL)
	v, err := s.call(ctx, req.Ref, &opKeepAlive{req})
	if err != nil {
		return time.Time{}, err
	}
	return v.(time.Time), nil
}

// Release ends a lease, committing (or rolling back) its staged writes. It
// reports true for proofs that do not match the current lease (idempotent
// release) and never disturbs the real holder.
func (s *Service) Release(ctx context.Context, req ReleaseRequest) (bool, error) {
	v, err := s.call(ctx, req.Ref, &opRelease{req})
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// Get returns the holder's view (with a proof) or the committed state
// (Public). A non-inline body is read with OpenState.
func (s *Service) Get(ctx context.Context, req GetRequest) (View, error) {
	if req.Public {
		if v, ok, err := s.publicView(req.Ref); ok {
			return v, err
		}
	}
	v, err := s.call(ctx, req.Ref, &opGet{req})
	if err != nil {
		return View{}, err
	}
	return v.(View), nil
}

// OpenState returns a reader over a view's body. The caller closes it.
func (s *Service) OpenState(ctx context.Context, v View) (io.ReadCloser, error) {
	if v.NoState {
		return nil, errors.New("keyspace: view has no state")
	}
	if v.blob == "" {
		return io.NopCloser(bytes.NewReader(v.Inline)), nil
	}
	r, _, err := s.st.OpenBlob(ctx, v.blob)
	if err != nil {
		return nil, fmt.Errorf("%w: open state: %w", ErrUnavailable, err)
	}
	return r, nil
}

// Update stages a new state under the lease. Small bodies are kept in the
// key's record; large ones stream to a blob first, after a cheap check of
// the lease so that a stale writer does not upload for nothing.
func (s *Service) Update(ctx context.Context, req UpdateRequest) (UpdateResult, error) {
	if req.Inline != nil {
		req.Size = int64(len(req.Inline))
		if req.Size > s.cfg.InlineMax {
			req.Body = bytes.NewReader(req.Inline)
		}
	}
	op := &opStage{UpdateRequest: req}
	switch {
	case req.Inline != nil && req.Size <= s.cfg.InlineMax:
		op.inline = req.Inline
	case req.Size <= s.cfg.InlineMax:
		body, err := io.ReadAll(io.LimitReader(req.Body, req.Size+1))
		if err != nil {
			return UpdateResult{}, err
		}
		op.inline = body
	default:
		op.blob = blobPrefix(req.Ref) + xid.New().String()
		check := &opCheck{LeaseProof: req.LeaseProof, IfVersion: req.IfVersion, IfETag: req.IfETag, blob: op.blob}
		if _, err := s.call(ctx, req.Ref, check); err != nil {
			return UpdateResult{}, err
		}
		if _, err := s.st.WriteBlob(ctx, op.blob, req.Body); err != nil {
			s.forget(req.Ref, op.blob)
			return UpdateResult{}, fmt.Errorf("%w: write state: %w", ErrUnavailable, err)
		}
	}
	op.Body, op.Inline = nil, nil
	v, err := s.call(ctx, req.Ref, op)
	if err != nil {
		if op.blob != "" {
			s.deleteBlobs([]string{op.blob})
		}
		return UpdateResult{}, err
	}
	return v.(UpdateResult), nil
}

// Remove stages the removal of the key's state.
func (s *Service) Remove(ctx context.Context, req RemoveRequest) (RemoveResult, error) {
	v, err := s.call(ctx, req.Ref, &opRemove{req})
	if err != nil {
		return RemoveResult{}, err
	}
	return v.(RemoveResult), nil
}

// UpdateMetadata stages metadata attributes.
func (s *Service) UpdateMetadata(ctx context.Context, req MetadataRequest) (MetadataResult, error) {
	v, err := s.call(ctx, req.Ref, &opMetadata{req})
	if err != nil {
		return MetadataResult{}, err
	}
	return v.(MetadataResult), nil
}

// Waiters reports how many acquirers are blocked on a key.
func (s *Service) Waiters(ctx context.Context, ref Ref) (int, error) {
	v, err := s.call(ctx, ref, &opQueued{})
	if err != nil {
		return 0, err
	}
	return v.(int), nil
}

// Describe returns the key's lease and committed metadata; an unknown key
// has version 0 and no lease.
func (s *Service) Describe(ctx context.Context, ref Ref) (Description, error) {
	v, err := s.call(ctx, ref, &opDescribe{})
	if err != nil {
		return Description{}, err
	}
	return v.(Description), nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// forget drops a pending upload that will never be staged.
func (s *Service) forget(ref Ref, blob string) {
	s.reg.Send(actorID(ref), newRequest(&opForget{blob: blob}))
}

// collect deletes garbage blobs once the write that unreferenced them is
// durable. Failures leave orphans for the sweeper.
func (s *Service) collect(d store.Durable, garbage []string) {
	if d.Wait() != nil {
		return
	}
	s.deleteBlobs(garbage)
}

func (s *Service) deleteBlobs(names []string) {
	ctx, cancel := s.storeCtx()
	defer cancel()
	for _, n := range names {
		_ = s.st.DeleteBlob(ctx, n)
	}
}
