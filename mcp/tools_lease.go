package mcp

import (
	"context"
	"errors"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// LeaseOut describes a held lease.
type LeaseOut struct {
	Namespace    string `json:"namespace"`
	Key          string `json:"key"`
	LeaseID      string `json:"lease_id" jsonschema:"pass this to every call that works under the lease"`
	TxnID        string `json:"txn_id" jsonschema:"the lease's transaction; pass it as txn_id to lock_acquire to add more keys to it"`
	FencingToken int64  `json:"fencing_token" jsonschema:"strictly increases with every new holder of the key"`
	Owner        string `json:"owner"`
	ExpiresAt    string `json:"expires_at" jsonschema:"RFC 3339 expiry; renew with lock_keepalive before it"`
	ExpiresIn    int64  `json:"expires_in_seconds"`
	Version      int64  `json:"version" jsonschema:"committed state version when the lease was granted (0: no state yet)"`
	StateETag    string `json:"state_etag,omitempty"`
}

func (c *call) leaseOut(l *heldLease) LeaseOut {
	ls := l.ls
	exp := ls.ExpiresAt()
	return LeaseOut{Namespace: ls.Namespace, Key: ls.Key, LeaseID: ls.LeaseID, TxnID: ls.TxnID,
		FencingToken: ls.FencingToken, Owner: ls.Owner, ExpiresAt: exp.UTC().Format(time.RFC3339),
		ExpiresIn: max(int64(exp.Sub(c.f.cfg.Clock.Now()).Seconds()), 0), Version: ls.Version, StateETag: ls.StateETag}
}

// AcquireIn is the input of lock_acquire.
type AcquireIn struct {
	Namespace    string `json:"namespace,omitempty" jsonschema:"namespace of the key (default: the facade's default namespace)"`
	Key          string `json:"key,omitempty" jsonschema:"key to lease; empty makes the server generate a key"`
	Owner        string `json:"owner,omitempty" jsonschema:"who holds the lease, shown by lock_describe (default: this MCP client)"`
	TTLSeconds   int64  `json:"ttl_seconds,omitempty" jsonschema:"lease duration in seconds (default 30); renew with lock_keepalive"`
	BlockSeconds int64  `json:"block_seconds,omitempty" jsonschema:"how long to wait if someone else holds the key (0: fail at once with error waiting; at most 600)"`
	IfNotExists  bool   `json:"if_not_exists,omitempty" jsonschema:"fail with already_exists if the key already has state"`
	TxnID        string `json:"txn_id,omitempty" jsonschema:"join an existing transaction of this session (txn_id of another lease): all its keys then commit or roll back together"`
}

// KeepAliveIn is the input of lock_keepalive.
type KeepAliveIn struct {
	LeaseID    string `json:"lease_id"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty" jsonschema:"new duration from now (default: the lease's TTL)"`
}

// ReleaseIn is the input of lock_release.
type ReleaseIn struct {
	LeaseID  string `json:"lease_id"`
	Rollback bool   `json:"rollback,omitempty" jsonschema:"discard what was staged instead of committing it"`
}

// ReleaseOut is the output of lock_release.
type ReleaseOut struct {
	Released   bool   `json:"released"`
	Committed  bool   `json:"committed" jsonschema:"staged changes were committed"`
	RolledBack bool   `json:"rolled_back"`
	Namespace  string `json:"namespace"`
	Key        string `json:"key"`
}

// KeyIn names a key.
type KeyIn struct {
	Namespace string `json:"namespace,omitempty" jsonschema:"namespace (default: the facade's default namespace)"`
	Key       string `json:"key"`
}

// DescribeOut is the output of lock_describe.
type DescribeOut struct {
	Namespace   string `json:"namespace"`
	Key         string `json:"key"`
	Held        bool   `json:"held" jsonschema:"someone holds a lease on the key"`
	Owner       string `json:"owner,omitempty"`
	LeaseID     string `json:"lease_id,omitempty"`
	ExpiresAt   string `json:"expires_at,omitempty"`
	Version     int64  `json:"version" jsonschema:"committed state version (0: no state)"`
	StateETag   string `json:"state_etag,omitempty"`
	UpdatedAt   string `json:"updated_at,omitempty"`
	QueryHidden bool   `json:"query_hidden,omitempty"`
}

// LeaseListOut is the output of lock_list.
type LeaseListOut struct {
	Leases []LeaseOut `json:"leases"`
}

func (f *Facade) addLeaseTools() {
	tool(f, &sdkmcp.Tool{Name: "lock_acquire", Annotations: mutating("Acquire a lease", false),
		Description: "Take the exclusive lease on a key. Returns lease_id (pass it to state_*, attachment_* and lock_* calls), txn_id and a fencing_token. " +
			"Changes staged under the lease become visible only when lock_release commits them. The lease expires after ttl_seconds unless renewed with lock_keepalive; " +
			"if the key is held by someone else the call fails with error waiting, or waits up to block_seconds."}, f.acquire)
	tool(f, &sdkmcp.Tool{Name: "lock_keepalive", Annotations: mutating("Renew a lease", false),
		Description: "Extend a lease of this session to now + ttl_seconds. Call it before expires_in_seconds runs out while you still work on the key."}, f.keepAlive)
	tool(f, &sdkmcp.Tool{Name: "lock_release", Annotations: mutating("Release a lease", true),
		Description: "End a lease: commit what was staged under it (state, metadata, attachments), or discard it with rollback=true. " +
			"For a lease in a multi-key transaction this decides the whole transaction (prefer txn_commit / txn_rollback)."}, f.release)
	tool(f, &sdkmcp.Tool{Name: "lock_describe", Annotations: readOnly("Describe a key"),
		Description: "Show who holds a key's lease (if anyone), until when, and the key's committed version, etag and metadata. Needs no lease."}, f.describe)
	tool(f, &sdkmcp.Tool{Name: "lock_list", Annotations: readOnly("List my leases"),
		Description: "List the leases this MCP session holds, soonest expiry first."}, f.listLeases)
}

func blockSeconds(n int64) int64 {
	if n <= 0 {
		return sdk.BlockNoWait
	}
	return min(n, MaxBlockSeconds)
}

func (f *Facade) acquire(ctx context.Context, c *call, in AcquireIn) (LeaseOut, error) {
	ns, err := c.ns(in.Namespace, tlsutil.AccessAny)
	if err != nil {
		return LeaseOut{}, err
	}
	ttl := f.cfg.LeaseTTL
	if in.TTLSeconds > 0 {
		ttl = time.Duration(in.TTLSeconds) * time.Second
	}
	if in.TxnID != "" && len(c.s.txnLeases(in.TxnID)) == 0 {
		return LeaseOut{}, &ToolError{Code: CodeTxnNotHeld, Detail: "this session holds no lease of transaction " + in.TxnID}
	}
	req := api.AcquireRequest{Namespace: ns, Key: in.Key, Owner: c.owner(in.Owner), TTLSeconds: int64(ttl / time.Second),
		BlockSeconds: blockSeconds(in.BlockSeconds), IfNotExists: in.IfNotExists, TxnID: in.TxnID}
	ls, err := f.cfg.Client.Acquire(ctx, req, sdk.WithoutKeepAlive())
	if err != nil {
		return LeaseOut{}, err
	}
	l := newHeldLease(ls, ttl)
	if err := c.s.addLease(l); err != nil {
		rollbackQuietly(ls)
		return LeaseOut{}, err
	}
	return c.leaseOut(l), nil
}

// rollbackQuietly gives a lease back when the session cannot keep it.
func rollbackQuietly(ls *sdk.LeaseSession) {
	ctx, cancel := context.WithTimeout(context.Background(), sdk.DefaultCloseTimeout)
	defer cancel()
	_ = ls.Rollback(ctx)
}

func (f *Facade) keepAlive(ctx context.Context, c *call, in KeepAliveIn) (LeaseOut, error) {
	l, err := c.s.lease(in.LeaseID)
	if err != nil {
		return LeaseOut{}, err
	}
	ttl := time.Duration(l.ttl.Load())
	if in.TTLSeconds > 0 {
		ttl = time.Duration(in.TTLSeconds) * time.Second
	}
	if _, err := l.ls.KeepAlive(ctx, ttl); err != nil {
		if leaseGone(err) {
			c.s.dropLease(in.LeaseID)
		}
		return LeaseOut{}, err
	}
	l.ttl.Store(int64(ttl))
	return c.leaseOut(l), nil
}

func (f *Facade) release(ctx context.Context, c *call, in ReleaseIn) (ReleaseOut, error) {
	l, err := c.s.lease(in.LeaseID)
	if err != nil {
		return ReleaseOut{}, err
	}
	out := ReleaseOut{Namespace: l.ls.Namespace, Key: l.ls.Key}
	if in.Rollback {
		err = l.ls.Rollback(ctx)
		out.RolledBack = err == nil
	} else {
		err = l.ls.Release(ctx)
		out.Committed = err == nil
	}
	if err == nil || l.ls.Err() != nil {
		c.s.dropLease(in.LeaseID)
	}
	if err != nil {
		return ReleaseOut{}, err
	}
	out.Released = true
	return out, nil
}

func (f *Facade) describe(ctx context.Context, c *call, in KeyIn) (DescribeOut, error) {
	ns, err := c.ns(in.Namespace, tlsutil.AccessRead)
	if err != nil {
		return DescribeOut{}, err
	}
	d, err := f.cfg.Client.Describe(ctx, in.Key, sdk.WithNamespace(ns))
	if err != nil {
		return DescribeOut{}, err
	}
	out := DescribeOut{Namespace: d.Namespace, Key: d.Key, Held: d.LeaseID != "", Owner: d.Owner, LeaseID: d.LeaseID,
		Version: d.Version, StateETag: d.StateETag, QueryHidden: d.Metadata.QueryHidden}
	if d.ExpiresAtUnix > 0 {
		out.ExpiresAt = unixTime(d.ExpiresAtUnix)
	}
	if d.UpdatedAtUnix > 0 {
		out.UpdatedAt = unixTime(d.UpdatedAtUnix)
	}
	return out, nil
}

func unixTime(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

func (f *Facade) listLeases(_ context.Context, c *call, _ struct{}) (LeaseListOut, error) {
	out := LeaseListOut{Leases: []LeaseOut{}}
	for _, l := range c.s.leaseList() {
		out.Leases = append(out.Leases, c.leaseOut(l))
	}
	return out, nil
}

// leaseGone reports an answer that means the lease no longer exists.
func leaseGone(err error) bool {
	return errors.Is(err, sdk.ErrLeaseRequired) || errors.Is(err, sdk.ErrLeaseExpired) || errors.Is(err, sdk.ErrFencingMismatch)
}
