package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

// revoke adds client serials to the denylist of the server bundle and, by
// default, of every server*.pem beside it, so all replicas refuse them.
// Running servers pick the change up within a second (or on SIGHUP).
func (e *authEnv) revoke(args []string) error {
	if len(args) == 0 || args[0] != "client" {
		return errors.New("usage: lockd auth revoke client SERIAL|FILE... [--server-in FILE] [--propagate=false]")
	}
	f := newAuthFlags("revoke client", e.out)
	var serverIn string
	var propagate bool
	f.fs.StringVar(&serverIn, "server-in", "", "server bundle to update (default <folder>/server.pem)")
	f.fs.BoolVar(&propagate, "propagate", true, "also update every other server*.pem in the same folder")
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	if f.fs.NArg() == 0 {
		return errors.New("name at least one serial (hex, as `lockd auth inspect` prints it) or client bundle file")
	}
	serials, err := revokedSerials(f.fs.Args())
	if err != nil {
		return err
	}
	if serverIn == "" {
		dir, err := f.folder()
		if err != nil {
			return err
		}
		serverIn = filepath.Join(dir, tlsutil.ServerFile)
	}
	targets := []string{serverIn}
	if propagate {
		others, err := tlsutil.Glob(filepath.Dir(serverIn), "server")
		if err != nil {
			return err
		}
		for _, o := range others {
			if !slices.Contains(targets, o) && filepath.Clean(o) != filepath.Clean(serverIn) {
				targets = append(targets, o)
			}
		}
	}
	for _, path := range targets {
		b, err := tlsutil.LoadServerBundle(path)
		if err != nil {
			return err
		}
		before := len(b.Denylist)
		b.Denylist = tlsutil.NormalizeSerials(append(b.Denylist, serials...))
		if err := e.write(path, b.Encode, true); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "%s: %d serial(s) added, %d denied\n", path, len(b.Denylist)-before, len(b.Denylist))
	}
	return nil
}

// revokedSerials reads each argument as a client bundle file when one
// exists by that name, else as a hex serial.
func revokedSerials(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if _, err := os.Stat(a); err == nil {
			cb, err := tlsutil.ReadClientBundle(a)
			if err != nil {
				return nil, err
			}
			out = append(out, tlsutil.Serial(cb.Leaf))
			continue
		}
		s, err := tlsutil.NormalizeSerial(a)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
