package tlsutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// Default validity periods.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultLeafValidity = 365 * 24 * time.Hour
)

// backdate absorbs clock skew between the issuer and its peers.
const backdate = 5 * time.Minute

// DefaultServerHosts are the SANs of a server certificate issued without
// hosts: the wildcard lockd v0.9 uses (clients verify the CA and the lockd
// server identity, not the host name) plus the loopback names, so tools
// that do check host names (curl) work locally.
var DefaultServerHosts = []string{"*", "localhost", "127.0.0.1", "::1"}

// NewCA creates a CA with a fresh ECDSA P-256 key and a fresh storage root
// key. validFor <= 0 means DefaultCAValidity.
func NewCA(commonName string, validFor time.Duration) (*CABundle, error) {
	if commonName == "" {
		commonName = "lockd-ca"
	}
	if validFor <= 0 {
		validFor = DefaultCAValidity
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: generate CA key: %w", err)
	}
	tmpl, err := template(commonName, validFor)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	sk := make([]byte, StorageKeySize)
	if _, err := rand.Read(sk); err != nil {
		return nil, err
	}
	return &CABundle{Cert: cert, Key: key, StorageKey: sk}, nil
}

// ServerOptions configure a server certificate.
type ServerOptions struct {
	// CommonName defaults to "lockd-server"; it also names the SPIFFE
	// identity spiffe://lockd/server/<CommonName>.
	CommonName string
	// Hosts are DNS names and IP addresses (SANs); empty means
	// DefaultServerHosts.
	Hosts    []string
	ValidFor time.Duration // <= 0 means DefaultLeafValidity
}

// IssueServer issues a server bundle: a certificate for server and client
// authentication (servers also call each other) with the server identity
// and an ALL=rw claim, the CA certificate and the storage root key.
func (ca *CABundle) IssueServer(o ServerOptions) (*ServerBundle, error) {
	if o.CommonName == "" {
		o.CommonName = "lockd-server"
	}
	hosts := o.Hosts
	if len(hosts) == 0 {
		hosts = DefaultServerHosts
	}
	id, err := SPIFFEURI(RoleServer, o.CommonName)
	if err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(o.CommonName, o.ValidFor, id, []Claim{{AllNamespaces, PermReadWrite}})
	if err != nil {
		return nil, err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	for _, h := range hosts {
		for _, h := range strings.Split(h, ",") {
			if h = strings.TrimSpace(h); h == "" {
				continue
			}
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	leaf, key, err := ca.sign(tmpl)
	if err != nil {
		return nil, err
	}
	return &ServerBundle{CAs: []*x509.Certificate{ca.Cert}, Leaf: leaf, Key: key,
		StorageKey: append([]byte(nil), ca.StorageKey...)}, nil
}

// ClientOptions configure a client certificate.
type ClientOptions struct {
	// CommonName defaults to "lockd-client" (SDK) or "lockd-tc" (TC); it
	// also names the SPIFFE identity.
	CommonName string
	// Claims default to default=rw for SDK clients and ALL=rw for TC
	// clients.
	Claims   []Claim
	ValidFor time.Duration // <= 0 means DefaultLeafValidity
}

// IssueClient issues a client bundle for role RoleSDK or RoleTC.
func (ca *CABundle) IssueClient(role Role, o ClientOptions) (*ClientBundle, error) {
	def, claims := "lockd-client", []Claim{{"default", PermReadWrite}}
	switch role {
	case RoleSDK:
	case RoleTC:
		def, claims = "lockd-tc", []Claim{{AllNamespaces, PermReadWrite}}
	default:
		return nil, fmt.Errorf("tlsutil: cannot issue a client certificate for role %s", role)
	}
	if o.CommonName == "" {
		o.CommonName = def
	}
	if len(o.Claims) > 0 {
		claims = o.Claims
	}
	id, err := SPIFFEURI(role, o.CommonName)
	if err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(o.CommonName, o.ValidFor, id, claims)
	if err != nil {
		return nil, err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	leaf, key, err := ca.sign(tmpl)
	if err != nil {
		return nil, err
	}
	return &ClientBundle{CAs: []*x509.Certificate{ca.Cert}, Leaf: leaf, Key: key}, nil
}

func leafTemplate(cn string, validFor time.Duration, id *url.URL, claims []Claim) (*x509.Certificate, error) {
	if validFor <= 0 {
		validFor = DefaultLeafValidity
	}
	tmpl, err := template(cn, validFor)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	tmpl.URIs = []*url.URL{id}
	for _, c := range claims {
		if c.Perm == PermNone {
			return nil, fmt.Errorf("%w: %s grants nothing", ErrClaims, c.Namespace)
		}
		ns, err := claimNamespace(c.Namespace)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrClaims, err)
		}
		tmpl.URIs = append(tmpl.URIs, Claim{ns, c.Perm}.URI())
	}
	return tmpl, nil
}

func template(cn string, validFor time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	serial.Add(serial, big.NewInt(1)) // never zero
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"lockd"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(validFor),
	}, nil
}

// sign issues tmpl with a fresh ECDSA P-256 key.
func (ca *CABundle) sign(tmpl *x509.Certificate) (*x509.Certificate, crypto.Signer, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, nil, errors.New("tlsutil: CA certificate and key required")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: generate key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}
