package bundle_test

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lockdhq/lockd/bundle"
	"github.com/lockdhq/lockd/internal/tlsutil"
)

// Files: mode 0600, an existing file is refused without Force, and the
// bundles chain to their CA with the claims asked for.
func TestBundleFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	caPath := filepath.Join(dir, "ca.pem")
	if err := bundle.CreateCABundleFile(bundle.CreateCABundleFileRequest{Path: caPath}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(caPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca.pem: %v %v", fi, err)
	}
	if err := bundle.CreateCABundleFile(bundle.CreateCABundleFileRequest{Path: caPath}); !errors.Is(err, os.ErrExist) {
		t.Fatalf("overwrite without Force: %v", err)
	}
	if err := bundle.CreateCABundleFile(bundle.CreateCABundleFileRequest{Path: caPath, Force: true}); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(caPath)
	srv, err := bundle.CreateServerBundle(bundle.CreateServerBundleRequest{CABundlePEM: ca, Hosts: []string{" node1 ", "10.0.0.1"},
		Denylist: []string{"0A"}})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := tlsutil.ParseServerBundle(srv)
	if err != nil {
		t.Fatal(err)
	}
	if len(sb.Leaf.DNSNames) != 1 || sb.Leaf.DNSNames[0] != "node1" || len(sb.Leaf.IPAddresses) != 1 || len(sb.Denylist) != 1 || len(sb.StorageKey) == 0 {
		t.Fatalf("server bundle: dns %v ip %v deny %v", sb.Leaf.DNSNames, sb.Leaf.IPAddresses, sb.Denylist)
	}
	cli, err := bundle.CreateClientBundle(bundle.CreateClientBundleRequest{CABundlePEM: ca, NamespaceClaims: []string{"orders=r,jobs"}})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := tlsutil.ParseClientBundle(cli)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := tlsutil.ParseClaims(cb.Leaf)
	if err != nil || claims.Permission("orders") != tlsutil.PermRead || claims.Permission("jobs") != tlsutil.PermReadWrite || claims.Permission("x") != 0 {
		t.Fatalf("claims %v %v", claims.List(), err)
	}
	if err := tlsutil.VerifyClient([]*x509.Certificate{cb.Leaf}, sb, cb.Leaf.NotBefore); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.CreateClientBundle(bundle.CreateClientBundleRequest{}); !errors.Is(err, bundle.ErrNoCA) {
		t.Fatalf("no CA: %v", err)
	}
	if err := bundle.CreateTCClientBundleFile(bundle.CreateTCClientBundleFileRequest{}); !errors.Is(err, bundle.ErrNoPath) {
		t.Fatalf("no path: %v", err)
	}
}
