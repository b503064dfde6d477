// Package gossiprelay puts a relay between a memberlist node and its
// peers, so a test harness can cut the node off the gossip network the
// way a partition does, without root and without touching memberlist.
//
// A node binds its gossip on an address of its own (a loopback address
// per node: 127.0.0.0/8 is all loopback on Linux) and advertises its
// relay's address (lockd's --cluster-advertise). Peers' packets and
// streams to the node reach it through its relay; the node's own packets
// and streams to its peers reach them through their relays and carry the
// node's address as their source (lockd dials gossip streams from its
// --cluster-listen host). A Net therefore cuts a host in both directions:
// every relay of the Net drops what comes from a cut host or would go to
// one, and closes the streams that involve it.
//
// Guarantees:
//   - While a host is cut, no UDP packet and no TCP byte passes between it
//     and any node behind a relay of the Net, either way; streams open
//     when the cut begins are closed.
//   - When the cut ends, new packets and streams flow at once.
//   - UDP replies a node sends to the relay's session address go back to
//     the original sender (a faithful UDP relay), under the same rule.
package gossiprelay
