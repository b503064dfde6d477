// Package connguard is lockd's connection guard (lockd v0.9's
// control.connguard): it watches connections at the listener, before any
// HTTP is parsed, and blocks a source IP for a while after repeated
// suspicious connections — failed TLS handshakes, and plain-TCP
// connections that close without sending a byte or send nothing within
// the probe timeout.
//
// Guarantees:
//   - A source IP is blocked after Config.FailureThreshold suspicious
//     connections within Config.FailureWindow, for Config.BlockDuration;
//     its connections are closed at accept meanwhile, and the block lifts
//     by itself.
//   - Other sources are unaffected: accounting is per IP address (an
//     IPv4-mapped IPv6 address counts as its IPv4 address).
//   - Probing never consumes bytes (the first byte is peeked with
//     MSG_PEEK) and never holds the accept loop: each probe runs in its own
//     goroutine, at most Config.MaxProbes at once.
//   - A connection that is slow to send its first byte is counted as
//     suspicious but still served (lockd v0.9 closes it); one that closes
//     without a byte is closed. Clients that open a connection long before
//     their first request therefore accumulate suspicion: raise
//     --connguard-probe-timeout or set it to 0 for them.
//   - Memory is bounded: at most Config.MaxTracked addresses are
//     remembered; stale entries are pruned first.
//   - Time comes from an injected clock, so block expiry is tested by
//     advancing a fake clock.
package connguard
