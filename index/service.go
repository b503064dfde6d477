package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
)

// Source is what the index reads committed documents from;
// *keyspace.Service implements it.
type Source interface {
	Scan(ctx context.Context, namespace, after string, fn func(keyspace.Document) error) error
	ReadCommitted(ctx context.Context, ref keyspace.Ref) (keyspace.View, error)
	OpenState(ctx context.Context, v keyspace.View) (io.ReadCloser, error)
	Namespaces(ctx context.Context) ([]string, error)
}

var _ Source = (*keyspace.Service)(nil)

// Options tune the service. Zero values take the defaults.
type Options struct {
	// QueueEvents bounds the commits waiting to be indexed (default
	// 65536). Past it a commit is not queued: its namespace is marked
	// stale and reconciled by scan instead.
	QueueEvents int
	// QueueBytes bounds the inline document bytes those commits hold
	// (default 64 MiB).
	QueueBytes int64
	// DocMax bounds a document read for matching (default 100 MiB).
	DocMax int64
	// Disabled turns index maintenance off: nothing is queued or written
	// and every query is answered by the scan engine.
	Disabled bool
	// SealKey, when set (the store is encrypted), hides indexed values
	// behind a keyed MAC (see sealer): equality stays indexed, ranges and
	// prefixes are answered by scanning.
	SealKey []byte
	// Writer names this process among the processes that maintain one
	// store's index (a cluster node's id): its meta records are
	// <ns>/x/meta/<Writer>, and those of departed writers are adopted
	// through Recover. Empty: this process is the only writer, with the
	// meta record <ns>/x/meta.
	Writer string
	// OnWake, when set, is called (on its own goroutine) when a dormant
	// namespace starts being indexed here, so that a cluster wakes it on
	// every node: each node indexes the commits it makes.
	OnWake func(ns string)
	// FlushPeers, when set, flushes ns on the other processes that index
	// the store; queries that must see every acknowledged commit
	// (refresh, fallback none, an index's first use) call it before their
	// own flush.
	FlushPeers func(ctx context.Context, ns string) error
	Logger     zerolog.Logger
}

// Service maintains the secondary index of every namespace from commits
// and answers queries. Create it with New, install it as the key
// service's observer, call Start before serving and Close after the key
// service has stopped. All methods are safe for concurrent use.
type Service struct {
	src   Source
	st    store.Store
	batch store.Batcher // nil when the store has no atomic batches
	opt   Options
	seal  *sealer // nil: terms are stored as they are
	log   zerolog.Logger

	passes atomic.Uint64 // reconcile passes completed (tests)

	mu      sync.Mutex
	queue   []item
	qBytes  int64
	spaces  map[string]*space
	unknown bool // Start could not list namespaces: new ones start stale
	closing bool
	wake    chan struct{}
	done    chan struct{}
}

// item is a queued commit, or a flush barrier when barrier is set.
type item struct {
	ns      string
	ev      keyspace.Committed
	barrier chan struct{}
}

// space is a namespace's in-memory index state.
type space struct {
	seq     uint64 // commits applied; persisted in the meta record
	pending int    // queued commits
	// dormant: no query has asked for this namespace's index yet, so its
	// commits are not indexed. The first query that wants the index (or
	// a flush, or a configuration preferring it) wakes it: it becomes
	// stale and a reconcile pass builds the index from the committed
	// documents while new commits are indexed as they come. A namespace
	// that never had an index has no meta record, which is how a restart
	// tells that it is dormant.
	dormant bool
	// building: the pass that builds a woken namespace's index runs;
	// explicit index queries wait for it rather than fail.
	building bool
	// stale: commits were not indexed (queue overflow, read failure, no
	// clean shutdown); a reconcile pass must run. reconciling: one runs,
	// resuming after recAfter.
	stale       bool
	reconciling bool
	recAfter    string
	waiters     []chan struct{} // flushes waiting for the index to be ready
	asyncFlush  bool
	// orphans are departed writers' open meta records (key -> ETag),
	// deleted once a reconcile pass of the namespace completes (meta.go).
	orphans map[string]string
}

func (sp *space) ready() bool { return !sp.dormant && !sp.stale && !sp.reconciling }

// wakeLocked makes a dormant namespace build and maintain its index; s.mu
// must be held, and the caller signals the indexer after unlocking.
func (sp *space) wakeLocked() {
	if sp.dormant {
		sp.dormant, sp.stale, sp.building = false, true, true
	}
}

// New creates the service over the document source and the store that
// holds the index records.
func New(src Source, st store.Store, opt Options) *Service {
	if opt.QueueEvents <= 0 {
		opt.QueueEvents = 1 << 16
	}
	if opt.QueueBytes <= 0 {
		opt.QueueBytes = 64 << 20
	}
	if opt.DocMax <= 0 {
		opt.DocMax = 100 << 20
	}
	s := &Service{src: src, st: st, opt: opt, log: opt.Logger.With().Str("sys", "search.index").Logger(),
		spaces: map[string]*space{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.batch, _ = st.(store.Batcher)
	if len(opt.SealKey) > 0 {
		s.seal = newSealer(opt.SealKey)
	}
	return s
}

// meta is the persisted state of a namespace's index.
type meta struct {
	// State is "open" while a process maintains the index and "clean"
	// after it stopped with every commit indexed.
	State string `json:"state"`
	Seq   uint64 `json:"seq"`
}

// Start loads every namespace's meta record, marks the index open and
// starts the indexer. A namespace whose index was not closed cleanly is
// reconciled in the background; until then auto queries on it fall back
// as configured.
func (s *Service) Start(ctx context.Context) error {
	defer func() { go s.run() }()
	if s.opt.Disabled {
		return nil
	}
	nss, err := s.src.Namespaces(ctx)
	if err != nil {
		s.mu.Lock()
		s.unknown = true
		s.mu.Unlock()
		return fmt.Errorf("%w: list namespaces: %w", ErrUnavailable, err)
	}
	for _, ns := range nss {
		if err := s.open(ctx, ns); err != nil {
			return err
		}
	}
	return nil
}

// open reads ns's meta and marks it open, durably, before any commit of
// this process can be indexed. A namespace without a meta record never
// had its index woken and stays dormant.
func (s *Service) open(ctx context.Context, ns string) error {
	if s.opt.Writer != "" {
		return s.openShared(ctx, ns)
	}
	m, err := s.readMeta(ctx, ns)
	if err != nil {
		return err
	}
	sp := &space{seq: m.Seq, stale: m.State != "clean", dormant: m.State == ""}
	if sp.dormant {
		sp.stale = false
	}
	if m.State == "clean" {
		b, _ := json.Marshal(meta{State: "open", Seq: m.Seq})
		if _, err := s.st.Put(ctx, s.metaKey(ns), b, store.Cond{}); err != nil {
			return fmt.Errorf("%w: open %s: %w", ErrUnavailable, ns, err)
		}
	}
	s.mu.Lock()
	s.spaces[ns] = sp
	s.mu.Unlock()
	s.signal()
	return nil
}

func (s *Service) readMeta(ctx context.Context, ns string) (meta, error) {
	rec, err := s.st.Get(ctx, metaKey(ns))
	if errors.Is(err, store.ErrNotFound) {
		return meta{}, nil
	}
	if err != nil {
		return meta{}, fmt.Errorf("%w: read meta of %s: %w", ErrUnavailable, ns, err)
	}
	var m meta
	if json.Unmarshal(rec.Value, &m) != nil || m.State == "" {
		return meta{State: "unreadable"}, nil // treated as unclean
	}
	return m, nil
}

// spaceLocked returns ns's state, creating it; s.mu must be held. A
// namespace first seen after Start had no records then (Start lists
// every namespace with a record, index meta included), so it starts
// dormant; when Start could not list them it may have an index that
// is not current, so it starts stale.
func (s *Service) spaceLocked(ns string) *space {
	sp := s.spaces[ns]
	if sp == nil {
		sp = &space{stale: s.unknown, dormant: !s.unknown}
		s.spaces[ns] = sp
	}
	return sp
}

// wakeNamespace makes ns's index maintained from now on (see
// space.dormant) and reports whether its first build is under way.
func (s *Service) wakeNamespace(ns string) bool {
	s.mu.Lock()
	sp := s.spaceLocked(ns)
	dormant := sp.dormant
	sp.wakeLocked()
	building := sp.building
	s.mu.Unlock()
	if dormant {
		s.log.Info().Str("namespace", ns).Msg("index: building the namespace's index on first use")
		s.signal()
		s.woke(ns)
	}
	return building
}

// woke tells OnWake that ns left dormancy here.
func (s *Service) woke(ns string) {
	if s.opt.OnWake != nil {
		go s.opt.OnWake(ns)
	}
}

func (s *Service) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Observe queues a commit for indexing. It never blocks: when the queue
// is full the namespace is marked stale and reconciled later. Commits of
// a dormant namespace are not indexed.
func (s *Service) Observe(c keyspace.Committed) {
	if s.opt.Disabled {
		return
	}
	s.mu.Lock()
	sp := s.spaceLocked(c.Namespace)
	if sp.dormant {
		sp.seq++ // the sequence counts the commits seen all the same
		s.mu.Unlock()
		return
	}
	n := int64(len(c.Doc))
	if s.closing || len(s.queue) >= s.opt.QueueEvents || s.qBytes+n > s.opt.QueueBytes {
		sp.stale = true
		s.mu.Unlock()
		s.signal()
		return
	}
	s.queue = append(s.queue, item{ns: c.Namespace, ev: c})
	s.qBytes += n
	sp.pending++
	s.mu.Unlock()
	s.signal()
}

// Close stops the indexer after it has indexed every queued commit (or
// ctx ended) and marks every fully indexed namespace clean, so the next
// Start does not reconcile it. Call it after the key service stopped.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	s.signal()
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.opt.Disabled {
		return nil
	}
	s.mu.Lock()
	clean := map[string]uint64{}
	for ns, sp := range s.spaces {
		if sp.ready() && len(s.queue) == 0 {
			clean[ns] = sp.seq
		}
	}
	s.mu.Unlock()
	var errs []error
	for ns, seq := range clean {
		b, _ := json.Marshal(meta{State: "clean", Seq: seq})
		if _, err := s.st.Put(ctx, s.metaKey(ns), b, store.Cond{}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
