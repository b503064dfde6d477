package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/cluster/ha"
	"github.com/lockdhq/lockd/edge"
	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/queues"
)

// ClusterConfig turns on clustering: several nodes sharing one object
// store, each key and queue served by its owner (see docs/CLUSTER.md).
// Start honours it; StartOn serves a single node.
type ClusterConfig struct {
	// Self is this node's API base URL as the others reach it (--self);
	// default: the listener's URL, when it listens on a specific address.
	Self string
	// Listen is the gossip bind address (--cluster-listen); default: the
	// API listener's host, any free port.
	Listen string
	// Advertise is the gossip address the others reach this node at
	// (--cluster-advertise), when it differs from Listen; default:
	// Listen's.
	Advertise string
	// Join are the seeds (--join / tc-join).
	Join []string
	// Key, when set (--cluster-key), is the secret the gossip key is
	// derived from; otherwise the server bundle's storage root key is.
	Key string
	// Roles are gossiped as node metadata (default "kv", "queue").
	Roles []string
	// MuxThreshold (--cluster-mux-threshold): forwards to a node go as
	// frames over multiplexed connections once this many are in flight to
	// it (docs/CLUSTER.md); 0 takes DefaultMuxThreshold, negative never.
	MuxThreshold int
}

// DefaultMuxThreshold is the default ClusterConfig.MuxThreshold: one or
// two forwards in flight to a node go faster on connections of their own
// (no hand-off to a connection's reader on either side); from the third,
// frames batched into shared writes cost the two nodes less CPU
// (docs/BENCHMARKS.md).
const DefaultMuxThreshold = 3

// errClusterConfig is an unusable cluster configuration.
var errClusterConfig = errors.New("server: cluster configuration")

// ErrClusterOnDisk refuses a cluster on a disk:// store: pebble admits one
// process per directory, so every node would serve its own data, and a key
// that moves between nodes would come back with another node's (older)
// record.
var ErrClusterOnDisk = fmt.Errorf("%w: disk:// (pebble) admits one process per directory; "+
	"a cluster (--join, --self, --cluster-listen) needs a store every node shares (s3://, aws://, azure://)", errClusterConfig)

// checkClusterStore refuses clustering on a single-process disk store.
// mem:// is allowed: each node's memory is its own, which only tests and
// benchmarks of forwarding want (keys that move lose their state, as
// mem:// does at every restart).
func (cfg Config) checkClusterStore() error {
	if cfg.Cluster == nil || cfg.Backend != nil || cfg.HA.Shared {
		return nil
	}
	store := cfg.Store
	if store == "" {
		store = DefaultStore
	}
	if u, err := url.Parse(store); err == nil && (u.Scheme == "disk" || u.Scheme == "file") {
		return fmt.Errorf("%w (store %s)", ErrClusterOnDisk, store)
	}
	return nil
}

// startCluster joins the cluster on the API listener ln.
func startCluster(cfg Config, ln net.Listener) (*cluster.Cluster, error) {
	cc := cfg.Cluster
	self := cc.Self
	addr, ok := ln.Addr().(*net.TCPAddr)
	if self == "" {
		if !ok || addr.IP.IsUnspecified() {
			return nil, fmt.Errorf("%w: --self (this node's API URL as the other nodes reach it) is required when listening on %s", errClusterConfig, ln.Addr())
		}
		self = cfg.Security.scheme() + "://" + ln.Addr().String()
	}
	listen := cc.Listen
	if listen == "" {
		host := ""
		if ok {
			host = addr.IP.String()
		}
		listen = net.JoinHostPort(host, "0")
	}
	key, err := cfg.gossipKey()
	if err != nil {
		return nil, err
	}
	if key == nil {
		cfg.Logger.Warn().Str("sys", "cluster.membership").Msg("gossip is not encrypted: no server bundle and no --cluster-key; any process that reaches the gossip port can join")
	}
	roles := cc.Roles
	if len(roles) == 0 {
		roles = []string{"kv", "queue"}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if cfg.Security.MTLS() {
		client.Transport = &http.Transport{TLSClientConfig: cfg.Security.Bundle.ClientTLSConfig()}
	}
	fence := time.Duration(0) // the default
	if hcfg, err := cfg.HA.config(); err != nil || hcfg.Mode != ha.Concurrent {
		fence = -1 // keys are not routed by ownership: nothing to fence
	}
	return cluster.Start(cluster.Config{Self: self, Listen: listen, Advertise: cc.Advertise, Join: cc.Join, Key: key,
		Version: version(), Roles: roles, HTTPClient: client, FenceAfter: fence, Logger: cfg.Logger})
}

// gossipKey derives the gossip key from --cluster-key, else from the
// storage root key every server bundle of the cluster's CA carries (client
// bundles do not): only the cluster's servers can join. Nil: plaintext.
func (cfg Config) gossipKey() ([]byte, error) {
	switch {
	case cfg.Cluster.Key != "":
		return cluster.DeriveKey([]byte(cfg.Cluster.Key))
	case cfg.Security.Bundle != nil && len(cfg.Security.Bundle.StorageKey) > 0:
		return cluster.DeriveKey(cfg.Security.Bundle.StorageKey)
	}
	return nil, nil
}

// version is the module version this binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// Cluster is the node's membership, or nil when clustering is off.
func (s *Server) Cluster() *cluster.Cluster { return s.cluster }

// routing is the membership keys and queues are routed by: the cluster
// under HA mode concurrent (every node serves its share), nil otherwise.
// Under failover, single or auto one node serves every key; the membership
// then serves the cluster listing and the TC only. (A cluster on disk:// is
// refused at start, checkClusterStore.)
func (s *Server) routing() *cluster.Cluster {
	if s.cluster == nil {
		return nil
	}
	if hcfg, err := s.cfg.HA.config(); err == nil && hcfg.Mode == ha.Concurrent {
		return s.cluster
	}
	return nil
}

// sharedIndex makes the index one of the cluster's writers (nil without a
// cluster): its meta records carry this node's id, a namespace it starts
// indexing is woken on the other nodes too, and queries that wait for the
// index wait for every node's.
func (s *Server) sharedIndex() func(*index.Options) {
	if s.routing() == nil {
		return nil
	}
	return func(o *index.Options) {
		o.Writer = s.cluster.Self().ID
		o.OnWake = func(ns string) {
			if s.edge == nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, _, err := s.edge.FlushPeers(ctx, ns, true); err != nil {
				s.cfg.Logger.Warn().Err(err).Str("namespace", ns).Msg("index: could not wake the namespace on every node; their next flush will")
			}
		}
		o.FlushPeers = func(ctx context.Context, ns string) error {
			if s.edge == nil {
				return nil
			}
			_, _, err := s.edge.FlushPeers(ctx, ns, false)
			return err
		}
	}
}

// adoptIndex hands the index meta records of departed nodes to one live
// node each (rendezvous over the departed id), which reconciles what they
// may have left unindexed.
func (s *Server) adoptIndex() {
	cl := s.cluster
	if !cl.Ready() {
		return
	}
	live := map[string]bool{}
	for _, m := range cl.Live() {
		live[m.ID] = true
	}
	adopt := func(writer string) bool {
		if live[writer] {
			return false
		}
		o, ok := cl.Owner(cluster.KindKey, ".index-writers", writer)
		return ok && o.Self
	}
	ctx, cancel := context.WithTimeout(s.bgCtx, time.Minute)
	defer cancel()
	if err := s.index.Recover(ctx, adopt); err != nil {
		s.cfg.Logger.Warn().Err(err).Msg("index: adopting departed nodes' records failed; retrying at the next membership change")
	}
}

// followOwnership hands off, at every membership change, the key and
// queue actors whose refs another node owns now: they leave once their
// in-flight requests are answered, their blocked waiters get a retryable
// 503, and the new owner loads them from the store. The predicates read
// the current membership whenever they run, so actors that a late request
// respawns here leave at the next tick.
func (s *Server) followOwnership(stop <-chan struct{}) {
	cl := s.cluster
	movedKey := func(r keyspace.Ref) bool {
		kind, name := edge.OwnerRef(cluster.KindKey, r.Key)
		return !cl.Owns(kind, r.Namespace, name) || !cl.Serving()
	}
	movedQueue := func(r queues.Ref) bool { return !cl.Owns(cluster.KindQueue, r.Namespace, r.Queue) || !cl.Serving() }
	all := func(keyspace.Ref) bool { return true }
	allQueues := func(queues.Ref) bool { return true }
	adopted, serving := false, true
	for {
		changed := cl.Changed()
		if now := cl.Serving(); now != serving {
			// Self-fenced, or serving again: either way the others may
			// have owned and changed any of our refs meanwhile, so
			// every actor leaves and reloads from the store.
			serving = now
			s.keys.Handoff(all)
			s.queues.Handoff(allQueues)
		}
		s.keys.Handoff(movedKey)
		s.queues.Handoff(movedQueue)
		if cl.Ready() {
			s.goBG(s.adoptIndex)
			adopted = true
		}
		wait := time.After(time.Second) // until joined: look again
		if adopted && serving {
			wait = nil
		}
		select {
		case <-changed:
		case <-wait:
		case <-stop:
			return
		}
	}
}
