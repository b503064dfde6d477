package tlsutil_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

func newCA(t testing.TB) *tlsutil.CABundle {
	t.Helper()
	ca, err := tlsutil.NewCA("test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestBundlesRoundTrip(t *testing.T) {
	ca := newCA(t)
	pem, err := ca.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := tlsutil.ParseCABundle(pem)
	if err != nil || !back.Cert.Equal(ca.Cert) || !bytes.Equal(back.StorageKey, ca.StorageKey) {
		t.Fatalf("CA round trip: %v", err)
	}
	srv, err := back.IssueServer(tlsutil.ServerOptions{CommonName: "node-1", Hosts: []string{"lockd.example.com,10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Denylist = []string{"0xAB", "ab", "01"}
	spem, err := srv.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(spem), "CA PRIVATE") || bytes.Count(spem, []byte("PRIVATE KEY-----")) != 2 {
		t.Fatalf("server bundle must hold exactly one private key (its own):\n%s", spem)
	}
	sb, err := tlsutil.ParseServerBundle(spem)
	if err != nil {
		t.Fatal(err)
	}
	if !sb.Leaf.Equal(srv.Leaf) || !bytes.Equal(sb.StorageKey, ca.StorageKey) || !slices.Equal(sb.Denylist, []string{"1", "ab"}) {
		t.Fatalf("server round trip: %+v", sb.Denylist)
	}
	if tlsutil.RoleOf(sb.Leaf) != tlsutil.RoleServer || !slices.Contains(sb.Leaf.DNSNames, "lockd.example.com") || len(sb.Leaf.IPAddresses) != 1 {
		t.Fatalf("server SANs: %v %v %v", sb.Leaf.URIs, sb.Leaf.DNSNames, sb.Leaf.IPAddresses)
	}
	// Block order does not matter to the parser.
	blocks := splitPEM(spem)
	slices.Reverse(blocks)
	if _, err := tlsutil.ParseServerBundle(bytes.Join(blocks, nil)); err != nil {
		t.Fatalf("reordered bundle: %v", err)
	}
	cl, err := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{CommonName: "worker 1"})
	if err != nil {
		t.Fatal(err)
	}
	cpem, _ := cl.Encode()
	if bytes.Contains(cpem, []byte(tlsutil.BlockStorageKey)) {
		t.Fatal("client bundle carries the storage key")
	}
	cb, err := tlsutil.ParseClientBundle(cpem)
	if err != nil || tlsutil.SPIFFEID(cb.Leaf) != "spiffe://lockd/sdk/worker-1" {
		t.Fatalf("client: %v %s", err, tlsutil.SPIFFEID(cb.Leaf))
	}
	claims, err := tlsutil.ParseClaims(cb.Leaf)
	if err != nil || !claims.Allows("default", tlsutil.AccessReadWrite) || claims.Allows("other", tlsutil.AccessRead) {
		t.Fatalf("default client claims: %v %v", claims.List(), err)
	}
}

// splitPEM returns the PEM blocks of b, each re-encoded on its own.
func splitPEM(b []byte) [][]byte {
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		out = append(out, pem.EncodeToMemory(blk))
	}
}

func TestBundleErrors(t *testing.T) {
	ca := newCA(t)
	other := newCA(t)
	srv, _ := ca.IssueServer(tlsutil.ServerOptions{})
	spem, _ := srv.Encode()
	otherPEM, _ := other.Encode()
	leafOnly := bytes.Replace(spem, []byte(tlsutil.BlockPrivateKey), []byte("IGNORED BLOCK"), -1)
	cases := map[string][]byte{
		"empty":         nil,
		"garbage":       []byte("not a pem"),
		"no key":        leafOnly,
		"no CA":         bytes.Join(splitPEM(spem)[1:], nil),
		"CA bundle":     otherPEM, // no leaf
		"bad cert":      []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"short storage": []byte("-----BEGIN LOCKD STORAGE KEY-----\nAAAA\n-----END LOCKD STORAGE KEY-----\n"),
		"bad denylist":  append(bytes.Clone(spem), "-----BEGIN LOCKD DENYLIST-----\nenp6\n-----END LOCKD DENYLIST-----\n"...),
	}
	for name, data := range cases {
		if _, err := tlsutil.ParseServerBundle(data); !errors.Is(err, tlsutil.ErrBundle) {
			t.Errorf("%s: %v, want ErrBundle", name, err)
		}
	}
	if _, err := tlsutil.ParseCABundle(spem); !errors.Is(err, tlsutil.ErrBundle) {
		t.Errorf("server bundle as CA: %v", err)
	}
}

func TestClaimSpecs(t *testing.T) {
	got, err := tlsutil.ParseClaimSpecs("orders", "Reports=r, audit=w", "ALL=r")
	want := []tlsutil.Claim{{"orders", tlsutil.PermReadWrite}, {"reports", tlsutil.PermRead}, {"audit", tlsutil.PermWrite}, {"ALL", tlsutil.PermRead}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ParseClaimSpecs = %v %v", got, err)
	}
	for _, bad := range []string{"a=x", ".txns", "a b", "=r", "a=r=w"} {
		if _, err := tlsutil.ParseClaimSpecs(bad); !errors.Is(err, tlsutil.ErrClaims) {
			t.Errorf("%q: %v, want ErrClaims", bad, err)
		}
	}
}

func TestClaimsSemantics(t *testing.T) {
	ca := newCA(t)
	cl, err := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{Claims: []tlsutil.Claim{
		{"ALL", tlsutil.PermReadWrite}, {"secret", tlsutil.PermRead}, {"audit", tlsutil.PermWrite}, {"audit", tlsutil.PermRead},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tlsutil.ParseClaims(cl.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ns   string
		a    tlsutil.Access
		want bool
	}{
		{"anything", tlsutil.AccessReadWrite, true},
		{"secret", tlsutil.AccessRead, true}, // a named claim overrides ALL
		{"secret", tlsutil.AccessWrite, false},
		{"secret", tlsutil.AccessAny, true},
		{"audit", tlsutil.AccessReadWrite, true}, // r and w add up
	}
	for _, tc := range tests {
		if got := c.Allows(tc.ns, tc.a); got != tc.want {
			t.Errorf("Allows(%s, %s) = %v", tc.ns, tc.a, got)
		}
	}
	if !c.AllowsAll(tlsutil.AccessReadWrite) {
		t.Error("ALL=rw not seen")
	}
}

func TestDenylistFollowsBundleFile(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	srv, _ := ca.IssueServer(tlsutil.ServerOptions{})
	cl, _ := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	path := filepath.Join(dir, "server.pem")
	data, _ := srv.Encode()
	if err := tlsutil.WriteFile(path, data, false); err != nil {
		t.Fatal(err)
	}
	d := tlsutil.FollowBundle(path, srv.Denylist)
	if d.Revoked(cl.Leaf) {
		t.Fatal("revoked before revocation")
	}
	srv.Denylist = []string{tlsutil.Serial(cl.Leaf)}
	data, _ = srv.Encode()
	if err := tlsutil.WriteFile(path, data, true); err != nil {
		t.Fatal(err)
	}
	// The file is re-read at most once per RecheckEvery; force the next
	// check by moving the clock of the list, not by sleeping.
	tlsutil.ExpireRecheck(d)
	if !d.Revoked(cl.Leaf) {
		t.Fatal("revocation in the bundle file not picked up")
	}
}

func TestWriteFileModesAndNumbering(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	p := tlsutil.NextFreeName(dir, "server.pem")
	if err := tlsutil.WriteFile(p, []byte("a"), false); err != nil {
		t.Fatal(err)
	}
	if err := tlsutil.WriteFile(p, []byte("b"), false); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second write without force: %v", err)
	}
	if next := tlsutil.NextFreeName(dir, "server.pem"); filepath.Base(next) != "server02.pem" {
		t.Fatalf("next name %s", next)
	}
	tlsutil.WriteFile(filepath.Join(dir, "server02.pem"), []byte("c"), false)
	if next := tlsutil.NextFreeName(dir, "server.pem"); filepath.Base(next) != "server03.pem" {
		t.Fatalf("next name %s", next)
	}
	fi, _ := os.Stat(p)
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("modes: file %v dir %v", fi.Mode(), di.Mode())
	}
}

func TestBootstrapIsIdempotent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lockd")
	res, err := tlsutil.Bootstrap(dir)
	if err != nil || len(res.Created) != 4 {
		t.Fatalf("first bootstrap: %+v %v", res, err)
	}
	before := map[string][]byte{}
	for _, f := range res.Created {
		before[f], _ = os.ReadFile(f)
	}
	res, err = tlsutil.Bootstrap(dir)
	if err != nil || len(res.Created) != 0 {
		t.Fatalf("second bootstrap: %+v %v", res, err)
	}
	for f, b := range before {
		if now, _ := os.ReadFile(f); !bytes.Equal(now, b) {
			t.Fatalf("%s changed", f)
		}
	}
	// A missing client is recreated from the same CA.
	os.Remove(filepath.Join(dir, tlsutil.ClientFile))
	if res, _ = tlsutil.Bootstrap(dir); len(res.Created) != 1 {
		t.Fatalf("client not recreated: %+v", res)
	}
	srv, err := tlsutil.LoadServerBundle(filepath.Join(dir, tlsutil.ServerFile))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := tlsutil.ReadClientBundle(filepath.Join(dir, tlsutil.ClientFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := tlsutil.VerifyClient([]*x509.Certificate{cl.Leaf}, srv, time.Now()); err != nil {
		t.Fatalf("bootstrapped client does not verify: %v", err)
	}
	// The starter client is the operator's: every namespace.
	if c, _ := tlsutil.ParseClaims(cl.Leaf); !c.AllowsAll(tlsutil.AccessReadWrite) {
		t.Fatal("starter client lacks ALL=rw")
	}
	// With the CA kept offline, nothing new is issued and no CA appears.
	os.Remove(filepath.Join(dir, tlsutil.CAFile))
	os.Remove(filepath.Join(dir, tlsutil.ClientFile))
	res, err = tlsutil.Bootstrap(dir)
	if err != nil || len(res.Created) != 0 {
		t.Fatalf("bootstrap without CA: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(dir, tlsutil.CAFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a new CA was minted next to an existing server bundle")
	}
}

func TestDiscoverClientBundle(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsutil.DiscoverClientBundleIn(dir); !errors.Is(err, tlsutil.ErrNoClientBundle) {
		t.Fatalf("empty dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "tc-client.pem"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "client02.pem"), nil, 0o600)
	if p, err := tlsutil.DiscoverClientBundleIn(dir); err != nil || filepath.Base(p) != "client02.pem" {
		t.Fatalf("single client: %s %v", p, err)
	}
	os.WriteFile(filepath.Join(dir, "client03.pem"), nil, 0o600)
	if _, err := tlsutil.DiscoverClientBundleIn(dir); err == nil {
		t.Fatal("ambiguous choice accepted")
	}
	os.WriteFile(filepath.Join(dir, "client.pem"), nil, 0o600)
	if p, err := tlsutil.DiscoverClientBundleIn(dir); err != nil || filepath.Base(p) != "client.pem" {
		t.Fatalf("client.pem preferred: %s %v", p, err)
	}
	explicit := filepath.Join(dir, "client03.pem")
	if p, err := tlsutil.ResolveClientBundle(explicit); err != nil || p != explicit {
		t.Fatalf("explicit bundle: %s %v", p, err)
	}
	if _, err := tlsutil.ResolveClientBundle(filepath.Join(dir, "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing explicit bundle: %v", err)
	}
}

// A missing folder holds no bundle; one that cannot be read is an error,
// not an empty folder (tests run as root, so a file stands in for it).
func TestDiscoverClientBundleFolder(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsutil.DiscoverClientBundleIn(filepath.Join(dir, "none")); !errors.Is(err, tlsutil.ErrNoClientBundle) {
		t.Fatalf("missing folder: %v", err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := tlsutil.DiscoverClientBundleIn(notDir)
	if err == nil || errors.Is(err, tlsutil.ErrNoClientBundle) || !strings.Contains(err.Error(), notDir) {
		t.Fatalf("unreadable folder: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "client-a.pem"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "client02.pem"), nil, 0o600)
	_, err = tlsutil.DiscoverClientBundleIn(dir)
	if err == nil || !strings.Contains(err.Error(), "client-a.pem") || !strings.Contains(err.Error(), "client02.pem") {
		t.Fatalf("ambiguous choice: %v", err)
	}
}

// TestHandshake runs the server and client configurations against each
// other over loopback: a bundle client succeeds; the server's host name is
// not checked, its CA and identity are.
func TestHandshake(t *testing.T) {
	ca := newCA(t)
	srv, _ := ca.IssueServer(tlsutil.ServerOptions{Hosts: []string{"only.example.com"}})
	cl, _ := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	revoked, _ := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	deny := tlsutil.NewDenylist([]string{tlsutil.Serial(revoked.Leaf)})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tlsutil.ServerConfig(srv, deny))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("hi"))
			}()
		}
	}()
	dial := func(cfg *tls.Config) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadFull(c, make([]byte, 2))
		return err
	}
	if err := dial(cl.TLSConfig()); err != nil {
		t.Fatalf("bundle client: %v", err)
	}
	if err := dial(revoked.TLSConfig()); err == nil {
		t.Fatal("revoked client accepted")
	}
	// A server of another CA is refused by the client.
	other := newCA(t)
	ocl, _ := other.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	cfg := ocl.TLSConfig()
	cfg.Certificates = cl.TLSConfig().Certificates
	if err := dial(cfg); err == nil {
		t.Fatal("client accepted a server of another CA")
	}
}

// Without a home directory there is no bundle to find: https clients keep
// the system roots instead of failing.
func TestDiscoverClientBundleWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	if _, err := tlsutil.DiscoverClientBundle(); !errors.Is(err, tlsutil.ErrNoClientBundle) {
		t.Fatalf("no home directory: %v", err)
	}
}
