package sdk_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate.
type testPKI struct {
	caPEM      []byte
	pool       *x509.CertPool
	server     tls.Certificate
	clientPEM  []byte // client cert + key + CA, a bundle
	clientCert tls.Certificate
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lockd-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := &testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	issue := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP) (tls.Certificate, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "node"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: ips,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return pair, append(certPEM, keyPEM...)
	}
	p.server, _ = issue(2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	var clientPEM []byte
	p.clientCert, clientPEM = issue(3, x509.ExtKeyUsageClientAuth, nil)
	p.clientPEM = append(append([]byte{}, p.caPEM...), clientPEM...)
	return p
}

// startTLSServer serves lockd over TLS, requiring client certificates
// when mtls is set.
func startTLSServer(t *testing.T, p *testPKI, mtls bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if mtls {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, p.pool
	}
	ts := &testServer{Server: server.StartOn(tls.NewListener(ln, cfg), mem.New(), server.Config{})}
	t.Cleanup(ts.stop)
	return ln.Addr().String()
}

func TestHTTPSWithCAPool(t *testing.T) {
	p := newPKI(t)
	addr := startTLSServer(t, p, false)
	ctx := testCtx(t)
	c := newClient(t, "https://"+addr, sdk.WithTLSConfig(&tls.Config{RootCAs: p.pool}))
	sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "tls", Owner: "w", TTLSeconds: 10})
	if err != nil {
		t.Fatal(err)
	}
	sess.Close()
	// A bare host:port means https; the system roots do not trust the
	// test CA.
	bare := newClient(t, addr, sdk.WithRetries(0))
	if _, err := bare.Describe(ctx, "tls"); err == nil {
		t.Fatal("untrusted server certificate accepted")
	}
}

// mtlsServer serves lockd with a real server bundle of a fresh CA and
// returns the address and a client bundle file of that CA.
func mtlsServer(t *testing.T) (addr, bundle string, ca *tlsutil.CABundle) {
	t.Helper()
	ca, err := tlsutil.NewCA("sdk-test", 0)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ca.IssueServer(tlsutil.ServerOptions{CommonName: "sdk-test-node"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: server.StartOn(ln, mem.New(), server.Config{Security: server.Security{Bundle: sb}})}
	t.Cleanup(ts.stop)
	return ln.Addr().String(), writeClientBundle(t, ca, t.TempDir()), ca
}

func writeClientBundle(t *testing.T, ca *tlsutil.CABundle, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "client.pem")
	writeClientBundleAs(t, ca, path)
	return path
}

// writeClientBundleAs writes a new client bundle of ca to path.
func writeClientBundleAs(t *testing.T, ca *tlsutil.CABundle, path string) {
	t.Helper()
	cb, err := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := cb.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMTLSBundle(t *testing.T) {
	addr, bundle, ca := mtlsServer(t)
	ctx := testCtx(t)
	c := newClient(t, addr, sdk.WithBundle(bundle))
	if _, err := c.Describe(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	noCert := newClient(t, "https://"+addr, sdk.WithTLSConfig(&tls.Config{RootCAs: caPool(ca)}), sdk.WithRetries(0))
	if _, err := noCert.Describe(ctx, "x"); err == nil {
		t.Fatal("server requiring client certificates accepted a client without one")
	}
	if _, err := sdk.New(addr, sdk.WithBundle(filepath.Join(t.TempDir(), "missing.pem"))); err == nil {
		t.Fatal("missing bundle accepted")
	}
	// A bundle of another CA does not trust this server.
	other, err := tlsutil.NewCA("other", 0)
	if err != nil {
		t.Fatal(err)
	}
	stranger := newClient(t, addr, sdk.WithBundle(writeClientBundle(t, other, t.TempDir())), sdk.WithRetries(0))
	if _, err := stranger.Describe(ctx, "x"); err == nil {
		t.Fatal("a server of another CA was trusted")
	}
}

// With no bundle option the SDK looks in $HOME/.lockd, as lockd's first
// start writes it: the only client*.pem, or client.pem among several.
func TestMTLSBundleDiscovery(t *testing.T) {
	addr, _, ca := mtlsServer(t)
	other, err := tlsutil.NewCA("other", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files map[string]*tlsutil.CABundle
		// wantNewErr lists what the error of New must name; nil: New
		// succeeds.
		wantNewErr []string
		// wantServed: the server accepts the client; otherwise the
		// client, without a bundle, does not trust the server.
		wantServed bool
	}{
		{name: "none", files: nil},
		{name: "one", files: map[string]*tlsutil.CABundle{"client-ci.pem": ca}, wantServed: true},
		{name: "several", files: map[string]*tlsutil.CABundle{"client-a.pem": ca, "client02.pem": ca},
			wantNewErr: []string{"client-a.pem", "client02.pem"}},
		// client-a.pem sorts first and is of another CA: using it fails.
		{name: "client.pem among several", files: map[string]*tlsutil.CABundle{"client-a.pem": other, "client.pem": ca},
			wantServed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			dir := filepath.Join(home, ".lockd")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			for name, ca := range tc.files {
				writeClientBundleAs(t, ca, filepath.Join(dir, name))
			}
			c, err := sdk.New("https://"+addr, sdk.WithRetries(0))
			if tc.wantNewErr != nil {
				if err == nil {
					c.Close()
					t.Fatal("New succeeded with an ambiguous bundle choice")
				}
				for _, want := range tc.wantNewErr {
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("error %q does not name %s", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Describe(testCtx(t), "x")
			var verr *tls.CertificateVerificationError
			switch {
			case tc.wantServed && err != nil:
				t.Fatalf("discovered bundle: %v", err)
			case !tc.wantServed && !errors.As(err, &verr):
				t.Fatalf("without a bundle: %v, want the system roots to refuse the server", err)
			}
		})
	}
}

// Endpoints that do not dial https never look for a bundle: a broken
// $HOME/.lockd does not stop them.
func TestBundleDiscoveryOnlyForHTTPS(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := filepath.Join(home, ".lockd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"client-a.pem", "client02.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("not a bundle"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sdk.New("https://127.0.0.1:1"); err == nil {
		t.Fatal("ambiguous bundles accepted for https")
	}
	for name, mk := range map[string]func() (*sdk.Client, error){
		"http":         func() (*sdk.Client, error) { return sdk.New("http://127.0.0.1:1") },
		"unix":         func() (*sdk.Client, error) { return sdk.New("unix:///nonexistent/lockd.sock") },
		"disable-mtls": func() (*sdk.Client, error) { return sdk.New("127.0.0.1:1", sdk.WithDisableMTLS(true)) },
		"tls config":   func() (*sdk.Client, error) { return sdk.New("https://127.0.0.1:1", sdk.WithTLSConfig(&tls.Config{})) },
		"http client":  func() (*sdk.Client, error) { return sdk.New("https://127.0.0.1:1", sdk.WithHTTPClient(&http.Client{})) },
	} {
		c, err := mk()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.Close()
	}
}

func caPool(ca *tlsutil.CABundle) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}
