// Package inprocess runs a lockd node inside the calling process, on a
// private unix socket, and hands out a client for it: lockd for users'
// tests and demos without a separate server. It is the one SDK package
// that imports the server.
package inprocess

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/disk"
	"github.com/lockdhq/lockd/store/mem"
)

// Option configures New.
type Option func(*options)

type options struct {
	cfg        server.Config
	store      store.Store
	diskDir    string
	clientOpts []sdk.Option
}

// WithConfig sets the node's configuration (Listen, ListenProto, Store
// and Backend are ignored).
func WithConfig(cfg server.Config) Option { return func(o *options) { o.cfg = cfg } }

// WithStore serves an open store instead of a fresh in-memory one; the
// node closes it on Close.
func WithStore(st store.Store) Option { return func(o *options) { o.store = st } }

// WithDiskDir keeps the node's data in dir (pebble), so it survives a
// restart of the node on the same directory.
func WithDiskDir(dir string) Option { return func(o *options) { o.diskDir = dir } }

// WithClientOptions configures the client New returns.
func WithClientOptions(opts ...sdk.Option) Option {
	return func(o *options) { o.clientOpts = append(o.clientOpts, opts...) }
}

// Server is a running in-process node and a client connected to it.
type Server struct {
	*sdk.Client
	srv    *server.Server
	dir    string
	socket string
}

// New starts a node (in memory unless WithStore or WithDiskDir) on a unix
// socket in a fresh temporary directory and returns it with a client.
// Close it when done.
func New(ctx context.Context, opts ...Option) (*Server, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	st, err := o.openStore()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lockd-inproc-")
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("inprocess: %w", err)
	}
	socket := filepath.Join(dir, "lockd.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("inprocess: listen: %w", err)
	}
	s := &Server{srv: server.StartOn(ln, st, o.cfg), dir: dir, socket: socket}
	if s.Client, err = sdk.New("unix://"+socket, o.clientOpts...); err != nil {
		s.Close(ctx)
		return nil, err
	}
	return s, nil
}

func (o *options) openStore() (store.Store, error) {
	switch {
	case o.store != nil:
		return o.store, nil
	case o.diskDir != "":
		st, err := disk.Open(o.diskDir, disk.Options{})
		if err != nil {
			return nil, fmt.Errorf("inprocess: open %s: %w", o.diskDir, err)
		}
		return st, nil
	}
	return mem.New(), nil
}

// Socket is the path of the node's unix socket.
func (s *Server) Socket() string { return s.socket }

// Endpoint is the node's endpoint for other clients (unix:///…/lockd.sock).
func (s *Server) Endpoint() string { return "unix://" + s.socket }

// Server is the running node (drain it, inspect its services).
func (s *Server) Server() *server.Server { return s.srv }

// Close releases the client's leases, stops the node within ctx and
// removes its socket directory.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	if s.Client != nil {
		errs = append(errs, s.Client.Close())
	}
	errs = append(errs, s.srv.Close(ctx), os.RemoveAll(s.dir))
	return errors.Join(errs...)
}
