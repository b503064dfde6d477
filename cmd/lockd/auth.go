package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/store/crypt"
)

// authEnv is what "lockd auth" commands write to.
type authEnv struct {
	out, errw io.Writer
}

const authUsage = `usage: lockd auth COMMAND [flags]

  new ca|server|client|tcclient   issue a CA, server or client bundle
  revoke client SERIAL|FILE...     deny client certificates on the server bundles
  inspect [ca|server|client]       print bundle contents
  verify [server|client]           check bundles against each other

Files default to $HOME/.lockd (folder 0700, files 0600); --dir moves the
folder, --out/--in/--ca-in/--server-in name files. Run a command with
--help for its flags.
`

// runAuth runs "lockd auth ARGS".
func runAuth(args []string, stdout, stderr io.Writer) error {
	env := &authEnv{out: stdout, errw: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stdout, authUsage)
		return nil
	}
	var err error
	switch args[0] {
	case "new":
		err = env.new(args[1:])
	case "revoke":
		err = env.revoke(args[1:])
	case "inspect":
		err = env.inspect(args[1:])
	case "verify":
		err = env.verify(args[1:])
	default:
		return fmt.Errorf("auth: unknown command %q\n%s", args[0], authUsage)
	}
	if errors.Is(err, pflag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("auth %s: %w", args[0], err)
	}
	return nil
}

// authFlags are the flags every auth command shares.
type authFlags struct {
	fs  *pflag.FlagSet
	dir string
}

func newAuthFlags(name string, out io.Writer) *authFlags {
	f := &authFlags{fs: pflag.NewFlagSet("lockd auth "+name, pflag.ContinueOnError)}
	f.fs.SetOutput(out)
	f.fs.StringVar(&f.dir, "dir", "", "configuration folder (default $HOME/.lockd)")
	return f
}

// folder returns --dir or the default folder.
func (f *authFlags) folder() (string, error) {
	if f.dir != "" {
		return f.dir, nil
	}
	return tlsutil.DefaultDir()
}

func (f *authFlags) parse(args []string) error { return f.fs.Parse(args) }

func (e *authEnv) new(args []string) error {
	if len(args) == 0 {
		return errors.New("want a kind: ca, server, client or tcclient")
	}
	kind, args := args[0], args[1:]
	f := newAuthFlags("new "+kind, e.out)
	var (
		out, caIn, cn string
		hosts, claims []string
		force         bool
		validFor      time.Duration
		readAll       bool
		writeAll      bool
		rwAll         bool
	)
	f.fs.StringVar(&out, "out", "", "file to write (default: the next free name in the folder)")
	f.fs.StringVar(&cn, "cn", "", "certificate common name (also names the SPIFFE identity)")
	f.fs.BoolVar(&force, "force", false, "replace an existing --out file")
	f.fs.DurationVar(&validFor, "valid-for", 0, "validity (default 10 years for a CA, 1 year otherwise)")
	if kind != "ca" {
		f.fs.StringVar(&caIn, "ca-in", "", "CA bundle to sign with (default <folder>/ca.pem)")
	}
	switch kind {
	case "server":
		f.fs.StringSliceVar(&hosts, "hosts", nil, "DNS names and IPs of the server, repeatable or comma-separated (default *, localhost, 127.0.0.1, ::1)")
	case "client", "tcclient":
		f.fs.StringArrayVarP(&claims, "namespace", "n", nil, "namespace claim NS or NS=r|w|rw, repeatable or comma-separated (client default: default=rw; tcclient default: ALL=rw)")
		f.fs.BoolVar(&readAll, "read-all", false, "add the claim ALL=r")
		f.fs.BoolVar(&writeAll, "write-all", false, "add the claim ALL=w")
		f.fs.BoolVar(&rwAll, "rw-all", false, "add the claim ALL=rw")
	case "ca":
	default:
		return fmt.Errorf("unknown kind %q (want ca, server, client or tcclient)", kind)
	}
	if err := f.parse(args); err != nil {
		return err
	}
	dir, err := f.folder()
	if err != nil {
		return err
	}
	if err := tlsutil.EnsureDir(dir); err != nil {
		return err
	}
	e.warnLoose(dir)
	if kind == "ca" {
		if out == "" {
			out = filepath.Join(dir, tlsutil.CAFile)
		}
		ca, err := tlsutil.NewCA(cn, validFor)
		if err != nil {
			return err
		}
		if err := e.write(out, ca.Encode, force); err != nil {
			return err
		}
		e.describeWritten(out, ca.Cert)
		fmt.Fprintf(e.out, "  storage key id %s (keep this file offline; servers get the key in their bundles)\n", keyID(ca.StorageKey))
		return nil
	}
	if caIn == "" {
		caIn = filepath.Join(dir, tlsutil.CAFile)
	}
	ca, err := tlsutil.LoadCABundle(caIn)
	if err != nil {
		return err
	}
	switch kind {
	case "server":
		b, err := ca.IssueServer(tlsutil.ServerOptions{CommonName: cn, Hosts: hosts, ValidFor: validFor})
		if err != nil {
			return err
		}
		return e.writeIssued(dir, out, tlsutil.ServerFile, force, b.Encode, b.Leaf)
	}
	role, base := tlsutil.RoleSDK, tlsutil.ClientFile
	if kind == "tcclient" {
		role, base = tlsutil.RoleTC, tlsutil.TCClientFile
	}
	cl, err := tlsutil.ParseClaimSpecs(claims...)
	if err != nil {
		return err
	}
	for on, p := range map[*bool]tlsutil.Permission{&readAll: tlsutil.PermRead, &writeAll: tlsutil.PermWrite, &rwAll: tlsutil.PermReadWrite} {
		if *on {
			cl = append(cl, tlsutil.Claim{Namespace: tlsutil.AllNamespaces, Perm: p})
		}
	}
	b, err := ca.IssueClient(role, tlsutil.ClientOptions{CommonName: cn, Claims: cl, ValidFor: validFor})
	if err != nil {
		return err
	}
	return e.writeIssued(dir, out, base, force, b.Encode, b.Leaf)
}

// writeIssued writes a leaf bundle to out, or to the next free numbered
// name of base in dir (client.pem, client02.pem, …).
func (e *authEnv) writeIssued(dir, out, base string, force bool, encode func() ([]byte, error), leaf *x509.Certificate) error {
	if out == "" {
		out = tlsutil.NextFreeName(dir, base)
	}
	if err := e.write(out, encode, force); err != nil {
		return err
	}
	e.describeWritten(out, leaf)
	return nil
}

func (e *authEnv) write(path string, encode func() ([]byte, error), force bool) error {
	data, err := encode()
	if err != nil {
		return err
	}
	return tlsutil.WriteFile(path, data, force)
}

// warnLoose warns when the folder is readable by others.
func (e *authEnv) warnLoose(dir string) {
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(e.errw, "warning: %s is accessible to other users (mode %v); chmod 700 it\n", dir, fi.Mode().Perm())
	}
}

// keyID names a storage root key without revealing it.
func keyID(root []byte) string {
	k, err := crypt.NewKey(root)
	if err != nil {
		return "invalid"
	}
	return k.ID()
}
