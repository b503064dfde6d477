package edge_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// mtls is a server under mutual TLS and the CA that issued its bundle.
type mtls struct {
	t      *testing.T
	ca     *tlsutil.CABundle
	bundle *tlsutil.ServerBundle
	path   string
	srv    *server.Server
}

// startMTLS serves on loopback with a fresh CA; deny lists revoked serials.
func startMTLS(t *testing.T, deny ...string) *mtls {
	t.Helper()
	ca, err := tlsutil.NewCA("edge-test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return startMTLSWithCA(t, ca, deny...)
}

func (m *mtls) writeBundle() {
	data, err := m.bundle.Encode()
	if err != nil {
		m.t.Fatal(err)
	}
	if err := tlsutil.WriteFile(m.path, data, true); err != nil {
		m.t.Fatal(err)
	}
}

// client issues an SDK client certificate with claims (default=rw when
// none) and returns an HTTP client that presents it.
func (m *mtls) client(claims ...string) (*http.Client, *tlsutil.ClientBundle) {
	m.t.Helper()
	return m.clientFor(tlsutil.RoleSDK, 0, claims...)
}

func (m *mtls) clientFor(role tlsutil.Role, validFor time.Duration, claims ...string) (*http.Client, *tlsutil.ClientBundle) {
	m.t.Helper()
	cl, err := tlsutil.ParseClaimSpecs(claims...)
	if err != nil {
		m.t.Fatal(err)
	}
	b, err := m.ca.IssueClient(role, tlsutil.ClientOptions{Claims: cl, ValidFor: validFor})
	if err != nil {
		m.t.Fatal(err)
	}
	return httpClient(b.TLSConfig()), b
}

// rawClient presents a certificate made from tmpl, signed by the CA.
func (m *mtls) rawClient(tmpl *x509.Certificate) *http.Client {
	m.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.ca.Cert, key.Public(), m.ca.Key)
	if err != nil {
		m.t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	return httpClient(tlsutil.ClientConfig(cert, m.bundle.CAPool()))
}

func httpClient(cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: false}}
}

type reply struct {
	status int
	code   string
	detail string
	body   []byte
}

func (m *mtls) do(c *http.Client, method, path string, body any, headers ...string) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, _ := json.Marshal(b)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, m.srv.URL()+path, rd)
	if err != nil {
		return reply{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	var e api.ErrorResponse
	json.Unmarshal(data, &e)
	return reply{status: resp.StatusCode, code: e.Error, detail: e.Detail, body: data}, err
}

func (m *mtls) mustDo(c *http.Client, method, path string, body any, headers ...string) reply {
	m.t.Helper()
	r, err := m.do(c, method, path, body, headers...)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func acquireBody(ns, key string) string {
	return `{"namespace":"` + ns + `","key":"` + key + `","owner":"o","ttl_seconds":30}`
}

// TestHandshakeMatrix checks each refusal the issue names, and that the
// server keeps serving a valid client after each one.
func TestHandshakeMatrix(t *testing.T) {
	m := startMTLS(t)
	good, _ := m.client()
	// Issue the revoked client, then restart with its serial denied.
	_, rb := m.client()
	m2 := startMTLSWithCA(t, m.ca, tlsutil.Serial(rb.Leaf))
	revokedClient := httpClient(rb.TLSConfig())
	goodOnM2 := httpClient(m2.clientBundle(t).TLSConfig())

	other, _ := tlsutil.NewCA("other", 0)
	ob, _ := other.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	// Present the foreign certificate even though the server's CA list
	// does not name its issuer (Go's client would otherwise send none).
	ocfg := tlsutil.ClientConfig(ob.Certificate(), m.bundle.CAPool())
	oc := ob.Certificate()
	ocfg.Certificates = nil
	ocfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &oc, nil }
	otherCA := httpClient(ocfg)
	expired, _ := m.clientFor(tlsutil.RoleSDK, time.Nanosecond)
	noCert := httpClient(&tls.Config{RootCAs: m.bundle.CAPool(), InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return tlsutil.VerifyServer(cs.PeerCertificates, m.bundle.CAPool(), time.Now())
		}})
	plain := &http.Client{Timeout: 10 * time.Second}

	// Each refusal is a TLS alert the client reports.
	refused := []struct {
		name  string
		srv   *mtls
		c     *http.Client
		alert string
	}{
		{"no client certificate", m, noCert, "certificate required"},
		{"certificate from another CA", m, otherCA, "unknown certificate authority"},
		{"expired certificate", m, expired, "expired certificate"},
		{"revoked certificate", m2, revokedClient, "bad certificate"},
	}
	for _, tc := range refused {
		if r, err := tc.srv.do(tc.c, "POST", "/v1/acquire", acquireBody("default", "k-"+tc.name)); err == nil {
			t.Errorf("%s: request served (%d %s), want the handshake refused", tc.name, r.status, r.body)
		} else if !strings.Contains(err.Error(), tc.alert) {
			t.Errorf("%s: %v, want alert %q", tc.name, err, tc.alert)
		}
		// The server keeps serving.
		c := good
		if tc.srv == m2 {
			c = goodOnM2
		}
		if r := tc.srv.mustDo(c, "GET", "/healthz", nil); r.status != 200 {
			t.Fatalf("after %s: healthz %d", tc.name, r.status)
		}
	}
	// Plain HTTP to the TLS port gets nothing useful either.
	plainURL := strings.Replace(m.srv.URL(), "https://", "http://", 1)
	if resp, err := plain.Post(plainURL+"/v1/acquire", "application/json", strings.NewReader(acquireBody("default", "p"))); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP request served")
		}
	}

	// A valid certificate with the namespace claim is served...
	if r := m.mustDo(good, "POST", "/v1/acquire", acquireBody("default", "ok")); r.status != 200 {
		t.Fatalf("with claim: %d %s", r.status, r.body)
	}
	// ...and without it is refused with 403 namespace_forbidden.
	if r := m.mustDo(good, "POST", "/v1/acquire", acquireBody("other", "ok")); r.status != 403 || r.code != api.CodeNamespaceForbidden {
		t.Fatalf("without claim: %d %s", r.status, r.body)
	}
	if r := m.mustDo(good, "GET", "/healthz", nil); r.status != 200 {
		t.Fatalf("healthz after refusals: %d", r.status)
	}
}

// startMTLSWithCA is startMTLS with an existing CA.
func startMTLSWithCA(t *testing.T, ca *tlsutil.CABundle, deny ...string) *mtls {
	t.Helper()
	b, err := ca.IssueServer(tlsutil.ServerOptions{CommonName: "edge-test-node"})
	if err != nil {
		t.Fatal(err)
	}
	b.Denylist = deny
	m := &mtls{t: t, ca: ca, bundle: b, path: filepath.Join(t.TempDir(), "server.pem")}
	m.writeBundle()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.srv = server.StartOn(ln, mem.New(), server.Config{AcquireBlock: time.Millisecond,
		Security: server.Security{Bundle: b, BundlePath: m.path}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.srv.Close(ctx)
	})
	return m
}

func (m *mtls) clientBundle(t *testing.T) *tlsutil.ClientBundle {
	b, err := m.ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRevocationReachesOpenConnections(t *testing.T) {
	m := startMTLS(t)
	c, b := m.client()
	if r := m.mustDo(c, "POST", "/v1/acquire", acquireBody("default", "k")); r.status != 200 {
		t.Fatalf("before revocation: %d %s", r.status, r.body)
	}
	m.bundle.Denylist = []string{tlsutil.Serial(b.Leaf)}
	m.writeBundle()
	if err := m.srv.ReloadRevocations(); err != nil {
		t.Fatal(err)
	}
	// The kept-alive connection is refused per request; a new one at the
	// handshake.
	r, err := m.do(c, "POST", "/v1/acquire", acquireBody("default", "k2"))
	if err == nil && (r.status != 403 || r.code != api.CodeCertificateRevoked) {
		t.Fatalf("revoked on open connection: %d %s", r.status, r.body)
	}
	if _, err := m.do(c, "POST", "/v1/acquire", acquireBody("default", "k3")); err == nil {
		t.Fatal("revoked certificate completed a new handshake")
	}
}

// A kept-alive connection can outlive its client certificate: once the
// certificate's NotAfter has passed, each request on it is refused with
// 403 certificate_expired (the handshake alone cannot catch this).
func TestExpiredCertificateOnOpenConnection(t *testing.T) {
	m := startMTLS(t)
	c, b := m.clientFor(tlsutil.RoleSDK, 3*time.Second)
	if r := m.mustDo(c, "POST", "/v1/acquire", acquireBody("default", "k")); r.status != 200 {
		t.Fatalf("before expiry: %d %s", r.status, r.body)
	}
	// Wait (bounded: the certificate's own lifetime) until it has expired.
	for !time.Now().After(b.Leaf.NotAfter.Add(time.Second)) {
		time.Sleep(100 * time.Millisecond)
	}
	r := m.mustDo(c, "POST", "/v1/acquire", acquireBody("default", "k2"))
	if r.status != 403 || r.code != api.CodeCertificateExpired {
		t.Fatalf("expired certificate on an open connection: %d %s", r.status, r.body)
	}
}

func TestClaimsByAccess(t *testing.T) {
	m := startMTLS(t)
	reader, _ := m.client("ALL=r")
	writer, _ := m.client("jobs=w")
	rw, _ := m.client("jobs")

	// Seed a committed state in jobs.
	lease := m.acquire(rw, "jobs", "doc")
	m.update(rw, lease, `{"a":1}`, 200)
	m.release(rw, lease)

	if r := m.mustDo(reader, "POST", "/v1/get?namespace=jobs&key=doc&public=1", nil); r.status != 200 || !strings.Contains(string(r.body), `"a":1`) {
		t.Fatalf("reader get: %d %s", r.status, r.body)
	}
	// Leases need any permission; writes need w.
	rl := m.acquire(reader, "jobs", "doc")
	m.update(reader, rl, `{"a":2}`, 403)
	m.release(reader, rl)
	if r := m.mustDo(writer, "POST", "/v1/get?namespace=jobs&key=doc&public=1", nil); r.status != 403 || r.code != api.CodeNamespaceForbidden {
		t.Fatalf("writer get: %d %s", r.status, r.body)
	}
	wl := m.acquire(writer, "jobs", "doc")
	m.update(writer, wl, `{"a":3}`, 200)
	m.release(writer, wl)

	// Prefetched routes check every namespace the request names.
	q := map[string]any{"namespace": "other", "selector": map[string]any{}}
	if r := m.mustDo(rw, "POST", "/v1/query?namespace=jobs", q); r.status != 403 || r.code != api.CodeNamespaceForbidden {
		t.Fatalf("query naming a forbidden namespace in the body: %d %s", r.status, r.body)
	}
	if r := m.mustDo(rw, "POST", "/v1/query?namespace=jobs", map[string]any{"selector": map[string]any{}}); r.status == 403 {
		t.Fatalf("query in an allowed namespace: %d %s", r.status, r.body)
	}
	if r := m.mustDo(reader, "POST", "/v1/namespace?namespace=jobs", map[string]any{"query": map[string]any{"preferred_engine": "scan"}}); r.status != 403 {
		t.Fatalf("read-only namespace config update: %d %s", r.status, r.body)
	}
}

func (m *mtls) acquire(c *http.Client, ns, key string) api.AcquireResponse {
	m.t.Helper()
	r := m.mustDo(c, "POST", "/v1/acquire", acquireBody(ns, key))
	if r.status != 200 {
		m.t.Fatalf("acquire %s/%s: %d %s", ns, key, r.status, r.body)
	}
	var a api.AcquireResponse
	json.Unmarshal(r.body, &a)
	return a
}

func leaseHeaders(a api.AcquireResponse) []string {
	return []string{api.HeaderLeaseID, a.LeaseID, api.HeaderTxnID, a.TxnID, api.HeaderFencingToken, itoa(a.FencingToken)}
}

func itoa(n int64) string { return big.NewInt(n).String() }

func (m *mtls) update(c *http.Client, a api.AcquireResponse, doc string, want int) {
	m.t.Helper()
	r := m.mustDo(c, "POST", "/v1/update?namespace="+a.Namespace+"&key="+a.Key, doc, leaseHeaders(a)...)
	if r.status != want {
		m.t.Fatalf("update: %d %s, want %d", r.status, r.body, want)
	}
}

func (m *mtls) release(c *http.Client, a api.AcquireResponse) {
	m.t.Helper()
	body := map[string]any{"namespace": a.Namespace, "key": a.Key, "lease_id": a.LeaseID, "txn_id": a.TxnID}
	if r := m.mustDo(c, "POST", "/v1/release", body, api.HeaderFencingToken, itoa(a.FencingToken)); r.status != 200 {
		m.t.Fatalf("release: %d %s", r.status, r.body)
	}
}

func TestMalformedAndAnonymousCertificates(t *testing.T) {
	m := startMTLS(t)
	noSPIFFE := m.rawClient(&x509.Certificate{Subject: pkix.Name{CommonName: "x"},
		URIs: []*url.URL{mustURL("lockd://ns/default?perm=rw")}})
	malformed := m.rawClient(&x509.Certificate{Subject: pkix.Name{CommonName: "y"},
		URIs: []*url.URL{mustURL("spiffe://lockd/sdk/y"), mustURL("lockd://ns/default?perm=r&perm=rw")}})
	noClaims := m.rawClient(&x509.Certificate{Subject: pkix.Name{CommonName: "z"},
		URIs: []*url.URL{mustURL("spiffe://lockd/sdk/z"), mustURL("lockd://evil/default?perm=rw")}})
	for _, tc := range []struct {
		name string
		c    *http.Client
		code string
	}{
		{"no SPIFFE id", noSPIFFE, api.CodeNamespaceForbidden},
		{"malformed claim", malformed, api.CodeInvalidNamespaceClaims},
		{"claim of another host", noClaims, api.CodeNamespaceForbidden},
	} {
		r := m.mustDo(tc.c, "POST", "/v1/acquire", acquireBody("default", "k"))
		if r.status != 403 || r.code != tc.code {
			t.Errorf("%s: %d %s, want 403 %s", tc.name, r.status, r.body, tc.code)
		}
		// Health needs no claims.
		if r := m.mustDo(tc.c, "GET", "/readyz", nil); r.status != 200 {
			t.Errorf("%s: readyz %d", tc.name, r.status)
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestTCEndpointsNeedATCIdentity(t *testing.T) {
	m := startMTLS(t)
	sdk, _ := m.client("ALL=rw")
	tc, _ := m.clientFor(tlsutil.RoleTC, 0)
	srvAsClient := httpClient(m.bundle.ClientTLSConfig())
	body := `{"txn_id":"c5v9d0sl70b3m3q8ndg0"}`
	if r := m.mustDo(sdk, "POST", "/v1/txn/replay", body); r.status != 403 || r.code != api.CodeTCForbidden {
		t.Fatalf("sdk client on replay: %d %s", r.status, r.body)
	}
	for name, c := range map[string]*http.Client{"tc client": tc, "server": srvAsClient} {
		if r := m.mustDo(c, "POST", "/v1/txn/replay", body); r.status == 403 {
			t.Fatalf("%s on replay: %d %s", name, r.status, r.body)
		}
		if r := m.mustDo(c, "POST", "/v1/tc/leader", nil); r.status == 403 {
			t.Fatalf("%s on tc/leader: %d %s", name, r.status, r.body)
		}
	}
	// Participants are authorized by namespace too.
	limited := m.rawClient(&x509.Certificate{Subject: pkix.Name{CommonName: "tc2"},
		URIs: []*url.URL{mustURL("spiffe://lockd/tc/tc2"), mustURL("lockd://ns/jobs")}})
	decide := `{"txn_id":"c5v9d0sl70b3m3q8ndg0","state":"pending","participants":[{"namespace":"billing","key":"k"}]}`
	if r := m.mustDo(limited, "POST", "/v1/txn/decide", decide); r.status != 403 || r.code != api.CodeNamespaceForbidden {
		t.Fatalf("participant outside claims: %d %s", r.status, r.body)
	}
}

// Under mTLS the owner names the client certificate, and a blocked
// acquirer that hangs up is withdrawn as over plain TCP.
func TestOwnerAndDisconnectUnderMTLS(t *testing.T) {
	m := startMTLS(t)
	c, _ := m.client()
	a := m.acquire(c, "default", "held")
	if !strings.HasPrefix(a.Owner, "o/") || len(a.Owner) < 3 {
		t.Fatalf("owner %q does not name the certificate", a.Owner)
	}
	// A waiter on its own connection, which then goes away.
	waiter, _ := m.client()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "POST", m.srv.URL()+"/v1/acquire",
			strings.NewReader(`{"key":"held","owner":"gone","block_seconds":60}`))
		waiter.Do(req)
	}()
	waiters := func() int {
		n, _ := m.srv.Keys().Waiters(context.Background(), keyspaceRef("default", "held"))
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for waiters() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("waiter never queued")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // net/http closes the connection
	<-done
	for waiters() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the waiter that hung up was not withdrawn under mTLS")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
