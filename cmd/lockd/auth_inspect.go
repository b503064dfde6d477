package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

// bundleFiles lists the folder's bundles of a kind: ca, server, client
// (client*.pem and tc-client*.pem) or "" for all.
func bundleFiles(dir, kind string) ([]string, error) {
	var prefixes []string
	switch kind {
	case "", "all":
		prefixes = []string{"ca", "server", "client", "tc-client"}
	case "ca":
		prefixes = []string{"ca"}
	case "server":
		prefixes = []string{"server"}
	case "client", "tcclient":
		prefixes = []string{"client", "tc-client"}
	default:
		return nil, fmt.Errorf("unknown kind %q (want ca, server or client)", kind)
	}
	var out []string
	for _, p := range prefixes {
		m, err := tlsutil.Glob(dir, p)
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}

func (e *authEnv) inspect(args []string) error {
	f := newAuthFlags("inspect", e.out)
	var in []string
	f.fs.StringArrayVar(&in, "in", nil, "bundle file to inspect (repeatable; default: the folder's bundles)")
	if err := f.parse(args); err != nil {
		return err
	}
	files, err := e.pick(f, in)
	if err != nil {
		return err
	}
	for _, path := range files {
		if err := e.inspectFile(path); err != nil {
			fmt.Fprintf(e.out, "%s: %v\n", path, err)
		}
		fmt.Fprintln(e.out)
	}
	return nil
}

// pick returns --in files, or the folder's bundles of the kind named by
// the first argument.
func (e *authEnv) pick(f *authFlags, in []string) ([]string, error) {
	if len(in) > 0 {
		return in, nil
	}
	dir, err := f.folder()
	if err != nil {
		return nil, err
	}
	files, err := bundleFiles(dir, f.fs.Arg(0))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no bundles in %s", dir)
	}
	return files, nil
}

func (e *authEnv) inspectFile(path string) error {
	if ca, err := tlsutil.LoadCABundle(path); err == nil {
		fmt.Fprintf(e.out, "%s: CA bundle (holds the CA private key: keep it offline)\n", path)
		e.describeCert(ca.Cert)
		fmt.Fprintf(e.out, "  %-12s id %s\n", "storage key", keyID(ca.StorageKey))
		return nil
	}
	if sb, err := tlsutil.LoadServerBundle(path); err == nil && hasUsage(sb.Leaf, x509.ExtKeyUsageServerAuth) {
		fmt.Fprintf(e.out, "%s: server bundle\n", path)
		e.describeCert(sb.Leaf)
		e.describeIssuer(sb.CAs)
		if sb.StorageKey != nil {
			fmt.Fprintf(e.out, "  %-12s id %s\n", "storage key", keyID(sb.StorageKey))
		} else {
			fmt.Fprintf(e.out, "  %-12s none (storage encryption needs --disable-storage-encryption)\n", "storage key")
		}
		fmt.Fprintf(e.out, "  %-12s %d revoked serial(s) %s\n", "denylist", len(sb.Denylist), strings.Join(sb.Denylist, ", "))
		return nil
	}
	cb, err := tlsutil.ReadClientBundle(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.out, "%s: client bundle\n", path)
	e.describeCert(cb.Leaf)
	e.describeIssuer(cb.CAs)
	return nil
}

func (e *authEnv) describeWritten(path string, c *x509.Certificate) {
	fmt.Fprintf(e.out, "wrote %s\n", path)
	e.describeCert(c)
}

func (e *authEnv) describeCert(c *x509.Certificate) {
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(e.out, "  %-12s %s\n", k, v)
		}
	}
	left := time.Until(c.NotAfter).Round(time.Hour)
	state := fmt.Sprintf("expires in %s", left)
	if left <= 0 {
		state = "EXPIRED"
	}
	row("subject", c.Subject.String())
	row("serial", tlsutil.Serial(c))
	row("valid", fmt.Sprintf("%s to %s (%s)", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), state))
	if id := tlsutil.SPIFFEID(c); id != "" {
		row("identity", fmt.Sprintf("%s (role %s)", id, tlsutil.RoleOf(c)))
	}
	var hosts []string
	hosts = append(hosts, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	row("hosts", strings.Join(hosts, ", "))
	var usages []string
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			usages = append(usages, "server auth")
		case x509.ExtKeyUsageClientAuth:
			usages = append(usages, "client auth")
		}
	}
	row("usages", strings.Join(usages, ", "))
	if cl, err := tlsutil.ParseClaims(c); err != nil {
		row("claims", "INVALID: "+err.Error())
	} else {
		var s []string
		for _, x := range cl.List() {
			s = append(s, x.String())
		}
		row("claims", strings.Join(s, ", "))
	}
}

func (e *authEnv) describeIssuer(cas []*x509.Certificate) {
	for _, ca := range cas {
		fmt.Fprintf(e.out, "  %-12s %s (serial %s)\n", "trusts CA", ca.Subject.String(), tlsutil.Serial(ca))
	}
}

func hasUsage(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	for _, x := range c.ExtKeyUsage {
		if x == u {
			return true
		}
	}
	return false
}

// expiryWarning is how close to expiry verify starts warning.
const expiryWarning = 30 * 24 * time.Hour

func (e *authEnv) verify(args []string) error {
	f := newAuthFlags("verify", e.out)
	var in []string
	var serverIn string
	f.fs.StringArrayVar(&in, "in", nil, "bundle file to verify (repeatable; default: the folder's bundles of the kind)")
	f.fs.StringVar(&serverIn, "server-in", "", "server bundle clients are checked against (default <folder>/server.pem)")
	if err := f.parse(args); err != nil {
		return err
	}
	kind := f.fs.Arg(0)
	switch kind {
	case "", "server", "client", "tcclient":
	default:
		return fmt.Errorf("unknown kind %q (want server or client)", kind)
	}
	if kind == "" && len(in) > 0 {
		return errors.New("--in needs a kind: lockd auth verify server|client --in FILE")
	}
	dir, err := f.folder()
	if err != nil {
		return err
	}
	files := func(k string) ([]string, error) {
		if len(in) > 0 {
			return in, nil
		}
		return bundleFiles(dir, k)
	}
	failed := 0
	if kind == "" || kind == "server" {
		list, err := files("server")
		if err != nil {
			return err
		}
		for _, p := range list {
			failed += e.report(p, verifyServerFile(p))
		}
	}
	if kind != "server" {
		if serverIn == "" {
			serverIn = filepath.Join(dir, tlsutil.ServerFile)
		}
		sb, err := tlsutil.LoadServerBundle(serverIn)
		if err != nil {
			return fmt.Errorf("server bundle for client checks: %w", err)
		}
		list, err := files("client")
		if err != nil {
			return err
		}
		for _, p := range list {
			failed += e.report(p, verifyClientFile(p, sb))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d bundle(s) failed verification", failed)
	}
	return nil
}

func (e *authEnv) report(path string, err error) int {
	var warn warning
	switch {
	case err == nil:
		fmt.Fprintf(e.out, "ok    %s\n", path)
	case errors.As(err, &warn):
		fmt.Fprintf(e.out, "ok    %s (warning: %s)\n", path, warn.msg)
	default:
		fmt.Fprintf(e.out, "FAIL  %s: %v\n", path, err)
		return 1
	}
	return 0
}

// warning is a verification remark that does not fail.
type warning struct{ msg string }

func (w warning) Error() string { return w.msg }

func expiryCheck(c *x509.Certificate) error {
	if left := time.Until(c.NotAfter); left < expiryWarning {
		return warning{fmt.Sprintf("certificate expires in %s", left.Round(time.Hour))}
	}
	return nil
}

func verifyServerFile(path string) error {
	sb, err := tlsutil.LoadServerBundle(path)
	if err != nil {
		return err
	}
	chain := append([]*x509.Certificate{sb.Leaf}, sb.Chain...)
	if err := tlsutil.VerifyServer(chain, sb.CAPool(), time.Now()); err != nil {
		return err
	}
	if len(sb.StorageKey) == 0 {
		return errors.New("no LOCKD STORAGE KEY block: storage encryption cannot be enabled")
	}
	return expiryCheck(sb.Leaf)
}

func verifyClientFile(path string, sb *tlsutil.ServerBundle) error {
	cb, err := tlsutil.ReadClientBundle(path)
	if err != nil {
		return err
	}
	if err := tlsutil.VerifyClient(append([]*x509.Certificate{cb.Leaf}, cb.Chain...), sb, time.Now()); err != nil {
		return err
	}
	if tlsutil.SPIFFEID(cb.Leaf) == "" {
		return errors.New("certificate has no SPIFFE identity: namespace claims will be refused")
	}
	claims, err := tlsutil.ParseClaims(cb.Leaf)
	if err != nil {
		return err
	}
	if claims.Empty() {
		return errors.New("certificate has no namespace claims: every namespaced request will be refused")
	}
	if err := tlsutil.VerifyServer(append([]*x509.Certificate{sb.Leaf}, sb.Chain...), cb.CAPool(), time.Now()); err != nil {
		return fmt.Errorf("the client would not trust the server: %w", err)
	}
	return expiryCheck(cb.Leaf)
}
