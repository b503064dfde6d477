// Package ha runs lockd v0.9's HA modes for nodes that share one object
// store (--ha failover | concurrent | single | auto).
//
// failover: one node is active and holds the lease record .ha/activelease;
// the others are passive (the edge answers their API requests 503
// node_passive, /readyz answers 503). The lease is a store record written
// with compare-and-swap only (create-if-absent to claim an empty store,
// If-Match on the last ETag to renew, release or take over), so two
// claims of the same record can never both succeed.
//
// Guarantees, for lease TTL T (Timings):
//   - At most one node serves at a time, provided each node's clock runs
//     within 18% of real time (rate; no synchronised wall clocks are
//     needed): the active node serves only until 9T/20 after the start
//     of its last successful lease write (Trust), and a passive node takes
//     over only after the record stayed unchanged for 13T/20 (Takeover) as
//     measured on its own clock from a read that followed that write. An
//     active node that cannot renew in time stops serving without any I/O
//     (Serving reads the clock); if a later renewal succeeds, its
//     condition proves nobody took the lease in between and it serves
//     again; if the lease is in other hands it is Lost and must exit.
//   - A passive node takes over at most T/10 + 13T/20 + 2·T/20 = 0.85·T
//     after the active node's death (plus store latency), and at its next
//     poll (T/20) after a clean shutdown, which releases the lease.
//     A holder proven dead (same machine, same kernel boot and PID
//     namespace, process gone: a restart after kill -9) is replaced at once.
//   - A node that becomes active loads everything from the store (the
//     caller activates its services, then calls Ready); fencing tokens and
//     commits live in the key records, so they continue where the last
//     acknowledged write left them.
//
// single: the node writes a presence record .ha/members/<id> (refreshed
// every --ha-single-presence-ttl/4, expiring after the TTL by the writer's
// wall clock). A second single-mode node that finds a live presence or a
// live failover lease refuses to start (ErrFenced); failover and auto
// nodes stay passive behind it. It is a guard against mistakes, not a
// lease: the single node never stops serving because of it.
//
// auto: like failover, but while no other node is alive the lease is
// marked "single"; it is rewritten as "failover" when Peers reports
// another live node. Every failover and auto node writes its member record
// each T/4, which is how peers are counted without a membership service.
//
// concurrent needs no controller; on a single-process store (disk, mem)
// no controller runs at all (the server decides; pebble's directory lock
// is the fence there).
package ha
