// Package cluster is a node's view of the other lockd nodes that share its
// store: who is alive (memberlist gossip) and which node owns a key or a
// queue (rendezvous hashing over the live members). It imports no domain
// package; the edge asks it before routing a request, and the server tells
// the domain services to hand off what this node no longer owns.
//
// Guarantees:
//   - Ownership is a pure function of the member list: every node that sees
//     the same live members computes the same owner for every (kind,
//     namespace, name) (Owner, table-tested). A change of membership moves
//     only the refs whose owner joined or left (rendezvous hashing).
//   - A node's identity is an xid generated at every start, never its
//     address: a restarted node is a new member, and the incarnation that
//     died is declared dead by the failure detector, never confused with
//     the new one.
//   - Gossip is encrypted and authenticated (AES-GCM, memberlist's keyring)
//     with a key derived by HKDF from a secret every server of the cluster
//     holds (DeriveKey): a process without it can neither read the gossip
//     nor join. Without a secret the gossip is plaintext (tests, plain-HTTP
//     deployments) and the server says so in its log.
//   - Changed returns a channel closed at the next membership change, so
//     any number of watchers see every change without polling.
//
// Ownership is advisory for safety: a node that still believes it owns a
// key after it lost it is fenced out by the store's conditional writes
// (invariant 8 in DESIGN.md); membership only decides where requests go.
package cluster
