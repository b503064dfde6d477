package edge

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/sdk/api"
)

// A query's index_seq in a cluster. Every node indexes the commits it
// makes into the one shared index, and counts them in its own sequence;
// a query answered from that index has seen every node's commits, so the
// sequence it reports is the sum over the nodes, as a flush reports
// (cluster_flush.go). The other nodes' sequences are what this node last
// learned of them: from flushes it fanned out, and from a status request
// to each node it has not heard from yet for the namespace (once, before
// its first index answer there) or not for peerSeqStale (then in the
// background, so later queries do not wait). The sum is a lower bound
// that does not go back while this node runs: a node's sequence only
// grows, and the sequences of nodes that left stay counted, as their
// commits stay indexed.

// peerSeqStale is how old the other nodes' sequences may be before a
// query refreshes them (in the background).
const peerSeqStale = time.Second

// peerSeqWait bounds the status requests a query waits for.
const peerSeqWait = time.Second

// peerSeqs is what this node learned of the other nodes' index sequences.
type peerSeqs struct {
	mu sync.Mutex
	ns map[string]*nsPeerSeqs
}

type nsPeerSeqs struct {
	byNode     map[string]int64 // node id -> the highest sequence heard
	at         time.Time        // last status round
	refreshing bool
}

// learn records node's sequence for ns (the highest one heard counts).
func (p *peerSeqs) learn(ns, node string, seq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.nsLocked(ns)
	if old, ok := n.byNode[node]; !ok || seq > old {
		n.byNode[node] = seq
	}
}

func (p *peerSeqs) nsLocked(ns string) *nsPeerSeqs {
	if p.ns == nil {
		p.ns = map[string]*nsPeerSeqs{}
	}
	n := p.ns[ns]
	if n == nil {
		n = &nsPeerSeqs{byNode: map[string]int64{}}
		p.ns[ns] = n
	}
	return n
}

// plan says which of peers to ask now (unheard: wait for them) and
// whether to refresh the rest in the background.
func (p *peerSeqs) plan(ns string, peers []cluster.Member) (unheard []cluster.Member, refresh bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.nsLocked(ns)
	for _, m := range peers {
		if _, ok := n.byNode[m.ID]; !ok {
			unheard = append(unheard, m)
		}
	}
	if len(unheard) == 0 && !n.refreshing && time.Since(n.at) > peerSeqStale {
		n.refreshing = true
		refresh = true
	}
	return unheard, refresh
}

func (p *peerSeqs) refreshed(ns string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.nsLocked(ns)
	n.at = time.Now()
	n.refreshing = false
}

// sum is the sequences heard for ns.
func (p *peerSeqs) sum(ns string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s int64
	for _, seq := range p.nsLocked(ns).byNode {
		s += seq
	}
	return s
}

// clusterIndexSeq is the index_seq of an index query of ns answered here
// with res: this node's sequence plus the others'.
func (s *Server) clusterIndexSeq(ctx context.Context, ns string, res *index.Result) {
	if s.cluster == nil || res.Engine != index.EngineIndex {
		return
	}
	var peers []cluster.Member
	for _, m := range s.cluster.Live() {
		if !m.Self {
			peers = append(peers, m)
		}
	}
	unheard, refresh := s.peerSeqs.plan(ns, peers)
	if len(unheard) > 0 {
		ctx, cancel := context.WithTimeout(ctx, peerSeqWait)
		s.askIndexSeqs(ctx, ns, unheard)
		cancel()
	}
	if refresh {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), peerSeqWait)
			defer cancel()
			s.askIndexSeqs(ctx, ns, peers)
			s.peerSeqs.refreshed(ns)
		}()
	}
	res.IndexSeq += uint64(s.peerSeqs.sum(ns))
}

// askIndexSeqs asks each of peers for its sequence of ns (a status
// request: nothing is flushed). A node that does not answer keeps what
// was heard of it before (0 if nothing).
func (s *Server) askIndexSeqs(ctx context.Context, ns string, peers []cluster.Member) {
	body, _ := json.Marshal(clusterFlushRequest{Namespace: ns, Status: true})
	var wg sync.WaitGroup
	for _, m := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fr api.IndexFlushResponse
			if err := s.peers.call(ctx, m.Endpoint, clusterFlushPath, body, &fr); err != nil {
				// Heard as nothing (a true lower bound): later queries
				// do not wait for it again; the background refresh asks.
				s.log.Debug().Err(err).Str("node", m.Endpoint).Str("namespace", ns).Msg("index sequence of another node not heard")
				fr.IndexSeq = 0
			}
			s.peerSeqs.learn(ns, m.ID, fr.IndexSeq)
		}()
	}
	wg.Wait()
}
