// Package admission is lockd's admission control: the Local Security Force
// (LSF) that samples the host (memory, swap, load average, CPU from /proc)
// and the server's in-flight requests per kind, and the Quick Reaction
// Force (QRF) controller that turns those samples into a posture
// (disengaged, soft_arm, engaged, recovery) and each request into a
// decision: admit now, pace (wait a computed delay, then admit), or
// refuse with 429 throttled and a Retry-After.
//
// It is the reason the actors' mailboxes may stay unbounded (DESIGN.md):
// work the server cannot serve in time is held back or refused at the
// edge, before any actor sees it.
//
// Guarantees:
//   - The state machine (Core) and the per-request decision (Decide) are
//     pure: samples and counts in, state and decision out. They are
//     table-tested without a clock or a network.
//   - A decision never paces a request longer than Config.MaxWait: a
//     request whose computed delay is longer is refused at once, with a
//     Retry-After of at least that delay, rounded up to whole seconds.
//   - Draining work (release, keepalive, ack, nack, extend, transaction
//     decisions) and control routes (health, TC) are never paced or
//     refused: they free resources the overload is made of.
//   - Host-wide pressure (memory, swap, CPU, load) paces a kind of request
//     only while more than Config.PacingFloor requests of that kind are
//     in flight: a lone request is never the cause of an overload, and
//     delaying it relieves nothing (the host may be busy with other
//     processes). In-flight guards (--qrf-*-limit) have no floor.
//   - The controller is safe for concurrent use; Admit and Done are
//     lock-free on the hot path (atomics), Observe takes a mutex.
//
// The package lives under edge because DESIGN.md puts admission control
// in the edge; it is a package of its own so that its pure core is tested
// without fasthttp, and so that server and cmd/lockd can name its Config.
package admission
