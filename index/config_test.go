package index_test

import (
	"errors"
	"testing"

	"github.com/lockdhq/lockd/index"
)

func TestConfigETags(t *testing.T) {
	e := newEnv(t, index.Options{})
	c := ctx(t)
	cfg, tag, err := e.idx.LoadConfig(c, "ns")
	if err != nil || tag != "" || cfg != index.DefaultConfig() {
		t.Fatalf("default: %+v %q %v", cfg, tag, err)
	}
	cases := []struct {
		patch   index.ConfigPatch
		ifMatch string
		err     error
	}{
		{index.ConfigPatch{Preferred: "bogus"}, "", index.ErrInvalidConfig},
		{index.ConfigPatch{Fallback: "maybe"}, "", index.ErrInvalidConfig},
		{index.ConfigPatch{Fallback: "scan"}, "nope", index.ErrConfigConflict},
		{index.ConfigPatch{Fallback: "Scan"}, "", nil},
	}
	for _, tc := range cases {
		_, _, err := e.idx.SaveConfig(c, "ns", tc.patch, tc.ifMatch)
		if !errors.Is(err, tc.err) && !(err == nil && tc.err == nil) {
			t.Fatalf("%+v: got %v want %v", tc.patch, err, tc.err)
		}
	}
	cfg, tag, _ = e.idx.LoadConfig(c, "ns")
	if cfg.Fallback != index.FallbackScan || cfg.Preferred != index.EngineIndex || tag == "" {
		t.Fatalf("saved: %+v %q", cfg, tag)
	}
	if _, _, err := e.idx.SaveConfig(c, "ns", index.ConfigPatch{Preferred: "scan"}, `"`+tag+`"`); err != nil {
		t.Fatalf("matching If-Match: %v", err)
	}
	if _, _, err := e.idx.SaveConfig(c, "ns", index.ConfigPatch{Preferred: "index"}, tag); !errors.Is(err, index.ErrConfigConflict) {
		t.Fatalf("stale If-Match: %v", err)
	}
}
