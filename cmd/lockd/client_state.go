package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

func runGet(cl *cli, args []string) error {
	fs := cl.flagSet("get")
	l := addLeaseFlags(fs)
	public := fs.Bool("public", false, "read the committed state without a lease")
	out := fs.StringP("output", "o", "-", "write the state to FILE (- for stdout)")
	typ := fs.String("type", "json", "json (indented) or raw (the stored bytes, streamed)")
	meta := fs.Bool("show-meta", false, "print version and etag to stderr")
	if err := cl.parse(fs, "lockd client get [--public] [-o FILE|-] [flags]", args, leaseEnv()); err != nil {
		return err
	}
	if *typ != "json" && *typ != "raw" {
		return fmt.Errorf("invalid --type %q (json or raw)", *typ)
	}
	if err := required(l.key, "key", envKey); err != nil {
		return err
	}
	g, sess, err := cl.getState(l, *public)
	if err != nil {
		return err
	}
	defer g.Close()
	w, err := cl.openOutput(*out)
	if err != nil {
		return err
	}
	err = writeState(w, g, *typ == "raw")
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *meta {
		writeJSON(cl.stderr, map[string]any{"version": g.Version, "etag": g.ETag, "has_state": g.HasState})
	}
	if sess != nil {
		g.Close()
		cl.afterDrain(sess)
	}
	return nil
}

// getState reads the state publicly or through the lease.
func (cl *cli) getState(l *leaseFlags, public bool) (*sdk.GetResponse, *sdk.LeaseSession, error) {
	if public {
		c, err := cl.client()
		if err != nil {
			return nil, nil, err
		}
		g, err := c.Get(cl.context(), l.key, sdk.WithNamespace(l.namespace))
		return g, nil, err
	}
	sess, err := cl.readSession(l)
	if err != nil {
		return nil, nil, err
	}
	g, err := sess.Get(cl.context())
	return g, sess, err
}

// writeState copies the state to w: raw bytes, or indented JSON ("null"
// when the key has none).
func writeState(w io.Writer, g *sdk.GetResponse, raw bool) error {
	if raw {
		_, err := io.Copy(w, g)
		return err
	}
	data, err := g.Bytes()
	if err != nil {
		return err
	}
	if !g.HasState {
		data = []byte("null")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		return fmt.Errorf("state is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// casFlags are --if-version and --if-etag.
type casFlags struct {
	version int64
	etag    string
	fs      *pflag.FlagSet
}

func addCASFlags(fs *pflag.FlagSet) *casFlags {
	c := &casFlags{fs: fs}
	fs.Int64Var(&c.version, "if-version", 0, "only if the key's version is this")
	fs.StringVar(&c.etag, "if-etag", "", "only if the state's etag is this")
	return c
}

func (c *casFlags) options() []sdk.UpdateOption {
	var out []sdk.UpdateOption
	if c.fs.Changed("if-version") {
		out = append(out, sdk.IfVersion(c.version))
	}
	if c.etag != "" {
		out = append(out, sdk.IfETag(c.etag))
	}
	return out
}

// printUpdate reports a staged write.
func (cl *cli) printUpdate(mode string, res *api.UpdateResponse) error {
	if mode == "text" {
		fmt.Fprintf(cl.stdout, "version: %d\nbytes: %d\netag: %s\n", res.NewVersion, res.Bytes, res.NewStateETag)
		return nil
	}
	return writeJSON(cl.stdout, map[string]any{"version": res.NewVersion, "bytes": res.Bytes, "etag": res.NewStateETag})
}

func runUpdate(cl *cli, args []string) error {
	fs := cl.flagSet("update")
	l := addLeaseFlags(fs)
	cas := addCASFlags(fs)
	output := fs.String("output", "json", "output: json or text")
	if err := cl.parse(fs, "lockd client update [flags] [FILE|-]", args, leaseEnv()); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("one input file at most (got %d)", fs.NArg())
	}
	sess, err := cl.session(l)
	if err != nil {
		return err
	}
	in, err := cl.openInput(fs.Arg(0))
	if err != nil {
		return err
	}
	defer in.Close()
	res, err := sess.Update(cl.context(), in, cas.options()...)
	if err != nil {
		return err
	}
	cl.afterDrain(sess)
	return cl.printUpdate(mode, res)
}

func runRemove(cl *cli, args []string) error {
	fs := cl.flagSet("remove")
	l := addLeaseFlags(fs)
	cas := addCASFlags(fs)
	output := fs.String("output", "json", "output: json or text")
	if err := cl.parse(fs, "lockd client remove [flags]", args, leaseEnv()); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	sess, err := cl.session(l)
	if err != nil {
		return err
	}
	res, err := sess.Remove(cl.context(), cas.options()...)
	if err != nil {
		return err
	}
	cl.afterDrain(sess)
	if mode == "text" {
		fmt.Fprintf(cl.stdout, "removed: %t\nversion: %d\n", res.Removed, res.NewVersion)
		return nil
	}
	return writeJSON(cl.stdout, map[string]any{"removed": res.Removed, "version": res.NewVersion})
}

func runMutate(cl *cli, args []string) error {
	return mutateCommand(cl, "mutate", args, false)
}

func runSet(cl *cli, args []string) error {
	return mutateCommand(cl, "set", args, true)
}

// mutateCommand is mutate (server-side, or --local) and set (always
// local: get, mutate here, update with CAS on what was read).
func mutateCommand(cl *cli, name string, args []string, local bool) error {
	fs := cl.flagSet(name)
	l := addLeaseFlags(fs)
	cas := addCASFlags(fs)
	if !local {
		fs.BoolVarP(&local, "local", "l", false, "mutate here (get, apply, update); needed for file: mutators")
	}
	noCAS := fs.Bool("no-cas", false, "local: do not make the update conditional on the state read")
	output := fs.String("output", "json", "output: json or text")
	if err := cl.parse(fs, "lockd client "+name+" [flags] MUTATION...", args, leaseEnv()); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no mutations given (e.g. /status=\"done\" /count++)")
	}
	sess, err := cl.session(l)
	if err != nil {
		return err
	}
	var res *api.UpdateResponse
	if local {
		res, err = cl.mutateLocal(sess, fs.Args(), cas, *noCAS)
	} else {
		for _, a := range fs.Args() {
			if isFileMutator(a) {
				return fmt.Errorf("%q reads a local file: use lockd client set, or mutate --local", a)
			}
		}
		res, err = sess.Mutate(cl.context(), fs.Args(), cas.options()...)
	}
	if err != nil {
		return err
	}
	cl.afterDrain(sess)
	return cl.printUpdate(mode, res)
}

func (cl *cli) mutateLocal(sess *sdk.LeaseSession, args []string, cas *casFlags, noCAS bool) (*api.UpdateResponse, error) {
	muts, err := parseLocalMutations(args)
	if err != nil {
		return nil, err
	}
	ctx := cl.context()
	g, err := sess.Get(ctx)
	if err != nil {
		return nil, err
	}
	data, err := g.Bytes()
	if err != nil {
		return nil, err
	}
	doc, err := mutateDocument(data, muts)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	opts := cas.options()
	if !noCAS && len(opts) == 0 && g.HasState {
		opts = []sdk.UpdateOption{sdk.IfVersion(g.Version), sdk.IfETag(g.ETag)}
	}
	return sess.UpdateBytes(ctx, body, opts...)
}

func runEdit(cl *cli, args []string) error {
	fs := cl.flagSet("edit")
	file := fs.StringP("file", "f", "", "JSON file to edit in place (default: stdin to stdout)")
	if err := cl.parse(fs, "lockd client edit [FILE] MUTATION...", args, map[string]string{}); err != nil {
		return err
	}
	muts := fs.Args()
	if *file == "" && len(muts) > 1 && looksLikeFile(muts[0]) {
		*file, muts = muts[0], muts[1:]
	}
	parsed, err := parseLocalMutations(muts)
	if err != nil {
		return err
	}
	in, err := cl.openInput(*file)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(in)
	in.Close()
	if err != nil {
		return err
	}
	doc, err := mutateDocument(data, parsed)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	out = append(out, '\n')
	if *file == "" || *file == "-" {
		_, err = cl.stdout.Write(out)
		return err
	}
	return replaceFile(*file, out)
}

// replaceFile writes data to path atomically, keeping its mode.
func replaceFile(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
