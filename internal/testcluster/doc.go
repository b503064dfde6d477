// Package testcluster runs real lockd processes for tests: the binary
// built from this module, several nodes joined into one cluster over a
// shared store, and a round-robin TCP load balancer in front of them, all
// on loopback. Nodes and the balancer stop when the test ends.
package testcluster
