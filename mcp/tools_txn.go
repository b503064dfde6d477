package mcp

import (
	"context"
	"slices"
	"strings"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/names"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// TxnKey names one key of a transaction.
type TxnKey struct {
	Namespace string `json:"namespace,omitempty" jsonschema:"namespace (default: the transaction's namespace)"`
	Key       string `json:"key"`
}

// TxnBeginIn is the input of txn_begin.
type TxnBeginIn struct {
	Namespace    string   `json:"namespace,omitempty" jsonschema:"default namespace of the keys (default: the facade's)"`
	Keys         []TxnKey `json:"keys" jsonschema:"the keys to lease, all in one transaction"`
	Owner        string   `json:"owner,omitempty"`
	TTLSeconds   int64    `json:"ttl_seconds,omitempty" jsonschema:"TTL of every lease (default 30); renew each with lock_keepalive"`
	BlockSeconds int64    `json:"block_seconds,omitempty" jsonschema:"how long to wait for each key held by someone else (0: fail at once)"`
}

// TxnOut is the output of txn_begin.
type TxnOut struct {
	TxnID  string     `json:"txn_id"`
	Leases []LeaseOut `json:"leases" jsonschema:"one lease per key: stage each key's changes with its lease_id"`
}

// TxnIn names a transaction of the session.
type TxnIn struct {
	TxnID string `json:"txn_id"`
}

// TxnEndOut is the output of txn_commit and txn_rollback.
type TxnEndOut struct {
	TxnID      string   `json:"txn_id"`
	Committed  bool     `json:"committed"`
	RolledBack bool     `json:"rolled_back"`
	Keys       []string `json:"keys" jsonschema:"namespace/key of every participant"`
}

func (f *Facade) addTxnTools() {
	tool(f, &sdkmcp.Tool{Name: "txn_begin", Annotations: mutating("Begin a multi-key transaction", false),
		Description: "Lease several keys in one transaction (in a fixed order, so agents cannot deadlock). Stage changes on each key with its lease_id, " +
			"then txn_commit: every key commits, or none does. If any key cannot be leased, the keys already taken are given back and the call fails."}, f.txnBegin)
	tool(f, &sdkmcp.Tool{Name: "txn_commit", Annotations: mutating("Commit a transaction", true),
		Description: "Commit every key of a transaction of this session at once. If a participant's lease was lost the whole transaction rolls back and the call fails with txn_aborted."}, f.txnCommit)
	tool(f, &sdkmcp.Tool{Name: "txn_rollback", Annotations: mutating("Roll back a transaction", true),
		Description: "Discard everything staged in a transaction of this session and release its keys."}, f.txnRollback)
}

func (f *Facade) txnBegin(ctx context.Context, c *call, in TxnBeginIn) (TxnOut, error) {
	if len(in.Keys) == 0 {
		return TxnOut{}, errArg("keys is empty")
	}
	keys := make([]TxnKey, 0, len(in.Keys))
	for _, k := range in.Keys {
		raw := k.Namespace
		if raw == "" {
			raw = in.Namespace
		}
		ns, err := c.ns(raw, tlsutil.AccessAny)
		if err != nil {
			return TxnOut{}, err
		}
		key, err := names.Key(k.Key)
		if err != nil {
			return TxnOut{}, &ToolError{Code: api.CodeInvalidKey, Detail: err.Error()}
		}
		keys = append(keys, TxnKey{Namespace: ns, Key: key})
	}
	slices.SortFunc(keys, func(a, b TxnKey) int { return strings.Compare(a.Namespace+"\x00"+a.Key, b.Namespace+"\x00"+b.Key) })
	keys = slices.Compact(keys)
	ttl := f.cfg.LeaseTTL
	if in.TTLSeconds > 0 {
		ttl = time.Duration(in.TTLSeconds) * time.Second
	}
	out := TxnOut{}
	var taken []*heldLease
	for _, k := range keys {
		req := api.AcquireRequest{Namespace: k.Namespace, Key: k.Key, Owner: c.owner(in.Owner), TTLSeconds: int64(ttl / time.Second),
			BlockSeconds: blockSeconds(in.BlockSeconds), TxnID: out.TxnID}
		ls, err := f.cfg.Client.Acquire(ctx, req, sdk.WithoutKeepAlive())
		if err == nil {
			l := newHeldLease(ls, ttl)
			if err = c.s.addLease(l); err == nil {
				taken = append(taken, l)
				out.TxnID = ls.TxnID
				out.Leases = append(out.Leases, c.leaseOut(l))
				continue
			}
			rollbackQuietly(ls)
		}
		for _, l := range taken {
			rollbackQuietly(l.ls)
			c.s.dropLease(l.ls.LeaseID)
		}
		return TxnOut{}, err
	}
	return out, nil
}

func (f *Facade) txnCommit(ctx context.Context, c *call, in TxnIn) (TxnEndOut, error) {
	return f.txnEnd(ctx, c, in.TxnID, false)
}

func (f *Facade) txnRollback(ctx context.Context, c *call, in TxnIn) (TxnEndOut, error) {
	return f.txnEnd(ctx, c, in.TxnID, true)
}

// txnEnd releases every lease of a transaction. The first release decides
// for all (lockd's coordinator makes the outcome all-or-nothing); the
// others learn the decision.
func (f *Facade) txnEnd(ctx context.Context, c *call, txnID string, rollback bool) (TxnEndOut, error) {
	leases := c.s.txnLeases(txnID)
	if len(leases) == 0 {
		return TxnEndOut{}, &ToolError{Code: CodeTxnNotHeld, Detail: "this session holds no lease of transaction " + txnID}
	}
	out := TxnEndOut{TxnID: txnID, Keys: make([]string, 0, len(leases))}
	var errs []error
	for _, l := range leases {
		var err error
		if rollback {
			err = l.ls.Rollback(ctx)
		} else {
			err = l.ls.Release(ctx)
		}
		if err != nil {
			errs = append(errs, err)
		}
		if err == nil || l.ls.Err() != nil {
			c.s.dropLease(l.ls.LeaseID)
		}
		out.Keys = append(out.Keys, l.ls.Namespace+"/"+l.ls.Key)
	}
	if len(errs) > 0 {
		return TxnEndOut{}, errs[0]
	}
	out.Committed, out.RolledBack = !rollback, rollback
	return out, nil
}
