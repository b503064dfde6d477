package mcp

import (
	"bytes"
	"context"
	"encoding/json"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// StateGetIn is the input of state_get.
type StateGetIn struct {
	Namespace string `json:"namespace,omitempty" jsonschema:"namespace (default: the facade's default namespace; ignored with lease_id)"`
	Key       string `json:"key,omitempty" jsonschema:"key to read (ignored with lease_id)"`
	LeaseID   string `json:"lease_id,omitempty" jsonschema:"read through your lease: you see what you staged; without it you read the committed state"`
	Stream    bool   `json:"stream,omitempty" jsonschema:"always return a stream_id instead of the document"`
}

// StateGetOut is the output of state_get.
type StateGetOut struct {
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	Exists    bool   `json:"exists" jsonschema:"the key has state"`
	Version   int64  `json:"version"`
	ETag      string `json:"etag,omitempty" jsonschema:"pass as if_etag to a later update for compare-and-swap"`
	Document  any    `json:"document,omitempty" jsonschema:"the JSON document, when it is small"`
	StreamID  string `json:"stream_id,omitempty" jsonschema:"the document is large: read its JSON bytes with download_read"`
}

// CondIn are the compare-and-swap conditions of a write.
type CondIn struct {
	IfVersion int64  `json:"if_version,omitempty" jsonschema:"write only if the state's version is this (version_conflict otherwise)"`
	IfETag    string `json:"if_etag,omitempty" jsonschema:"write only if the state's etag is this (etag_mismatch otherwise)"`
}

func (in CondIn) opts() []sdk.UpdateOption {
	var o []sdk.UpdateOption
	if in.IfVersion > 0 {
		o = append(o, sdk.IfVersion(in.IfVersion))
	}
	if in.IfETag != "" {
		o = append(o, sdk.IfETag(in.IfETag))
	}
	return o
}

// StateUpdateIn is the input of state_update.
type StateUpdateIn struct {
	LeaseID  string `json:"lease_id"`
	Document any    `json:"document" jsonschema:"the new JSON document (replaces the whole state)"`
	CondIn
}

// WriteOut is the output of a staged write.
type WriteOut struct {
	NewVersion int64  `json:"new_version" jsonschema:"the version the key gets when the lease is released"`
	NewETag    string `json:"new_etag,omitempty"`
	Bytes      int64  `json:"bytes,omitempty"`
	Staged     bool   `json:"staged" jsonschema:"true: visible to others only after lock_release commits"`
}

// LeaseIn names a lease of the session.
type LeaseIn struct {
	LeaseID string `json:"lease_id"`
	CondIn
}

// RemoveOut is the output of state_remove.
type RemoveOut struct {
	Removed    bool  `json:"removed"`
	NewVersion int64 `json:"new_version"`
	Staged     bool  `json:"staged"`
}

// MetadataIn is the input of state_metadata.
type MetadataIn struct {
	LeaseID     string `json:"lease_id"`
	QueryHidden bool   `json:"query_hidden" jsonschema:"hide the key from query results (it stays readable by key)"`
}

// MetadataOut is the output of state_metadata.
type MetadataOut struct {
	Version     int64 `json:"version"`
	QueryHidden bool  `json:"query_hidden"`
	Staged      bool  `json:"staged"`
}

// MutateIn is the input of state_mutate.
type MutateIn struct {
	LeaseID   string   `json:"lease_id"`
	Mutations []string `json:"mutations" jsonschema:"LQL mutations applied in order on the server, e.g. /status=\"done\" or /count++ or /tags/-=\"x\""`
	CondIn
}

func (f *Facade) addStateTools() {
	tool(f, &sdkmcp.Tool{Name: "state_get", Annotations: readOnly("Read a key's state"),
		Description: "Read a key's JSON state. With lease_id you read through your lease and see what you staged; without it you read the committed state (no lease needed). " +
			"Small documents come back in document; large ones as stream_id (read with download_read)."}, f.stateGet)
	tool(f, &sdkmcp.Tool{Name: "state_update", Annotations: mutating("Replace a key's state", true),
		Description: "Stage a new JSON document as the key's state under your lease (committed by lock_release). Use if_version or if_etag from state_get for compare-and-swap. " +
			"For documents too large for one call use upload_begin with target state."}, f.stateUpdate)
	tool(f, &sdkmcp.Tool{Name: "state_remove", Annotations: mutating("Delete a key's state", true),
		Description: "Stage the deletion of the key's state under your lease (committed by lock_release)."}, f.stateRemove)
	tool(f, &sdkmcp.Tool{Name: "state_metadata", Annotations: mutating("Set a key's metadata", false),
		Description: "Stage metadata of the key under your lease without rewriting the state: query_hidden hides it from query results."}, f.stateMetadata)
	tool(f, &sdkmcp.Tool{Name: "state_mutate", Annotations: mutating("Mutate a key's state with LQL", true),
		Description: "Apply LQL mutations to the key's state on the server under your lease and stage the result, e.g. [\"/status=\\\"done\\\"\", \"/attempts++\"]. Cheaper than get + update for small edits."}, f.stateMutate)
}

func (f *Facade) stateGet(ctx context.Context, c *call, in StateGetIn) (StateGetOut, error) {
	d := f.detachable(ctx)
	g, err := f.openState(d.ctx, c, in)
	if err != nil {
		d.fail()
		return StateGetOut{}, err
	}
	body := d.detach(g)
	out := StateGetOut{Namespace: g.Namespace, Key: g.Key, Exists: g.HasState, Version: g.Version, ETag: g.ETag}
	if !g.HasState {
		body.Close()
		return out, nil
	}
	p, err := c.payload(body, -1, "application/json", in.Stream)
	if err != nil {
		return StateGetOut{}, err
	}
	if p.StreamID != "" {
		out.StreamID = p.StreamID
		return out, nil
	}
	if err := json.Unmarshal([]byte(p.Text), &out.Document); err != nil {
		return StateGetOut{}, &ToolError{Code: api.CodeInternal, Detail: "state is not JSON: " + err.Error()}
	}
	return out, nil
}

// openState starts reading a key's state, through a lease or committed.
func (f *Facade) openState(ctx context.Context, c *call, in StateGetIn) (*sdk.GetResponse, error) {
	if in.LeaseID != "" {
		l, err := c.leaseFor(in.LeaseID, tlsutil.AccessRead)
		if err != nil {
			return nil, err
		}
		return l.ls.Get(ctx)
	}
	if in.Key == "" {
		return nil, errArg("give key (committed read) or lease_id (read through your lease)")
	}
	ns, err := c.ns(in.Namespace, tlsutil.AccessRead)
	if err != nil {
		return nil, err
	}
	return f.cfg.Client.Get(ctx, in.Key, sdk.WithNamespace(ns))
}

// leaseFor returns a lease of the session after checking that the
// principal may access its namespace so.
func (c *call) leaseFor(id string, access tlsutil.Access) (*heldLease, error) {
	l, err := c.s.lease(id)
	if err != nil {
		return nil, err
	}
	return l, c.allow(l.ls.Namespace, access)
}

func (f *Facade) stateUpdate(ctx context.Context, c *call, in StateUpdateIn) (WriteOut, error) {
	l, err := c.leaseFor(in.LeaseID, tlsutil.AccessWrite)
	if err != nil {
		return WriteOut{}, err
	}
	if in.Document == nil {
		return WriteOut{}, errArg("document is required (use state_remove to delete the state)")
	}
	doc, err := json.Marshal(in.Document)
	if err != nil {
		return WriteOut{}, errArg("document: " + err.Error())
	}
	res, err := l.ls.Update(ctx, bytes.NewReader(doc), in.opts()...)
	if err != nil {
		return WriteOut{}, err
	}
	return writeOut(res), nil
}

func writeOut(res *api.UpdateResponse) WriteOut {
	return WriteOut{NewVersion: res.NewVersion, NewETag: res.NewStateETag, Bytes: res.Bytes, Staged: true}
}

func (f *Facade) stateRemove(ctx context.Context, c *call, in LeaseIn) (RemoveOut, error) {
	l, err := c.leaseFor(in.LeaseID, tlsutil.AccessWrite)
	if err != nil {
		return RemoveOut{}, err
	}
	res, err := l.ls.Remove(ctx, in.opts()...)
	if err != nil {
		return RemoveOut{}, err
	}
	return RemoveOut{Removed: res.Removed, NewVersion: res.NewVersion, Staged: true}, nil
}

func (f *Facade) stateMetadata(ctx context.Context, c *call, in MetadataIn) (MetadataOut, error) {
	l, err := c.leaseFor(in.LeaseID, tlsutil.AccessWrite)
	if err != nil {
		return MetadataOut{}, err
	}
	hidden := in.QueryHidden
	res, err := l.ls.UpdateMetadata(ctx, api.MetadataMutation{QueryHidden: &hidden})
	if err != nil {
		return MetadataOut{}, err
	}
	return MetadataOut{Version: res.Version, QueryHidden: res.Metadata.QueryHidden, Staged: true}, nil
}

func (f *Facade) stateMutate(ctx context.Context, c *call, in MutateIn) (WriteOut, error) {
	l, err := c.leaseFor(in.LeaseID, tlsutil.AccessWrite)
	if err != nil {
		return WriteOut{}, err
	}
	if len(in.Mutations) == 0 {
		return WriteOut{}, errArg("mutations is empty")
	}
	res, err := l.ls.Mutate(ctx, in.Mutations, in.opts()...)
	if err != nil {
		return WriteOut{}, err
	}
	return writeOut(res), nil
}
