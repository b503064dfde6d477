// Package tc holds the transaction coordinator's cluster state in the
// store: the leader lease and its term, the membership leases of TC
// members, the resource-manager (RM) registry and the backend hash that
// names a store. It imports no domain package; txn decides, this package
// says who may decide and where the resource managers are.
//
// Guarantees:
//   - One leader record per store (.lockd/tc-cluster/leader). Every change
//     of holder writes term+1 conditionally on the ETag that was read, so
//     two candidates can never both win a term and the term strictly
//     increases across restarts, failovers and releases.
//   - A holder considers itself leader only until its lease runs out on
//     its own clock (measured from before the write that granted it);
//     another candidate takes over only after the lease ran out on its
//     clock, or at once when memberlist declares the holder dead. A
//     deposed leader that still acts is fenced by the term: resource
//     managers reject decisions of an older term, and decision records are
//     written conditionally, so a transaction gets one decision.
//   - Membership leases (.lockd/tc-cluster/leases/<identity>) and RM
//     registrations (.lockd/tc-rm-members/<backend_hash>) are changed by a
//     read-modify-write loop of conditional writes: concurrent edits on
//     different nodes never lose each other, and no node-local lock is held
//     over store I/O.
package tc
