package server

import "github.com/lockdhq/lockd/store"

// originsRebuilt says loudly when the origins of transactions minted before
// this start could not be rebuilt: a key that joins such a transaction then
// cannot enlist the key that minted it, whose release decides alone. That
// is a known limit of stores without a record scan (the object stores), and
// a bug when the store underneath has one that a decorator hid.
func (s *Server) originsRebuilt(rebuilt bool, raw store.Store) {
	if rebuilt {
		return
	}
	if _, scans := raw.(store.Scanner); scans {
		s.cfg.Logger.Error().Str("sys", "txn.tc").
			Msg("BUG: a store decorator hides the record scan of the store underneath; transaction origins were not rebuilt, so a key joining a transaction minted before this restart will not enlist the key that minted it")
		return
	}
	s.cfg.Logger.Warn().Str("sys", "txn.tc").
		Msg("this store has no record scan: transaction origins were not rebuilt, so a key joining a transaction minted before this restart will not enlist the key that minted it (object stores, see docs/STORAGE.md)")
}
