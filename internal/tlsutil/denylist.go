package tlsutil

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// NormalizeSerial reads a certificate serial written in hex, with or
// without a 0x prefix, colons or leading zeros, in any case, and returns
// it as lower-case hex without leading zeros (Serial's form).
func NormalizeSerial(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "0x")
	t = strings.ReplaceAll(t, ":", "")
	if t == "" || len(t) > 64 {
		return "", fmt.Errorf("invalid serial %q", s)
	}
	n, ok := new(big.Int).SetString(t, 16)
	if !ok || n.Sign() < 0 {
		return "", fmt.Errorf("invalid serial %q (want hex)", s)
	}
	return n.Text(16), nil
}

// NormalizeSerials normalizes, sorts and de-duplicates serials; entries
// that are not serials are dropped.
func NormalizeSerials(serials []string) []string {
	set := map[string]bool{}
	for _, s := range serials {
		if n, err := NormalizeSerial(s); err == nil {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Denylist is the set of revoked serials a server refuses. When it follows
// a bundle file, it re-reads the file's denylist when the file changes (at
// most once per RecheckEvery, checked on use), so `lockd auth revoke` takes
// effect on a running server without a restart. Safe for concurrent use.
type Denylist struct {
	set atomic.Pointer[map[string]bool]

	path string
	mu   sync.Mutex // serializes reloads
	next atomic.Int64
	mod  time.Time
	size int64
}

// RecheckEvery bounds how often a file-backed Denylist stats its file.
const RecheckEvery = time.Second

// NewDenylist returns a fixed denylist.
func NewDenylist(serials []string) *Denylist {
	d := &Denylist{}
	d.store(serials)
	return d
}

// FollowBundle returns a denylist initialized with serials that re-reads
// the LOCKD DENYLIST block of the server bundle at path when it changes.
func FollowBundle(path string, serials []string) *Denylist {
	d := NewDenylist(serials)
	d.path = path
	if fi, err := os.Stat(path); err == nil {
		d.mod, d.size = fi.ModTime(), fi.Size()
	}
	d.next.Store(time.Now().Add(RecheckEvery).UnixNano())
	return d
}

func (d *Denylist) store(serials []string) {
	m := make(map[string]bool, len(serials))
	for _, s := range NormalizeSerials(serials) {
		m[s] = true
	}
	d.set.Store(&m)
}

// Revoked reports whether cert's serial is denied.
func (d *Denylist) Revoked(cert *x509.Certificate) bool {
	if d == nil || cert == nil {
		return false
	}
	return d.RevokedSerial(Serial(cert))
}

// RevokedSerial reports whether a serial, as Serial writes it, is denied.
func (d *Denylist) RevokedSerial(serial string) bool {
	if d == nil {
		return false
	}
	d.maybeReload()
	return (*d.set.Load())[serial]
}

// Len is the number of denied serials.
func (d *Denylist) Len() int {
	if d == nil {
		return 0
	}
	return len(*d.set.Load())
}

func (d *Denylist) maybeReload() {
	if d.path == "" || time.Now().UnixNano() < d.next.Load() {
		return
	}
	if !d.mu.TryLock() {
		return // another caller is reloading; use the current set
	}
	defer d.mu.Unlock()
	d.next.Store(time.Now().Add(RecheckEvery).UnixNano())
	fi, err := os.Stat(d.path)
	if err != nil || (fi.ModTime().Equal(d.mod) && fi.Size() == d.size) {
		return
	}
	_ = d.reloadLocked(fi) // keep the last good list; a bad file is retried
}

// Reload re-reads the bundle file now (SIGHUP). A fixed list does nothing;
// an unreadable file is an error and the current list stays.
func (d *Denylist) Reload() error {
	if d == nil || d.path == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fi, err := os.Stat(d.path)
	if err != nil {
		return fmt.Errorf("tlsutil: reload denylist: %w", err)
	}
	return d.reloadLocked(fi)
}

func (d *Denylist) reloadLocked(fi os.FileInfo) error {
	b, err := LoadServerBundle(d.path)
	if err != nil {
		return err
	}
	d.mod, d.size = fi.ModTime(), fi.Size()
	d.store(b.Denylist)
	return nil
}
