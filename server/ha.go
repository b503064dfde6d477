package server

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/cluster/ha"
	"github.com/lockdhq/lockd/store"
)

// HA configures the HA mode of nodes that share one store (cluster/ha,
// docs/HA.md). The zero value is lockd v0.9's default: failover with a
// 10s lease.
type HA struct {
	// Mode is failover (default), concurrent, single or auto.
	Mode string
	// LeaseTTL is the failover lease TTL (default 10s, at least 5s).
	LeaseTTL time.Duration
	// SinglePresenceTTL is how long a single-mode presence fences other
	// nodes (default 5m).
	SinglePresenceTTL time.Duration
	// Endpoint is the API URL other nodes and clients are told (default
	// the listener's URL).
	Endpoint string
	// Shared makes a store whose URL is not an object store (a Backend
	// given in tests) count as shared by several processes.
	Shared bool
	// Peers counts live peers for auto mode (cluster membership); nil
	// counts member records in the store.
	Peers ha.Peers
	// OnLost is called when this node learns that another node took its
	// lease; the default logs and exits with ExitHALost, so that a
	// supervisor restarts it as a passive node with nothing stale in
	// memory.
	OnLost func(error)
}

// ExitHALost is the exit status of a node that lost its failover lease.
const ExitHALost = 76

// sharedStore reports whether several processes may open the store URL:
// object stores may; pebble (one process per directory) and mem may not.
func sharedStore(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "s3", "aws", "azure":
		return true
	}
	return false
}

// config checks the settings and returns them as the controller takes
// them.
func (h HA) config() (ha.Config, error) {
	mode, err := ha.ParseMode(h.Mode)
	if err != nil {
		return ha.Config{}, err
	}
	c := ha.Config{Mode: mode, LeaseTTL: h.LeaseTTL, PresenceTTL: h.SinglePresenceTTL, Endpoint: h.Endpoint, Peers: h.Peers}
	return c, c.Validate()
}

// haMode resolves the configured mode for this store, and whether a
// controller runs (not under concurrent, nor on a single-process store).
func (s *Server) haMode() (ha.Mode, bool, error) {
	hcfg, err := s.cfg.HA.config()
	if err != nil {
		return "", false, err
	}
	mode := hcfg.Mode
	log := s.cfg.Logger.With().Str("sys", "cluster.ha").Logger()
	switch {
	case !s.cfg.HA.Shared && !sharedStore(s.cfg.Store):
		if mode == ha.Concurrent {
			log.Info().Str("store", s.cfg.Store).Msg("ha=concurrent downgraded to failover: this store admits one process " +
				"(pebble's directory lock fences any other), so this node is the active one")
		}
		return mode, false, nil
	case mode == ha.Concurrent:
		log.Info().Msg("ha=concurrent: every node on this store serves")
		return mode, false, nil
	}
	return mode, true, nil
}

// startHA starts the controller when the mode needs one and returns
// whether this node may activate now.
func (s *Server) startHA(st store.Backend) (bool, error) {
	mode, run, err := s.haMode()
	if err != nil || !run {
		return true, err
	}
	hcfg, _ := s.cfg.HA.config()
	if hcfg.Endpoint == "" {
		hcfg.Endpoint = s.URL()
	}
	hcfg.OnLost = s.cfg.HA.OnLost
	if hcfg.OnLost == nil {
		hcfg.OnLost = exitOnLost(s.cfg.Logger)
	}
	hcfg.Logger, hcfg.OnActive = s.cfg.Logger, func() { <-s.built; s.activate() }
	ctrl, err := ha.New(st, hcfg)
	if err != nil {
		return false, err
	}
	s.ha = ctrl
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	role, err := ctrl.Start(ctx)
	if err != nil {
		return false, err
	}
	s.cfg.Logger.Info().Str("sys", "cluster.ha").Str("ha", string(mode)).Str("role", role.String()).
		Str("node", ctrl.Node().ID).Msg("ha started")
	return role == ha.Active, nil
}

// HARole is "active" or "passive" under failover, single or auto, and
// "" when no HA controller runs.
func (s *Server) HARole() string {
	if s.ha == nil {
		return ""
	}
	if s.ha.Serving() {
		return "active"
	}
	return "passive"
}

func exitOnLost(log zerolog.Logger) func(error) {
	return func(err error) {
		log.Error().Err(err).Str("sys", "cluster.ha").
			Msg("another node took the failover lease: exiting so that a restart serves nothing stale")
		os.Exit(ExitHALost)
	}
}

// closeHA withdraws the node from HA, after it stopped writing.
func (s *Server) closeHA() error {
	if s.ha == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.ha.Close(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
