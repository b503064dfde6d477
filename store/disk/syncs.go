package disk

import (
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// countingFS counts the fsyncs pebble issues, so benchmarks can report the
// fsyncs each request costs.
type countingFS struct {
	vfs.FS
	n *atomic.Int64
}

func (c countingFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return countingFile{File: f, n: c.n}, nil
}

func (c countingFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	return c.wrap(c.FS.Create(name, cat))
}

func (c countingFS) OpenReadWrite(name string, cat vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return c.wrap(c.FS.OpenReadWrite(name, cat, opts...))
}

func (c countingFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	return c.wrap(c.FS.ReuseForWrite(oldname, newname, cat))
}

func (c countingFS) OpenDir(name string) (vfs.File, error) {
	return c.wrap(c.FS.OpenDir(name))
}

type countingFile struct {
	vfs.File
	n *atomic.Int64
}

func (f countingFile) Sync() error {
	f.add()
	return f.File.Sync()
}

func (f countingFile) SyncData() error {
	f.add()
	return f.File.SyncData()
}

func (f countingFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	if full {
		f.add()
	}
	return full, err
}

func (f countingFile) add() {
	f.n.Add(1)
	processSyncs.Add(1)
}

// Process-wide totals over every Store of this process, for metrics.
var processSyncs, processCommits atomic.Int64

// Syncs reports how many fsyncs pebble has issued since Open (WAL syncs,
// flushes, manifest and directory syncs), plus the blob file syncs.
func (s *Store) Syncs() int64 { return s.syncs.Load() }

// Commits reports how many batches this store has committed to pebble
// since Open (each is one WAL record; synced ones share fsyncs).
func (s *Store) Commits() int64 { return s.commits.Load() }

// Totals reports the commits and fsyncs of every Store opened by this
// process, for the server's metrics.
func Totals() (commits, syncs int64) { return processCommits.Load(), processSyncs.Load() }

// countSync counts an fsync the store issues itself (blob files and their
// directory).
func (s *Store) countSync() {
	s.syncs.Add(1)
	processSyncs.Add(1)
}

// countCommit counts one batch committed to pebble.
func (s *Store) countCommit() {
	s.commits.Add(1)
	processCommits.Add(1)
}
