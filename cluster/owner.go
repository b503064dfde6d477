package cluster

import (
	"github.com/cespare/xxhash/v2"
)

// Kind separates the ownership spaces of keys and queues, so that a key and
// a queue of the same name are placed independently.
type Kind byte

// Kinds of owned refs.
const (
	KindKey   Kind = 'k'
	KindQueue Kind = 'q'
)

// refHash hashes one ref (kind, namespace, name) with separators that
// cannot occur inside names, so distinct refs never share an input.
func refHash(kind Kind, ns, name string) uint64 {
	d := xxhash.New()
	d.Write([]byte{byte(kind), 0})
	d.WriteString(ns)
	d.Write([]byte{0})
	d.WriteString(name)
	return d.Sum64()
}

// idHash is a member's hash, mixed into every ref's weight.
func idHash(id string) uint64 { return xxhash.Sum64String(id) }

// weight is the rendezvous weight of a ref on a member: a 64-bit finalizer
// (splitmix64's) over both hashes, so that every member's weights are
// independent and uniformly spread.
func weight(ref, member uint64) uint64 {
	z := ref ^ (member * 0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Owner returns the index in ids of the member that owns (kind, ns, name)
// by rendezvous (highest random weight) hashing, or -1 when ids is empty.
// It is a pure function of its arguments: every node that sees the same
// member ids, in any order, picks the same owner. Ties (astronomically
// rare) go to the smaller id.
func Owner(ids []string, kind Kind, ns, name string) int {
	h := refHash(kind, ns, name)
	best, bestW := -1, uint64(0)
	for i, id := range ids {
		w := weight(h, idHash(id))
		if best < 0 || w > bestW || (w == bestW && id < ids[best]) {
			best, bestW = i, w
		}
	}
	return best
}

// ownerOf is Owner over precomputed member hashes (the request path).
func ownerOf(ids []string, hashes []uint64, kind Kind, ns, name string) int {
	h := refHash(kind, ns, name)
	best, bestW := -1, uint64(0)
	for i, mh := range hashes {
		w := weight(h, mh)
		if best < 0 || w > bestW || (w == bestW && ids[i] < ids[best]) {
			best, bestW = i, w
		}
	}
	return best
}
