package cluster

import (
	"encoding/json"
	"fmt"
)

// State is a member's state as this node sees it.
type State string

// Member states.
const (
	StateAlive   State = "alive"
	StateSuspect State = "suspect" // missed probes; still owns its refs
	StateDead    State = "dead"    // declared dead by the failure detector
	StateLeft    State = "left"    // left gracefully
)

// Owning reports whether a member in state s owns refs: a suspect keeps
// its refs until it is declared dead, so a slow node does not make keys
// bounce between owners.
func (s State) Owning() bool { return s == StateAlive || s == StateSuspect }

// Member is one lockd node.
type Member struct {
	// ID is the node's identity (an xid made at its start).
	ID string
	// Endpoint is the node's API base URL (--self).
	Endpoint string
	// Gossip is the node's gossip address (host:port).
	Gossip  string
	State   State
	Version string
	Roles   []string
	// Self marks this node.
	Self bool
}

// meta is what a node gossips about itself (memberlist node metadata,
// at most 512 bytes).
type meta struct {
	Endpoint string   `json:"e"`
	Version  string   `json:"v,omitempty"`
	Roles    []string `json:"r,omitempty"`
	// Leaving is set by a node that is leaving gracefully: it owns
	// nothing from then on, and its departure is a leave, not a death.
	Leaving bool `json:"l,omitempty"`
}

// maxMeta is memberlist's limit on node metadata.
const maxMeta = 512

func (m meta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > maxMeta {
		return nil, fmt.Errorf("cluster: node metadata is %d bytes, over %d (shorter --self or fewer roles)", len(b), maxMeta)
	}
	return b, nil
}

func decodeMeta(b []byte) meta {
	var m meta
	_ = json.Unmarshal(b, &m) // a node with unreadable metadata has no endpoint
	return m
}
