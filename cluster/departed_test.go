package cluster

import (
	"slices"
	"testing"
	"time"
)

// A dead member is rejoined for RejoinWindow and listed for
// DepartedRetention; a member that left is listed as long but never
// rejoined; both are forgotten after DepartedRetention.
func TestDepartedMembersAreForgotten(t *testing.T) {
	c := &Cluster{members: map[string]Member{}, departed: map[string]Member{}, departedAt: map[string]time.Time{}}
	c.view.Store(&view{})
	now := time.Now()
	c.departed["dead"] = Member{ID: "dead", State: StateDead, Gossip: "127.0.0.1:1"}
	c.departedAt["dead"] = now
	c.departed["left"] = Member{ID: "left", State: StateLeft, Gossip: "127.0.0.1:2"}
	c.departedAt["left"] = now
	if got := c.recentlyDead(now.Add(time.Minute)); !slices.Equal(got, []string{"127.0.0.1:1"}) {
		t.Fatalf("rejoin list after a minute: %v", got)
	}
	if got := c.recentlyDead(now.Add(RejoinWindow + time.Minute)); len(got) != 0 {
		t.Fatalf("rejoin list past the window: %v", got)
	}
	if n := len(c.Members()); n != 2 {
		t.Fatalf("members listed within the retention: %d, want 2", n)
	}
	c.recentlyDead(now.Add(DepartedRetention + time.Minute))
	if ms := c.Members(); len(ms) != 0 || len(c.departedAt) != 0 {
		t.Fatalf("after the retention: %v (%d times kept)", ms, len(c.departedAt))
	}
}
