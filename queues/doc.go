// Package queues holds the queue actor: one actor per (namespace, queue)
// that owns the queue's ready set, its in-flight deliveries, visibility
// deadlines, attempt counters, its dead-letter queue (DLQ) and the consumers
// waiting on it.
//
// Guarantees:
//   - At-least-once delivery. An enqueue that answered is durable (the
//     message record, and before it the payload blob, are on stable storage)
//     and the message is delivered until it is acked or moved to the DLQ,
//     across restarts and kill -9. A delivery whose visibility timeout runs
//     out is delivered again; a consumer may therefore see a message more
//     than once, but an ack succeeds at most once per message.
//   - Durability points: enqueue, every delivery (attempts, fencing token,
//     lease), ack (the record is deleted), nack, extend, the move to the DLQ
//     and a requeue from it are each one conditional batch write whose reply
//     is sent only after the batch is synced.
//   - Fencing tokens strictly increase per message: every delivery takes the
//     next token and the counter is persisted with the lease.
//   - Ordering: ready messages are delivered oldest enqueue first (message
//     ids are time-ordered UUIDv7s). A message that becomes visible again
//     (nack, visibility timeout) keeps its place, so it comes before younger
//     ones. Delayed messages join when their delay ends. There is no
//     ordering between consumers running in parallel.
//   - Waiting consumers are served first come, first served, the moment a
//     message is enqueued or becomes visible again (timers at the next
//     visibility deadline; nobody polls the store).
//   - Dead letters: a failure is a nack with intent "failure" or a delivery
//     whose visibility timeout ran out; a nack with intent "defer" is not.
//     When a message's failures reach its max_attempts it moves, with its
//     payload, attributes and correlation id, to the queue's DLQ. A message
//     whose ttl_seconds ran out before it was delivered also moves there.
//     The DLQ of queue Q is addressed as the queue "Q:dlq": it can be
//     listed, dequeued and acked (drained) and requeued into Q. Messages in
//     a DLQ never dead-letter again.
//   - Every write is conditional on the record's last ETag (or on its
//     absence), so a second process writing the same store is detected.
//
// Storage layout (see docs/STORAGE.md and docs/QUEUE.md): message records
// are "NS/q/QUEUE:m/ID", dead letters "NS/q/QUEUE:d/ID", payloads larger
// than the inline limit are blobs "NS/q/QUEUE:p/ID".
package queues
