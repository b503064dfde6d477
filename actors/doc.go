// Package actors is lockd's runtime over protoactor-go: a Registry that
// routes messages by id to one actor per id, spawning it on first use,
// restarting it when it panics and stopping it when it has been idle.
//
// Guarantees:
//   - At most one live actor per id. Messages for an id are delivered to it
//     one at a time, in the order Send was called from one goroutine.
//   - No message is lost to passivation. A message to a live child goes
//     straight to its mailbox, counted in the child's state before it is
//     sent; the child retires, in mailbox order, only once it has received
//     every counted message, and later messages go through the shard that
//     owns the id, which respawns it.
//   - A Caller with Inline set runs a live child whose mailbox is idle on
//     the calling goroutine (the children's mailbox, mailbox.go), still
//     one message at a time and in order, instead of two goroutine
//     hand-offs through the dispatcher. It is set only for actors whose
//     handlers never wait long on I/O: a caller cannot leave at its
//     deadline while it runs the actor.
//   - A child is only stopped after it confirmed that it is idle
//     (Passivate) and retired.
//   - A child that panics is restarted by its shard (a fresh instance from
//     the producer, which reloads from storage in Started); after too many
//     restarts in a short window it is stopped and respawned on next use.
//
// Request, Caller.Await and Blocking are the request/reply protocol of the
// domain actors: one reply per request, a durability wait before the
// caller acts on it, and for requests an actor may park (blocking acquire,
// long-poll dequeue) a timeout and client watch armed only once parked.
package actors
