package state

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/store/crypt"
)

var (
	// ErrNotFound reports that the state file does not exist yet.
	ErrNotFound = errors.New("state: no state file")
	// ErrCorrupt reports a state file that decrypts but does not decode.
	ErrCorrupt = errors.New("state: state file is malformed")
)

// envelopeName binds the encrypted file to its purpose.
const envelopeName = "lockd mcp oauth state v1"

// Store is the state file at one path. It is safe for concurrent use, also
// by several processes.
type Store struct {
	path string
	key  *crypt.Key

	mu    sync.Mutex
	cur   *State
	stamp stamp
}

// stamp identifies one version of the file on disk.
type stamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stampOf(fi os.FileInfo) stamp {
	s := stamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// Open returns the store of the file at path, encrypted under key. The
// file need not exist yet.
func Open(path string, key *crypt.Key) *Store {
	return &Store{path: path, key: key}
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Load returns the current state, re-reading the file when another
// process changed it. A missing file is ErrNotFound.
func (s *Store) Load() (*State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, s.path)
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if s.cur != nil && stampOf(fi) == s.stamp {
		return s.cur, nil
	}
	st, stp, err := s.read()
	if err != nil {
		return nil, err
	}
	s.cur, s.stamp = st, stp
	return st, nil
}

// read decrypts and decodes the file.
func (s *Store) read() (*State, stamp, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, stamp{}, fmt.Errorf("%w: %s", ErrNotFound, s.path)
	}
	if err != nil {
		return nil, stamp{}, fmt.Errorf("state: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, stamp{}, fmt.Errorf("state: %w", err)
	}
	if fi.Size() > maxFile {
		return nil, stamp{}, fmt.Errorf("%w: %d bytes", ErrCorrupt, fi.Size())
	}
	env := make([]byte, fi.Size())
	if _, err := f.ReadAt(env, 0); err != nil {
		return nil, stamp{}, fmt.Errorf("state: read %s: %w", s.path, err)
	}
	plain, err := s.key.Open(envelopeName, env)
	if err != nil {
		return nil, stamp{}, fmt.Errorf("state: open %s: %w", s.path, err)
	}
	st, err := decode(plain)
	if err != nil {
		return nil, stamp{}, fmt.Errorf("state: %s: %w", s.path, err)
	}
	return st, stampOf(fi), nil
}

// maxFile bounds the state file (a few thousand clients fit in far less).
const maxFile = 16 << 20

// Update changes the state under the file lock: fn gets a private copy of
// the current state (a new one, with a fresh signing key, when there is no
// file yet) and the result is written if fn returns nil.
func (s *Store) Update(fn func(*State) error) (*State, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, _, err := s.read()
	switch {
	case errors.Is(err, ErrNotFound):
		if cur, err = fresh(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		cur = cur.clone()
	}
	if err := fn(cur); err != nil {
		return nil, err
	}
	if err := s.write(cur); err != nil {
		return nil, err
	}
	return cur, nil
}

// fresh is a new, empty state.
func fresh() (*State, error) {
	st := &State{Version: Version, SigningKey: make([]byte, 32), Clients: map[string]*Client{}}
	if _, err := rand.Read(st.SigningKey); err != nil {
		return nil, fmt.Errorf("state: signing key: %w", err)
	}
	return st, nil
}

func (s *Store) write(st *State) error {
	plain, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("state: encode: %w", err)
	}
	env, err := s.key.Seal(envelopeName, plain)
	if err != nil {
		return fmt.Errorf("state: seal: %w", err)
	}
	if err := tlsutil.WriteFile(s.path, env, true); err != nil {
		return fmt.Errorf("state: write %s: %w", s.path, err)
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	s.cur, s.stamp = st, stampOf(fi)
	return nil
}

// lock takes the exclusive inter-process lock of the file (PATH.lock).
func (s *Store) lock() (func(), error) {
	if err := tlsutil.EnsureDir(filepath.Dir(s.path)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state: lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("state: lock %s: %w", f.Name(), err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
