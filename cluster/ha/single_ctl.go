package ha

import (
	"context"
	"errors"
	"time"

	"github.com/lockdhq/lockd/store"
)

// singleRefresh is how often a single-mode node rewrites its presence.
func (c *Controller) singleRefresh() time.Duration { return c.cfg.PresenceTTL / 4 }

// startSingle refuses to start when another node serves the store, then
// writes this node's presence and checks again, so that of two single
// nodes started at once at least one refuses.
func (c *Controller) startSingle(ctx context.Context) error {
	if why, err := c.singleCheck(ctx); err != nil {
		return err
	} else if why != "" {
		return fencedError(why)
	}
	if err := c.writePresence(ctx); err != nil {
		return err
	}
	why, err := c.singleCheck(ctx)
	if err == nil && why == "" {
		u := farFuture
		c.until.Store(&u)
		c.log.Info().Dur("presence_ttl", c.cfg.PresenceTTL).Msg("serving alone; presence record written")
		return nil
	}
	if derr := c.st.Delete(ctx, MemberKey(c.cfg.Node.ID), store.Cond{}); derr != nil && !errors.Is(derr, store.ErrNotFound) {
		c.log.Warn().Err(derr).Msg("deleting the presence record failed")
	}
	if err != nil {
		return err
	}
	return fencedError(why)
}

func (c *Controller) singleCheck(ctx context.Context) (string, error) {
	lease, err := ReadLease(ctx, c.st)
	if err != nil {
		return "", err
	}
	members, err := ReadMembers(ctx, c.st)
	if err != nil {
		return "", err
	}
	return singleConflict(c.clk.Now(), c.cfg.Node, lease, members, c.cfg.Prober), nil
}

func (c *Controller) writePresence(ctx context.Context) error {
	now := c.clk.Now()
	rec := MemberRecord{Node: c.cfg.Node, Mode: Single, Active: true, UpdatedAt: now.UnixMilli(),
		ExpiresAt: now.Add(c.cfg.PresenceTTL).UnixMilli()}
	_, err := c.st.Put(ctx, MemberKey(c.cfg.Node.ID), encode(rec), store.Cond{})
	return err
}

// singleTickLocked refreshes the presence and reports, loudly, another
// node serving the same store (which should have refused to start). A
// single node keeps serving: it is the one the operator chose.
func (c *Controller) singleTickLocked() {
	ctx, cancel := context.WithTimeout(context.Background(), c.singleRefresh())
	defer cancel()
	if err := c.writePresence(ctx); err != nil {
		c.log.Warn().Err(err).Msg("refreshing the presence record failed")
	}
	why, err := c.singleCheck(ctx)
	switch {
	case err != nil:
		c.log.Warn().Err(err).Msg("reading HA records failed")
	case why != "":
		c.log.Error().Msg("another node serves this store while this node runs in single mode: " + why)
	}
}
