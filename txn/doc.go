// Package txn is the transaction coordinator (TC): it makes the commits of
// several keys — and queue messages — all-or-nothing.
//
// Every acquire carries a transaction id. A transaction with one key needs
// no coordinator: the key commits at its release. When a second participant
// joins (an acquire that names an existing txn_id), the coordinator writes a
// record under the reserved .txns namespace listing the participants, and
// every participant's lease is enlisted: from then on no participant
// commits, rolls back or expires alone.
//
// Guarantees:
//   - One decision for all. The first release (or decide call) decides; the
//     decision (commit or rollback) is durable in the record before any
//     participant applies it. Later releases of other participants answer
//     with the recorded outcome.
//   - A commit is only decided if every participant still holds a live
//     lease of the transaction; otherwise the transaction rolls back and
//     the release that asked for commit fails with ErrAborted.
//   - A participant whose lease expires before the decision rolls the whole
//     transaction back.
//   - After a crash the coordinator replays every decided transaction that
//     was not fully applied; applying is idempotent. A crash before the
//     decision leaves the transaction pending: its participants' leases and
//     staged writes survive, and it rolls back if one of them expires.
//
// Decisions carry the coordinator's term (tc_term); a request with an
// older term is refused, so a deposed coordinator cannot apply decisions.
package txn
