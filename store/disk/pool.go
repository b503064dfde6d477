package disk

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// filePool keeps empty blob files ready whose directory entries are
// already durable. Creating a file needs an fsync of its directory before
// an index may point at it; the pool creates files in batches with one
// directory fsync each, so a blob write costs only the fsync of its own
// data. Unused pool files are unreferenced and swept at the next Open.
type filePool struct {
	dir    string
	ready  chan string
	refill chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
	syncs  func() // counts a directory fsync
}

const poolBatch = 16

func newFilePool(dir string, syncs func()) *filePool {
	p := &filePool{dir: dir, ready: make(chan string, 2*poolBatch), refill: make(chan struct{}, 1),
		stop: make(chan struct{}), syncs: syncs}
	p.wg.Add(1)
	go p.run()
	p.kick()
	return p
}

func (p *filePool) kick() {
	select {
	case p.refill <- struct{}{}:
	default:
	}
}

func (p *filePool) run() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case <-p.refill:
		}
		for len(p.ready) <= poolBatch {
			ids, err := p.create(poolBatch)
			if err != nil {
				break // writers fall back to creating their own file
			}
			for _, id := range ids {
				select {
				case p.ready <- id:
				case <-p.stop:
					return
				}
			}
		}
	}
}

// create makes n empty files and syncs the directory once.
func (p *filePool) create(n int) ([]string, error) {
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		id := newBlobID()
		f, err := os.OpenFile(filepath.Join(p.dir, id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("disk: create blob file: %w", err)
		}
		f.Close()
		ids = append(ids, id)
	}
	p.syncs()
	if err := syncDir(p.dir); err != nil {
		return nil, err
	}
	return ids, nil
}

// take returns the id of an empty, durably named file.
func (p *filePool) take() (string, error) {
	select {
	case id := <-p.ready:
		if len(p.ready) <= poolBatch {
			p.kick()
		}
		return id, nil
	default:
	}
	p.kick()
	ids, err := p.create(1)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

func (p *filePool) close() {
	close(p.stop)
	p.wg.Wait()
}
