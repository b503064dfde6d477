package server

import (
	"context"
	"time"
)

// sweep runs the storage sweeper every interval until stop closes: it
// collects blobs of uploads that never reached their key and staged blobs
// of leases that expired while their key slept.
func (s *Server) sweep(interval, grace time.Duration, stop <-chan struct{}) {
	if interval <= 0 {
		return
	}
	log := s.cfg.Logger.With().Str("sys", "server.lifecycle.sweeper").Logger()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(s.bgCtx, interval)
		if err := s.txns.Sweep(ctx); err != nil {
			log.Warn().Err(err).Msg("transaction sweep failed")
		}
		n, err := s.keys.SweepOrphans(ctx, grace)
		if q, qerr := s.queues.SweepOrphans(ctx, grace); qerr != nil {
			log.Warn().Err(qerr).Msg("queue sweep failed")
		} else {
			n += q
		}
		cancel()
		if err != nil {
			log.Warn().Err(err).Msg("sweep failed")
		} else if n > 0 {
			log.Info().Int("blobs", n).Msg("swept orphaned blobs")
		}
	}
}
