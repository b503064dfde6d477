package tlsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Default file names in the configuration folder.
const (
	CAFile       = "ca.pem"
	ServerFile   = "server.pem"
	ClientFile   = "client.pem"
	TCClientFile = "tc-client.pem"
	ConfigFile   = "config.yaml"
)

// ErrNoClientBundle is returned by DiscoverClientBundle when the folder
// holds no client bundle.
var ErrNoClientBundle = errors.New("tlsutil: no client bundle found")

// DefaultDir returns $HOME/.lockd.
func DefaultDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("tlsutil: locate home directory: %w", err)
	}
	return filepath.Join(home, ".lockd"), nil
}

// EnsureDir creates dir (and parents) with mode 0700 when missing.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tlsutil: %w", err)
	}
	return nil
}

// WriteFile writes data to path with mode 0600, creating the parent folder
// with mode 0700. The file is replaced atomically (write, fsync, rename),
// so a concurrent reader sees the old or the new content. Without force an
// existing file is an error (os.ErrExist).
func WriteFile(path string, data []byte, force bool) error {
	if err := EnsureDir(filepath.Dir(path)); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("tlsutil: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("tlsutil: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("tlsutil: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tlsutil: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tlsutil: %w", err)
	}
	if force {
		err = os.Rename(tmp.Name(), path)
	} else {
		// A hard link creates path only if it does not exist, atomically,
		// so two processes bootstrapping one folder cannot both win.
		err = os.Link(tmp.Name(), path)
		if err != nil && !errors.Is(err, os.ErrExist) {
			// No hard links here (some volume types): check, then rename.
			if _, serr := os.Lstat(path); serr == nil {
				err = os.ErrExist
			} else {
				err = os.Rename(tmp.Name(), path)
			}
		}
	}
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("tlsutil: %s: %w (use --force to replace it)", path, os.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("tlsutil: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tlsutil: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tlsutil: sync %s: %w", dir, err)
	}
	return nil
}

// NextFreeName returns dir/base when it does not exist, else the first
// free numbered sibling: server.pem, server02.pem, server03.pem, …
func NextFreeName(dir, base string) string {
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s%02d%s", stem, i, ext)
		}
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p
		}
	}
}

// Glob returns the files dir/<prefix>*.pem, sorted.
func Glob(dir, prefix string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, prefix+"*.pem"))
	if err != nil {
		return nil, err
	}
	sort.Strings(m)
	return m, nil
}

// DiscoverClientBundle finds the SDK client bundle in $HOME/.lockd: the
// only client*.pem file, or client.pem when there are several. It returns
// ErrNoClientBundle when there is none (or no such folder, or no home
// directory), and another error when the choice is ambiguous (naming the
// candidates) or the folder cannot be read.
func DiscoverClientBundle() (string, error) {
	dir, err := DefaultDir()
	if err != nil {
		// No home directory (a system service, say) has no bundle in it:
		// such clients keep using https with the system roots.
		return "", fmt.Errorf("%w: %w", ErrNoClientBundle, err)
	}
	return DiscoverClientBundleIn(dir)
}

// ResolveClientBundle returns explicit when it is set (the file must
// exist), else what DiscoverClientBundle finds: the --bundle rule of the
// SDK and the CLI.
func ResolveClientBundle(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("tlsutil: client bundle: %w", err)
		}
		return explicit, nil
	}
	return DiscoverClientBundle()
}

// DiscoverClientBundleIn is DiscoverClientBundle for the folder dir.
func DiscoverClientBundleIn(dir string) (string, error) {
	found, err := clientBundles(dir)
	if err != nil {
		return "", err
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w in %s (create one with `lockd auth new client`, or pass --bundle)", ErrNoClientBundle, dir)
	case 1:
		return found[0], nil
	}
	for _, f := range found {
		if filepath.Base(f) == ClientFile {
			return f, nil
		}
	}
	return "", fmt.Errorf("tlsutil: several client bundles in %s and none is %s (%s): choose one with --bundle (SDK: WithBundle)",
		dir, ClientFile, strings.Join(found, ", "))
}

// clientBundles returns the files dir/client*.pem, sorted. Unlike Glob it
// reports a folder that exists but cannot be read, so a broken folder is
// not mistaken for an empty one.
func clientBundles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tlsutil: look for client bundles: %w", err)
	}
	var found []string
	for _, e := range entries {
		if ok, _ := filepath.Match("client*.pem", e.Name()); ok {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	return found, nil
}
