// Package actors is lockd's runtime over protoactor-go: a Registry that
// routes messages by id to one actor per id, spawning it on first use,
// restarting it when it panics and stopping it when it has been idle.
//
// Guarantees:
//   - At most one live actor per id. Messages for an id are delivered to it
//     one at a time, in the order Send was called from one goroutine.
//   - Callers never hold a child's PID: every message goes through the
//     shard that owns the id, so a passivated child can never receive (and
//     silently drop) a message.
//   - A child is only stopped after it confirmed, with nothing queued after
//     the confirmation request, that it is idle (Passivate).
//   - A child that panics is restarted by its shard (a fresh instance from
//     the producer, which reloads from storage in Started); after too many
//     restarts in a short window it is stopped and respawned on next use.
package actors
