package tlsutil_test

import (
	"crypto/x509"
	"net/url"
	"testing"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

// FuzzParseBundles feeds arbitrary bytes to every bundle parser: they
// return a bundle or an error, never panic; a parsed bundle re-encodes to
// a bundle that parses to the same leaf.
func FuzzParseBundles(f *testing.F) {
	ca, _ := tlsutil.NewCA("fuzz", 0)
	srv, _ := ca.IssueServer(tlsutil.ServerOptions{})
	srv.Denylist = []string{"abc"}
	cl, _ := ca.IssueClient(tlsutil.RoleTC, tlsutil.ClientOptions{})
	for _, enc := range []func() ([]byte, error){ca.Encode, srv.Encode, cl.Encode} {
		b, _ := enc()
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN LOCKD DENYLIST-----\nzz\n-----END LOCKD DENYLIST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, err := tlsutil.ParseServerBundle(data); err == nil {
			again, err := b.Encode()
			if err != nil {
				t.Fatalf("encode parsed server bundle: %v", err)
			}
			b2, err := tlsutil.ParseServerBundle(again)
			if err != nil || !b2.Leaf.Equal(b.Leaf) {
				t.Fatalf("re-parse: %v", err)
			}
		}
		if b, err := tlsutil.ParseClientBundle(data); err == nil {
			if _, err := b.Encode(); err != nil {
				t.Fatalf("encode parsed client bundle: %v", err)
			}
			tlsutil.ParseClaims(b.Leaf)
		}
		tlsutil.ParseCABundle(data)
	})
}

// FuzzClaims parses URI SANs as the edge does for every client
// certificate: a claim that parses grants what its canonical URI grants.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{"lockd://ns/orders?perm=r", "lockd://ns/ALL", "lockd://NS/x?perm=rw&perm=r",
		"lockd://ns/a/b", "lockd://ns/.txns", "lockd://evil/default?perm=rw", "lockd://ns/%2e%2e"} {
		f.Add(s, "spiffe://lockd/sdk/x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var uris []*url.URL
		for _, s := range []string{a, b} {
			if u, err := url.Parse(s); err == nil {
				uris = append(uris, u)
			}
		}
		c, err := tlsutil.ParseClaims(&x509.Certificate{URIs: uris})
		if err != nil {
			return
		}
		canon := &x509.Certificate{}
		for _, cl := range c.List() {
			canon.URIs = append(canon.URIs, cl.URI())
		}
		c2, err := tlsutil.ParseClaims(canon)
		if err != nil {
			t.Fatalf("canonical claims do not parse: %v", err)
		}
		for _, cl := range c.List() {
			if cl.Namespace == tlsutil.AllNamespaces {
				if !c2.AllowsAll(tlsutil.AccessAny) {
					t.Fatal("ALL claim lost")
				}
				continue
			}
			if c2.Permission(cl.Namespace) != cl.Perm {
				t.Fatalf("%s: %v != %v", cl.Namespace, c2.Permission(cl.Namespace), cl.Perm)
			}
		}
		tlsutil.ParseClaimSpecs(a, b)
	})
}
