package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// joinLoop joins the seeds, retrying until one answers. Afterwards it
// rejoins whenever this node finds itself alone although it has seeds
// (every other node restarted, or a partition healed) or is not serving
// (fence.go: the others may have declared it dead), and it joins the
// members it saw die within RejoinWindow: memberlist never probes a
// member it declared dead, so after a partition heals the two sides only
// meet again because one of them reaches for the other.
func (c *Cluster) joinLoop() {
	defer c.wg.Done()
	seeds := c.cfg.Join
	if len(seeds) == 0 {
		c.joined.Store(true)
	}
	var lastDead time.Time
	for {
		if len(seeds) > 0 && (!c.joined.Load() || c.ml.NumMembers() <= 1 || !c.fence.quorumAt(time.Now())) {
			c.joinSeeds(seeds)
		}
		if now := time.Now(); now.Sub(lastDead) >= 5*c.cfg.JoinRetry {
			lastDead = now
			if addrs := c.recentlyDead(now); len(addrs) > 0 && !c.rejoining.Swap(true) {
				// In the background: a join of an address that drops
				// packets waits for memberlist's TCP timeout.
				c.wg.Add(1)
				go func() {
					defer c.wg.Done()
					defer c.rejoining.Store(false)
					if n, _ := c.ml.Join(addrs); n > 0 {
						c.log.Info().Int("contacted", n).Strs("gossip", addrs).Msg("rejoined members seen dead")
					}
				}()
			}
		}
		select {
		case <-c.stop:
			return
		case <-time.After(c.cfg.JoinRetry):
		}
	}
}

// joinSeeds joins the seeds once. A node that is one of its own seeds
// starts the cluster alone only when no other seed answers: a seed
// restarted while the others run joins them rather than serve every ref
// alone for a moment.
func (c *Cluster) joinSeeds(seeds []string) {
	addrs, bootstrap := c.resolveSeeds(seeds)
	var n int
	var err error
	if len(addrs) > 0 {
		n, err = c.ml.Join(addrs)
	}
	switch {
	case n > 0 && !c.joined.Swap(true):
		c.log.Info().Int("contacted", n).Strs("seeds", addrs).Msg("joined the cluster")
	case n > 0 || c.joined.Load():
	case bootstrap:
		// This node is one of its own seeds: it may start the cluster
		// alone, and others join it.
		c.joined.Store(true)
		c.log.Info().Msg("bootstrap: this node is one of its seeds and no other seed answered; starting the cluster")
	case err != nil:
		c.log.Warn().Err(err).Strs("seeds", addrs).Msg("join failed; retrying")
	}
}

// RejoinWindow is how long after a member was declared dead this node
// keeps trying to join it again (a partition that heals, or a node
// restarted on the same gossip address).
const RejoinWindow = 5 * time.Minute

// DepartedRetention is how long a dead or departed member stays in
// Members; then it is forgotten, so that a cluster whose nodes restart
// with new identities does not accumulate them.
const DepartedRetention = time.Hour

// recentlyDead returns the gossip addresses of the members declared dead
// within RejoinWindow that no live member uses now. Members departed
// longer than DepartedRetention ago are forgotten.
func (c *Cluster) recentlyDead(now time.Time) []string {
	live := map[string]bool{}
	for _, m := range c.Live() {
		live[m.Gossip] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id, m := range c.departed {
		at := c.departedAt[id]
		if now.Sub(at) > DepartedRetention {
			delete(c.departed, id)
			delete(c.departedAt, id)
			continue
		}
		if m.State != StateDead || m.Gossip == "" || now.Sub(at) > RejoinWindow {
			continue
		}
		if !live[m.Gossip] && !slices.Contains(out, m.Gossip) {
			out = append(out, m.Gossip)
		}
	}
	return out
}

// resolveSeeds turns the seeds into gossip addresses, leaving this node
// out; bootstrap reports that this node was one of them. A seed given as
// an API URL is asked for its gossip address; one that does not answer is
// skipped this round.
func (c *Cluster) resolveSeeds(seeds []string) (addrs []string, bootstrap bool) {
	for _, s := range seeds {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			continue
		case strings.TrimRight(s, "/") == strings.TrimRight(c.cfg.Self, "/") || s == c.self.Gossip:
			bootstrap = true
			continue
		case strings.Contains(s, "://"):
			g, err := c.gossipOf(s)
			if err != nil {
				c.log.Debug().Err(err).Str("seed", s).Msg("seed did not answer")
				continue
			}
			if g == c.self.Gossip {
				bootstrap = true
				continue
			}
			s = g
		}
		addrs = append(addrs, s)
	}
	return addrs, bootstrap
}

// MembersPath is the API path that lists a node's members; seeds given as
// API URLs are resolved through it.
const MembersPath = "/v1/cluster/members"

// gossipOf asks the node at apiURL for its own gossip address.
func (c *Cluster) gossipOf(apiURL string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(apiURL, "/")+MembersPath, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("cluster: %s%s: %d %s", apiURL, MembersPath, resp.StatusCode, body)
	}
	var list struct {
		Members []struct {
			Gossip string `json:"gossip"`
			Self   bool   `json:"self"`
		} `json:"members"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return "", fmt.Errorf("cluster: %s%s: %w", apiURL, MembersPath, err)
	}
	for _, m := range list.Members {
		if m.Self && m.Gossip != "" {
			return m.Gossip, nil
		}
	}
	return "", fmt.Errorf("cluster: %s%s names no gossip address of its own", apiURL, MembersPath)
}
