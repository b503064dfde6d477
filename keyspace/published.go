package keyspace

import (
	"fmt"
	"sync/atomic"

	"github.com/lockdhq/lockd/store"
)

// Public reads do not queue behind a key's actor. Each live actor
// publishes its committed view (immutable: a new commit publishes a new
// one) in the service's table before it answers the write that produced
// it, so a public read that starts after a release returned sees that
// release; the reader then waits for the write's durability, as the
// actor's own replies do. The actor is still the only writer: it
// publishes on load and after every successful write, and withdraws the
// view when it stops, restarts or finds the store changed under it
// (another node's write), so the table holds only live, current actors and
// a miss falls back to asking the actor.

// published is one key's committed view and the write that made it.
type published struct {
	view    View
	durable store.Durable
}

// pubSlot is a live actor's entry in the table; the actor swaps views in
// it, so a commit does not replace the table entry (an allocation).
type pubSlot struct{ p atomic.Pointer[published] }

// publish makes the record's committed view the one public readers see,
// if it changed. d is the write the view depends on.
func (a *keyActor) publish(d store.Durable) {
	v := a.rec.committedView()
	if p := a.pub; p != nil && sameView(p.view, v) {
		return
	}
	p := &published{view: v, durable: d}
	a.pub = p
	if a.slot == nil {
		a.slot = &pubSlot{}
		a.slot.p.Store(p)
		a.svc.public.Store(a.id, a.slot)
		return
	}
	a.slot.p.Store(p)
}

// unpublish withdraws the actor's view: readers ask the actor until it
// publishes again.
func (a *keyActor) unpublish() {
	if a.slot != nil {
		a.slot.p.Store(nil)
		a.svc.public.CompareAndDelete(a.id, a.slot)
		a.slot = nil
	}
	a.pub = nil
}

func sameView(a, b View) bool {
	return a.NoState == b.NoState && a.Version == b.Version && a.ETag == b.ETag && a.Size == b.Size &&
		a.Hidden == b.Hidden && a.blob == b.blob && len(a.Inline) == len(b.Inline) &&
		(len(a.Inline) == 0 || &a.Inline[0] == &b.Inline[0])
}

// publicView answers a public read from the published table, or reports
// false when the key's actor has published nothing.
func (s *Service) publicView(ref Ref) (View, bool, error) {
	v, ok := s.public.Load(actorID(ref))
	if !ok {
		return View{}, false, nil
	}
	p := v.(*pubSlot).p.Load()
	if p == nil {
		return View{}, false, nil
	}
	if err := p.durable.Wait(); err != nil {
		return View{}, true, fmt.Errorf("%w: sync: %w", ErrUnavailable, err)
	}
	return p.view, true, nil
}
