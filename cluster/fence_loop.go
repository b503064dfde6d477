package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Serving reports whether this node may serve the refs it owns now: it
// has fresh evidence that a quorum of its members sees it alive, and it
// has taken its refs over (the hand-off barrier; see fence.go). A node
// that is not serving answers requests for its refs with a retryable
// 503 and drops its actors, so that it reloads from the store when it
// serves again.
func (c *Cluster) Serving() bool { return !c.leaving.Load() && c.fence.servingAt(time.Now()) }

// Settling reports whether this node is about to serve its refs: it has
// a quorum but waits for every member to show it alive, then for the
// hand-off grace (fence.go).
func (c *Cluster) Settling() bool { return !c.leaving.Load() && c.fence.settling(time.Now()) }

// AwaitServing reports whether this node serves its refs, waiting up to
// d for that while it is settling; a node cut off from its quorum is
// answered at once.
func (c *Cluster) AwaitServing(d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		changed := c.Changed()
		if c.Serving() {
			return true
		}
		if !c.Settling() {
			return false
		}
		select {
		case <-changed:
		case <-deadline.C:
			return c.Serving()
		}
	}
}

// FenceAfter is how long evidence of membership is good for; 0 when
// self-fencing is off.
func (c *Cluster) FenceAfter() time.Duration { return c.fence.after }

// fenceLoop gathers evidence from the peers several times per FenceAfter
// and at every membership change, and re-evaluates the fence; a change
// of Serving is published like a membership change (Changed), so the
// server drops its actors at once.
func (c *Cluster) fenceLoop() {
	defer c.wg.Done()
	if c.fence.after == 0 {
		return
	}
	interval := c.fence.after / 5
	timeout := min(2*interval, c.fence.after/2)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		changed := c.Changed()
		c.reevaluate()
		c.gather(timeout)
		c.reevaluate()
		// Wake when the node takes its refs over, to publish it.
		var takeOver <-chan time.Time
		var t *time.Timer
		if at := c.fence.takeOverAt(); !at.IsZero() && time.Now().Before(at) {
			t = time.NewTimer(time.Until(at))
			takeOver = t.C
		}
		select {
		case <-c.stop:
		case <-tick.C:
		case <-changed:
		case <-takeOver:
		}
		if t != nil {
			t.Stop()
		}
		select {
		case <-c.stop:
			return
		default:
		}
	}
}

// reevaluate evaluates the fence and the hand-off barrier and publishes
// a change of Serving.
func (c *Cluster) reevaluate() {
	now := time.Now()
	// Joined before the view: a join publishes the members it met before
	// it counts as joined, so a joined node never settles on the view it
	// had alone before.
	joined := c.Ready()
	live := c.Live()
	quorum, changed := c.fence.evaluate(now, live)
	switch {
	case changed && quorum:
		c.log.Info().Msg("a quorum of the members sees this node alive again: it serves the refs it owns once every member sees it")
	case changed:
		c.log.Warn().Dur("after", c.fence.after).Msg("no fresh evidence that a quorum of the members sees this node alive: not serving the refs it owns (503) until it has")
	}
	if c.fence.settle(now, live, joined) {
		c.log.Info().Time("from", c.fence.takeOverAt()).Int("members", len(live)).
			Msg("every member sees this node alive: it serves the refs it owns after the hand-off grace")
	}
	serving := c.fence.servingAt(now)
	if c.shown.Swap(serving) == serving {
		return
	}
	c.mu.Lock()
	c.changeLocked()
	c.mu.Unlock()
}

// gather asks every peer of the reference set and the view, in
// parallel, for two things: a gossip ping (memberlist's, over the gossip
// network both ways), and its member list over its API, bounded by
// timeout. Both are needed: a peer acks pings from a node it declared
// dead, and memberlist's member list does not show whom a peer suspects.
// A peer that acks and lists this node as a member shows that the gossip
// between them works, so any suspicion of this node reaches it and is
// refuted; a peer cannot declare it dead sooner than a suspicion timeout
// after that.
func (c *Cluster) gather(timeout time.Duration) {
	var wg sync.WaitGroup
	for _, m := range c.fence.targets(c.Live()) {
		addr, err := net.ResolveUDPAddr("udp", m.Gossip)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			if _, err := c.ml.Ping(m.ID, addr); err != nil {
				c.log.Debug().Err(err).Str("member", m.ID).Msg("no gossip ack from the member")
				return
			}
			peer, view, err := c.seesMe(m.Endpoint, timeout)
			if err != nil {
				c.log.Debug().Err(err).Str("member", m.ID).Msg("no member list from the member")
				return
			}
			if peer == m.ID {
				c.fence.saw(peer, sent, view)
			}
		}()
	}
	wg.Wait()
}

// seesMe asks the node at apiURL for its member list and returns its id
// and the members it shows owning when it shows this node owning (alive
// or suspect, which memberlist's list does not tell apart); "" when it
// does not (it declared this node dead, or never heard of it).
func (c *Cluster) seesMe(apiURL string, timeout time.Duration) (string, map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(apiURL, "/")+MembersPath, nil)
	if err != nil {
		return "", nil, err
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("cluster: %s%s: %d", apiURL, MembersPath, resp.StatusCode)
	}
	var list struct {
		Members []struct {
			ID    string `json:"id"`
			State string `json:"state"`
			Self  bool   `json:"self"`
		} `json:"members"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return "", nil, fmt.Errorf("cluster: %s%s: %w", apiURL, MembersPath, err)
	}
	peer, alive, view := "", false, map[string]bool{}
	for _, m := range list.Members {
		if m.Self {
			peer = m.ID
		}
		if m.ID == c.cfg.ID && State(m.State).Owning() {
			alive = true
		}
		if State(m.State).Owning() {
			view[m.ID] = true
		}
	}
	if !alive || peer == c.cfg.ID {
		return "", nil, nil
	}
	return peer, view, nil
}
