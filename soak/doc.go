// Package soak is lockd's load, fault and invariant harness, in the manner
// of etcd's robustness suite: it drives traffic at a lockd deployment (or
// at lockd processes it starts itself), injects faults, records every
// operation's call, return and outcome, and then checks the recorded
// history against the invariants of ../shared/DESIGN.md:
//
//   - per-key linearizability of committed state (porcupine, with a model
//     that allows operations whose outcome is unknown);
//   - fencing tokens strictly increase per key, and no two leases of a
//     key are provably live at once;
//   - no acknowledged counter increment is lost (and none appears that
//     nobody made);
//   - multi-key transactions apply all or nothing;
//   - every acknowledged enqueue is delivered until acknowledged or
//     dead-lettered, and an acknowledged message is never delivered
//     again.
//
// Every run is driven by one seed: the operation mix of each worker and
// the fault schedule derive from it, so -seed N replays the same
// schedule (the server's own timing is not under the harness's control).
// Every loop is bounded in count and time, and all traffic goes to
// loopback or to endpoints the user names.
//
// Run it with go run ./soak/cmd/soak; see docs/SOAK.md.
package soak
