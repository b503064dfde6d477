package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Serving reports whether this node may serve the refs it owns now: it
// has fresh evidence that a quorum of its members sees it alive (see
// fence.go). A node that is not serving answers requests for its refs
// with a retryable 503 and drops its actors, so that it reloads from the
// store when it serves again.
func (c *Cluster) Serving() bool { return c.fence.servingAt(time.Now()) }

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
		select {
		case <-c.stop:
			return
		case <-tick.C:
		case <-changed:
		}
	}
}

// reevaluate evaluates the fence and publishes a change.
func (c *Cluster) reevaluate() {
	serving, changed := c.fence.evaluate(time.Now(), c.Live())
	if !changed {
		return
	}
	if serving {
		c.log.Info().Msg("a quorum of the members sees this node alive again: serving the refs it owns")
	} else {
		c.log.Warn().Dur("after", c.fence.after).Msg("no fresh evidence that a quorum of the members sees this node alive: not serving the refs it owns (503) until it has")
	}
	c.mu.Lock()
	c.changeLocked()
	c.mu.Unlock()
}

// gather asks every peer of the reference set and the view for its
// member list, in parallel, each bounded by timeout.
func (c *Cluster) gather(timeout time.Duration) {
	var wg sync.WaitGroup
	for _, m := range c.fence.targets(c.Live()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			peer, err := c.seesMe(m.Endpoint, timeout)
			if err != nil {
				c.log.Debug().Err(err).Str("member", m.ID).Msg("no membership evidence from the member")
				return
			}
			if peer != "" {
				c.fence.saw(peer, sent)
			}
		}()
	}
	wg.Wait()
}

// seesMe asks the node at apiURL for its member list and returns its id
// when it shows this node alive, "" when it does not.
func (c *Cluster) seesMe(apiURL string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
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
		return "", fmt.Errorf("cluster: %s%s: %d", apiURL, MembersPath, resp.StatusCode)
	}
	var list struct {
		Members []struct {
			ID    string `json:"id"`
			State string `json:"state"`
			Self  bool   `json:"self"`
		} `json:"members"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return "", fmt.Errorf("cluster: %s%s: %w", apiURL, MembersPath, err)
	}
	peer, alive := "", false
	for _, m := range list.Members {
		if m.Self {
			peer = m.ID
		}
		if m.ID == c.cfg.ID && State(m.State) == StateAlive {
			alive = true
		}
	}
	if !alive || peer == c.cfg.ID {
		return "", nil
	}
	return peer, nil
}
