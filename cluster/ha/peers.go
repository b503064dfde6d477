package ha

import "time"

// Peers tells how many other lockd nodes are alive on this store. An auto
// node turns its lease from "single" into "failover" when it is above
// zero. The cluster package's membership can implement it; without one,
// the controller counts the member records in the store.
type Peers interface {
	// LivePeers is the number of live nodes other than this one.
	LivePeers() int
}

// livePeers counts the member records of other nodes that have not
// expired by now (their writers' clocks) and whose process is not proven
// dead. Only auto's promotion depends on it: an error here makes the
// promotion early or late, never unsafe.
func livePeers(now time.Time, self string, members []MemberView, p Prober) int {
	n := 0
	for _, m := range members {
		if m.Rec.Node.ID != self && m.Rec.ExpiresAt > now.UnixMilli() && !p.Dead(m.Rec.Node) {
			n++
		}
	}
	return n
}
