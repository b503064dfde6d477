package ha

import (
	"errors"
	"fmt"
	"time"
)

// ErrFenced is returned when a single-mode node finds another node
// serving the store, so it must not start.
var ErrFenced = errors.New("ha: another lockd node serves this store")

// singleConflict returns why a single-mode node self must not serve at
// now, given the lease and the member records; "" when nothing stops it.
// Times in the records are their writers' wall clocks: a single-mode
// presence catches a configuration mistake, it is not a lease, and its
// TTL (minutes) dwarfs clock offsets between hosts.
func singleConflict(now time.Time, self NodeInfo, lease LeaseView, members []MemberView, p Prober) string {
	ms := now.UnixMilli()
	if l := lease.Rec; lease.Present && !l.Released && l.Holder.ID != self.ID && l.ExpiresAt > ms && !p.Dead(l.Holder) {
		return fmt.Sprintf("node %s holds the %s lease %s until %s", l.Holder, l.Mode, LeaseKey, time.UnixMilli(l.ExpiresAt).UTC().Format(time.RFC3339))
	}
	for _, m := range members {
		r := m.Rec
		if r.Node.ID == self.ID || r.ExpiresAt <= ms || p.Dead(r.Node) {
			continue
		}
		if r.Mode == Single || r.Active {
			return fmt.Sprintf("node %s runs in %s mode; its presence record %s lasts until %s", r.Node, r.Mode, MemberKey(r.Node.ID),
				time.UnixMilli(r.ExpiresAt).UTC().Format(time.RFC3339))
		}
	}
	return ""
}

// fencedError explains a refused start.
func fencedError(why string) error {
	return fmt.Errorf("%w: %s. This node runs with --ha single, which requires it to be the only node on its store: "+
		"stop the other node, or run this one with --ha failover or --ha auto to stand by behind it; "+
		"if that node is gone for good, wait until its record expires or delete the record", ErrFenced, why)
}
