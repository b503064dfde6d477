package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lockdhq/lockd/store"
)

// Engine names a query engine.
type Engine string

// Engines. EngineAuto lets the namespace configuration decide.
const (
	EngineAuto  Engine = "auto"
	EngineIndex Engine = "index"
	EngineScan  Engine = "scan"
)

// Fallback says what an auto query does while the preferred index
// engine cannot serve it.
type Fallback string

// Fallback modes: FallbackScan answers with the scan engine;
// FallbackNone waits for the index (bounded by the request's context).
const (
	FallbackScan Fallback = "scan"
	FallbackNone Fallback = "none"
)

// Config is a namespace's query configuration, stored at <ns>/x/config.
type Config struct {
	Preferred Engine   `json:"preferred_engine"`
	Fallback  Fallback `json:"fallback_engine"`
}

// DefaultConfig is the configuration of a namespace that has none:
// index preferred, no fallback (as lockd v0.9).
func DefaultConfig() Config { return Config{Preferred: EngineIndex, Fallback: FallbackNone} }

// ConfigPatch changes the set fields of a Config (case-insensitive).
type ConfigPatch struct {
	Preferred string
	Fallback  string
}

func (c Config) apply(p ConfigPatch) (Config, error) {
	if v := strings.ToLower(strings.TrimSpace(p.Preferred)); v != "" {
		c.Preferred = Engine(v)
	}
	if v := strings.ToLower(strings.TrimSpace(p.Fallback)); v != "" {
		c.Fallback = Fallback(v)
	}
	switch c.Preferred {
	case EngineIndex, EngineScan:
	default:
		return c, fmt.Errorf("%w: invalid preferred engine %q (expected index or scan)", ErrInvalidConfig, c.Preferred)
	}
	switch c.Fallback {
	case FallbackScan, FallbackNone:
	default:
		return c, fmt.Errorf("%w: invalid fallback engine %q (expected scan or none)", ErrInvalidConfig, c.Fallback)
	}
	return c, nil
}

// LoadConfig returns the namespace's configuration and its ETag ("" when
// the namespace has the default configuration and no record).
func (s *Service) LoadConfig(ctx context.Context, ns string) (Config, string, error) {
	rec, err := s.st.Get(ctx, configKey(ns))
	if errors.Is(err, store.ErrNotFound) {
		return DefaultConfig(), "", nil
	}
	if err != nil {
		return Config{}, "", fmt.Errorf("%w: load config: %w", ErrUnavailable, err)
	}
	c := DefaultConfig()
	if err := json.Unmarshal(rec.Value, &c); err != nil {
		return Config{}, "", fmt.Errorf("index: config of %s: %w: %w", ns, store.ErrCorrupt, err)
	}
	if c, err = c.apply(ConfigPatch{}); err != nil {
		return DefaultConfig(), rec.ETag, nil
	}
	return c, rec.ETag, nil
}

// SaveConfig applies patch to the namespace's configuration and stores
// it. A non-empty ifMatch (quotes ignored) must equal the current ETag,
// else ErrConfigConflict. It returns the new configuration and ETag.
func (s *Service) SaveConfig(ctx context.Context, ns string, patch ConfigPatch, ifMatch string) (Config, string, error) {
	cur, etag, err := s.LoadConfig(ctx, ns)
	if err != nil {
		return Config{}, "", err
	}
	next, err := cur.apply(patch)
	if err != nil {
		return Config{}, "", err
	}
	ifMatch = strings.Trim(strings.TrimSpace(ifMatch), `"`)
	if ifMatch != "" && ifMatch != etag {
		return Config{}, "", ErrConfigConflict
	}
	cond := store.Cond{IfMatch: ifMatch}
	b, _ := json.Marshal(next)
	newTag, err := s.st.Put(ctx, configKey(ns), b, cond)
	if errors.Is(err, store.ErrConflict) || (ifMatch != "" && errors.Is(err, store.ErrNotFound)) {
		return Config{}, "", ErrConfigConflict
	}
	if err != nil {
		return Config{}, "", fmt.Errorf("%w: save config: %w", ErrUnavailable, err)
	}
	if next.Preferred == EngineIndex && !s.opt.Disabled {
		s.wakeNamespace(ns)
	}
	return next, newTag, nil
}
