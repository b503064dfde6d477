package state

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Version is the format version this package writes.
const Version = 1

// State is the facade's OAuth configuration. Values returned by Load are
// shared: treat them as read-only and change state with Store.Update.
type State struct {
	Version int `json:"version"`
	// SigningKey signs the access tokens (HS256); 32 random bytes made
	// when the state is created.
	SigningKey []byte `json:"signing_key"`
	// Clients are the registered confidential clients, by ID.
	Clients map[string]*Client `json:"clients"`
}

// Client is a registered confidential client.
type Client struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// SecretHash is the SHA-256 of the client secret.
	SecretHash []byte `json:"secret_hash"`
	// Generation counts secret rotations. Tokens carry the generation
	// they were issued under; a rotation invalidates every earlier token.
	Generation int64 `json:"generation"`
	// RedirectURIs are the exact redirect URIs the authorization code
	// grant may use (none: client credentials only).
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// Namespaces are claim specs ("orders=rw", "reports=r", "ALL=rw"):
	// what the client's tools may touch.
	Namespaces []string  `json:"namespaces"`
	CreatedAt  time.Time `json:"created_at"`
	RotatedAt  time.Time `json:"rotated_at,omitzero"`
	// RevokedAt is set when the client was revoked: it gets no tokens
	// and its tokens are refused.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Revoked reports whether the client was revoked.
func (c *Client) Revoked() bool { return !c.RevokedAt.IsZero() }

// clone deep-copies s, so Update's callback can change it freely.
func (s *State) clone() *State {
	out := &State{Version: s.Version, SigningKey: slices.Clone(s.SigningKey), Clients: make(map[string]*Client, len(s.Clients))}
	for id, c := range s.Clients {
		cc := *c
		cc.SecretHash = slices.Clone(c.SecretHash)
		cc.RedirectURIs = slices.Clone(c.RedirectURIs)
		cc.Namespaces = slices.Clone(c.Namespaces)
		out.Clients[id] = &cc
	}
	return out
}

// ClientList returns the clients sorted by creation time, then ID.
func (s *State) ClientList() []*Client {
	list := slices.Collect(maps.Values(s.Clients))
	slices.SortFunc(list, func(a, b *Client) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return list
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func decode(data []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("%w: format version %d, this lockd reads %d", ErrCorrupt, s.Version, Version)
	}
	if len(s.SigningKey) < 32 {
		return nil, fmt.Errorf("%w: signing key of %d bytes", ErrCorrupt, len(s.SigningKey))
	}
	if s.Clients == nil {
		s.Clients = map[string]*Client{}
	}
	return &s, nil
}
