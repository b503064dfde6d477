package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// joinLoop joins the seeds, retrying until one answers, and afterwards
// rejoins whenever this node finds itself alone although it has seeds
// (every other node restarted, or a partition healed): memberlist does
// not look for lost peers by itself.
func (c *Cluster) joinLoop() {
	defer close(c.done)
	seeds := c.cfg.Join
	if len(seeds) == 0 {
		c.joined.Store(true)
		return
	}
	retry := c.cfg.JoinRetry
	for {
		alone := c.ml.NumMembers() <= 1
		if !c.joined.Load() || alone {
			addrs, bootstrap := c.resolveSeeds(seeds)
			if bootstrap && !c.joined.Load() {
				// This node is one of its own seeds: it may start the
				// cluster alone, and others join it.
				c.joined.Store(true)
				c.log.Info().Msg("bootstrap: this node is one of its seeds")
			}
			if len(addrs) > 0 {
				n, err := c.ml.Join(addrs)
				if n > 0 {
					if !c.joined.Swap(true) {
						c.log.Info().Int("contacted", n).Strs("seeds", addrs).Msg("joined the cluster")
					}
					retry = 5 * c.cfg.JoinRetry
				} else if err != nil {
					c.log.Warn().Err(err).Strs("seeds", addrs).Msg("join failed; retrying")
				}
			}
		}
		select {
		case <-c.stop:
			return
		case <-time.After(retry):
		}
	}
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
