package server

import (
	"context"
	"time"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
)

// indexStartTimeout bounds reading the index meta records at start.
const indexStartTimeout = time.Minute

// newIndex makes the query index over the key service and installs it
// as the commit observer; startIndex starts it. shared, when set, adjusts
// the options for several writers (a cluster).
func newIndex(st store.Store, keys *keyspace.Service, cfg Config, shared func(*index.Options)) *index.Service {
	opt := index.Options{DocMax: cfg.JSONMax, Disabled: cfg.IndexOff, Logger: cfg.Logger,
		SealKey: cfg.Security.indexSealKey()}
	if shared != nil {
		shared(&opt)
	}
	idx := index.New(keys, st, opt)
	keys.SetObserver(idx)
	return idx
}

// startIndex reads the index meta records and starts the indexer. A start
// failure is logged: the namespaces concerned are reconciled in the
// background and queries stay correct.
func startIndex(idx *index.Service, cfg Config) {
	ctx, cancel := context.WithTimeout(context.Background(), indexStartTimeout)
	defer cancel()
	if err := idx.Start(ctx); err != nil {
		cfg.Logger.Error().Err(err).Msg("index: start")
	}
}

// closeIndex indexes what is queued and marks clean namespaces, after the
// key service stopped committing.
func (s *Server) closeIndex() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.index.Close(ctx)
}

// Index exposes the query index (tests, benchmarks).
func (s *Server) Index() *index.Service { return s.index }
