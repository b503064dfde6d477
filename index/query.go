package index

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/index/lql"
	"github.com/lockdhq/lockd/keyspace"
)

// Query limits, as lockd v0.9: a limit <= 0 is DefaultLimit, above
// MaxLimit it is MaxLimit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Request is one page of a query.
type Request struct {
	Namespace string
	// Selector picks documents; nil or empty matches every document.
	Selector *lql.Selector
	Limit    int
	// After is the key the page starts after (DecodeCursor of the
	// client's cursor).
	After  string
	Engine Engine // "" is EngineAuto
	// Refresh waits, as Flush does, until every commit acknowledged
	// before the query is indexed (refresh=wait_for).
	Refresh bool
	// Docs asks for the document bodies (return=documents).
	Docs bool
}

// Hit is one result, in key order. Doc is the committed JSON state when
// the request asked for documents.
type Hit struct {
	Key     string
	Version int64
	Doc     []byte
}

// Result describes a finished page.
type Result struct {
	// Cursor resumes after the page's last key; "" when the page was
	// not full (the query is exhausted).
	Cursor string
	// Engine is the engine that answered.
	Engine Engine
	// IndexSeq is the number of commits the namespace's index has
	// applied (index engine only).
	IndexSeq uint64
	// Pending reports commits not yet indexed or a reconcile under way.
	Pending bool
}

var errPageFull = errors.New("index: page full")

// q is a validated request.
type q struct {
	ns    string
	sel   *lql.Selector
	limit int
	after string
	docs  bool
}

// Query runs one page of req and calls emit for every hit, in key order,
// as soon as it is found; an error from emit stops the query and is
// returned. Only published state is seen; hidden keys never match. The
// query holds at most one window of candidate keys and one document in
// memory, whatever the namespace size.
func (s *Service) Query(ctx context.Context, req Request, emit func(Hit) error) (Result, error) {
	p, err := s.Prepare(ctx, req)
	if err != nil {
		return Result{}, err
	}
	return p.Run(ctx, emit)
}

// Prepared is a query whose engine and plan are chosen; Run executes it.
// Preparing first lets a streaming caller report engine errors before it
// commits to a response.
type Prepared struct {
	s      *Service
	q      *q
	engine Engine
	plan   plan
}

// Prepare validates req and chooses its engine (waiting for the index
// when req.Refresh or the configuration asks for it).
func (s *Service) Prepare(ctx context.Context, req Request) (*Prepared, error) {
	qq := &q{ns: req.Namespace, sel: req.Selector, limit: clampLimit(req.Limit), after: req.After, docs: req.Docs}
	engine, err := s.chooseEngine(ctx, req)
	if err != nil {
		return nil, err
	}
	p := &Prepared{s: s, q: qq, engine: engine}
	if engine == EngineIndex {
		pl, broad := s.planQuery(ctx, qq, req.Engine == EngineIndex)
		if pl == nil || broad {
			p.engine = EngineScan
		}
		p.plan = pl
	}
	return p, nil
}

// Engine is the engine Run will use.
func (p *Prepared) Engine() Engine { return p.engine }

// Run executes the prepared page (see Service.Query).
func (p *Prepared) Run(ctx context.Context, emit func(Hit) error) (Result, error) {
	var last string
	var err error
	if p.engine == EngineIndex {
		last, err = p.s.secondaryQuery(ctx, p.q, p.plan, emit)
	} else {
		last, err = p.s.scanQuery(ctx, p.q, emit)
	}
	if err != nil {
		return Result{}, err
	}
	res := Result{Cursor: EncodeCursor(last), Engine: p.engine}
	if p.engine == EngineIndex {
		res.IndexSeq, res.Pending = p.s.Status(p.q.ns)
	}
	return res, nil
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// chooseEngine applies the request's engine, the namespace configuration
// and the index's readiness.
func (s *Service) chooseEngine(ctx context.Context, req Request) (Engine, error) {
	switch req.Engine {
	case EngineScan:
		return EngineScan, nil
	case "", EngineAuto:
		if s.opt.Disabled {
			return EngineScan, nil
		}
		cfg, _, err := s.LoadConfig(ctx, req.Namespace)
		if err != nil {
			return "", err
		}
		if cfg.Preferred == EngineScan {
			return EngineScan, nil
		}
		s.wakeNamespace(req.Namespace)
		return s.indexOr(ctx, req, cfg.Fallback)
	case EngineIndex:
		if s.opt.Disabled {
			return "", fmt.Errorf("%w: indexing is disabled", ErrEngineUnavailable)
		}
		if s.wakeNamespace(req.Namespace) {
			req.Refresh = true // first use: wait for the build rather than fail
		}
		return s.indexOr(ctx, req, "")
	}
	return "", fmt.Errorf("%w: unknown engine %q", ErrEngineUnavailable, req.Engine)
}

// indexOr returns EngineIndex when the namespace's index is ready (after
// a flush with Refresh), else what fallback says: scan, wait (none), or
// fail ("" for an explicit engine=index).
func (s *Service) indexOr(ctx context.Context, req Request, fallback Fallback) (Engine, error) {
	if req.Refresh || fallback == FallbackNone {
		if !req.Refresh && s.ready(req.Namespace) {
			return EngineIndex, nil
		}
		if s.opt.FlushPeers != nil {
			if err := s.opt.FlushPeers(ctx, req.Namespace); err != nil {
				return "", fmt.Errorf("%w: waiting for the other nodes' index: %v", ErrEngineUnavailable, err)
			}
		}
		if _, err := s.Flush(ctx, req.Namespace); err != nil {
			return "", fmt.Errorf("%w: waiting for the index: %w", ErrEngineUnavailable, err)
		}
		return EngineIndex, nil
	}
	if s.ready(req.Namespace) {
		return EngineIndex, nil
	}
	if fallback == FallbackScan {
		return EngineScan, nil
	}
	return "", fmt.Errorf("%w: the index of %q is catching up; retry, or use refresh=wait_for or engine=scan", ErrEngineUnavailable, req.Namespace)
}

// ready reports whether ns's index holds every commit it was given.
func (s *Service) ready(ns string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spaceLocked(ns).ready()
}

// Status returns the commits applied to ns's index and whether commits
// are pending or a reconcile runs.
func (s *Service) Status(ns string) (seq uint64, pending bool) {
	if s.opt.Disabled {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.spaceLocked(ns)
	return sp.seq, sp.pending > 0 || !sp.ready()
}

// Enabled reports whether the index is maintained.
func (s *Service) Enabled() bool { return !s.opt.Disabled }

// check decides whether a committed view matches and builds its hit,
// reading the document only when the selector or the caller needs it.
func (s *Service) check(ctx context.Context, qq *q, ref keyspace.Ref, v keyspace.View) (Hit, bool, error) {
	h := Hit{Key: ref.Key, Version: v.Version}
	if qq.sel.IsEmpty() && !qq.docs {
		return h, true, nil
	}
	raw, err := s.readFresh(ctx, ref, v)
	if err != nil || raw == nil {
		return h, false, err
	}
	if !qq.sel.IsEmpty() {
		doc, err := decodeDoc(raw)
		if err != nil || !qq.sel.Match(doc) {
			return h, false, nil
		}
	}
	if qq.docs {
		h.Doc = raw
	}
	return h, true, nil
}

// readFresh reads a view; when its blob was replaced meanwhile it reads
// the key's current published view once more (nil: no longer published).
func (s *Service) readFresh(ctx context.Context, ref keyspace.Ref, v keyspace.View) ([]byte, error) {
	raw, err := s.readView(ctx, v)
	if err == nil || errors.Is(err, ErrDocumentTooLarge) || ctx.Err() != nil {
		return raw, err
	}
	cur, gerr := s.src.ReadCommitted(ctx, ref)
	if gerr != nil {
		return nil, gerr
	}
	if cur.NoState || cur.Hidden {
		return nil, nil
	}
	return s.readView(ctx, cur)
}
