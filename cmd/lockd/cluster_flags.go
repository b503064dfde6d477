package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/server"
)

// clusterFlags are the membership flags (docs/CLUSTER.md). Clustering is
// on when --join or --cluster-listen is given.
type clusterFlags struct {
	self, listen, advertise, key string
	join                         []string
	muxThreshold                 int
}

func addClusterFlags(fs *pflag.FlagSet) *clusterFlags {
	f := &clusterFlags{}
	fs.StringVar(&f.self, "self", "", "this node's API URL as the other nodes reach it (default: the listener's URL when it listens on a specific address)")
	fs.StringVar(&f.listen, "cluster-listen", "", "gossip bind address host:port (default: the --listen host, any free port); turns clustering on")
	fs.StringVar(&f.advertise, "cluster-advertise", "", "gossip address host:port the other nodes reach this one at, when it differs from --cluster-listen (NAT, port mapping, relay); not a lockd v0.9 flag")
	fs.StringSliceVar(&f.join, "join", nil, "seed nodes to join: gossip host:port or API URLs (repeatable or comma-separated); turns clustering on")
	fs.StringVar(&f.key, "cluster-key", "", "secret the gossip encryption key is derived from (default: the server bundle's storage key)")
	fs.IntVar(&f.muxThreshold, "cluster-mux-threshold", server.DefaultMuxThreshold, "forwards to a node go as frames over multiplexed connections once this many are in flight to it (1: always; 0 or less: never); not a lockd v0.9 flag")
	return f
}

// config returns the cluster configuration, or nil when clustering is off.
func (f *clusterFlags) config() *server.ClusterConfig {
	var seeds []string
	for _, s := range f.join {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 && f.listen == "" {
		return nil
	}
	mux := f.muxThreshold
	if mux <= 0 {
		mux = -1 // never
	}
	return &server.ClusterConfig{Self: f.self, Listen: f.listen, Advertise: f.advertise, Join: seeds, Key: f.key, MuxThreshold: mux}
}
