package tc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rs/xid"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store"
)

// RMPrefix holds the RM registry, one record per backend hash.
const RMPrefix = ".lockd/tc-rm-members/"

// backendIDKey names the store: every node that serves it reads the same
// backend hash.
const backendIDKey = ".lockd/backend-id"

// Backend is a registered resource-manager backend: the API endpoints of
// the nodes serving one store.
type Backend struct {
	Hash      string   `json:"backend_hash"`
	Endpoints []string `json:"endpoints"`
	Updated   int64    `json:"updated_at_unix"`
}

// Registry is the RM registry in a store.
type Registry struct {
	st    store.Backend
	clock clock.Clock
}

// NewRegistry returns the RM registry in st.
func NewRegistry(st store.Backend, c clock.Clock) *Registry {
	if c == nil {
		c = clock.Real{}
	}
	return &Registry{st: st, clock: c}
}

// Register adds endpoint to hash's endpoints.
func (r *Registry) Register(ctx context.Context, hash, endpoint string) (Backend, error) {
	return r.edit(ctx, hash, endpoint, true)
}

// Unregister removes endpoint from hash's endpoints; a backend without
// endpoints is deleted.
func (r *Registry) Unregister(ctx context.Context, hash, endpoint string) (Backend, error) {
	return r.edit(ctx, hash, endpoint, false)
}

func rmKey(hash string) string {
	return RMPrefix + strings.NewReplacer("%", "%25", "/", "%2F").Replace(hash)
}

func (r *Registry) edit(ctx context.Context, hash, endpoint string, add bool) (Backend, error) {
	var out Backend
	err := update(ctx, r.st, rmKey(hash), func(cur []byte) ([]byte, bool, bool, error) {
		b := Backend{Hash: hash}
		if cur != nil {
			if err := json.Unmarshal(cur, &b); err != nil {
				return nil, false, false, fmt.Errorf("tc: rm record %s: %w: %w", hash, store.ErrCorrupt, err)
			}
		}
		set := map[string]bool{}
		for _, e := range b.Endpoints {
			set[e] = true
		}
		if set[endpoint] == add {
			out = b
			return nil, false, true, nil // nothing changes
		}
		if add {
			set[endpoint] = true
		} else {
			delete(set, endpoint)
		}
		b.Endpoints = sorted(set)
		b.Updated = r.clock.Now().Unix()
		out = b
		if len(b.Endpoints) == 0 {
			return nil, true, false, nil
		}
		enc, _ := json.Marshal(b)
		return enc, false, false, nil
	})
	return out, err
}

// List returns the registered backends sorted by hash.
func (r *Registry) List(ctx context.Context) ([]Backend, error) {
	var out []Backend
	err := list(ctx, r.st, RMPrefix, func(_ string, b []byte) {
		var be Backend
		if json.Unmarshal(b, &be) == nil {
			out = append(out, be)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Hash < out[j].Hash })
	return out, err
}

// Endpoints returns the endpoints registered for hash (none: nil).
func (r *Registry) Endpoints(ctx context.Context, hash string) ([]string, error) {
	got, err := r.st.Get(ctx, rmKey(hash))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read rm %s: %w", ErrUnavailable, hash, err)
	}
	var b Backend
	if err := json.Unmarshal(got.Value, &b); err != nil {
		return nil, fmt.Errorf("tc: rm record %s: %w: %w", hash, store.ErrCorrupt, err)
	}
	return b.Endpoints, nil
}

// BackendHash returns the hash that names st, creating it at the first
// call on a store: every node serving the store gets the same one.
func BackendHash(ctx context.Context, st store.Backend) (string, error) {
	for attempt := 0; attempt < 3; attempt++ {
		got, err := st.Get(ctx, backendIDKey)
		if err == nil {
			return string(got.Value), nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("%w: read backend id: %w", ErrUnavailable, err)
		}
		_, err = st.Put(ctx, backendIDKey, []byte(xid.New().String()), store.Cond{IfNotExists: true})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return "", fmt.Errorf("%w: write backend id: %w", ErrUnavailable, err)
		}
	}
	return "", fmt.Errorf("%w: backend id", ErrUnavailable)
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
