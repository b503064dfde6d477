package server

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/disk"
	"github.com/lockdhq/lockd/store/mem"
)

// DefaultStore is where a server keeps its data when no store is given:
// pebble on local disk, so a first run keeps what it is told.
const DefaultStore = "disk://./lockd-data"

// OpenStore opens the store a URL names:
//
//	mem://                      in memory, lost on exit
//	disk:///abs/path            pebble on local disk
//	disk://./relative/path      (relative to the working directory)
func OpenStore(raw string) (store.Store, error) {
	if raw == "" {
		raw = DefaultStore
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("store url %q: %w", raw, err)
	}
	switch u.Scheme {
	case "mem":
		return mem.New(), nil
	case "disk", "file":
		path := diskPath(raw, u)
		if path == "" {
			return nil, fmt.Errorf("store url %q: disk path required", raw)
		}
		return disk.Open(path, disk.Options{})
	}
	return nil, fmt.Errorf("store url %q: unsupported scheme %q (want mem:// or disk://)", raw, u.Scheme)
}

// diskPath accepts disk:///abs, disk://./rel, disk://rel and disk:/abs.
func diskPath(raw string, u *url.URL) string {
	rest := strings.TrimPrefix(raw, u.Scheme+":")
	rest = strings.TrimPrefix(rest, "//")
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		return ""
	}
	return filepath.Clean(rest)
}
