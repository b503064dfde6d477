package tlsutil

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
)

// SPIFFE URI prefixes of lockd identities (as lockd v0.9).
const (
	SPIFFESDKPrefix    = "spiffe://lockd/sdk/"
	SPIFFETCPrefix     = "spiffe://lockd/tc/"
	SPIFFEServerPrefix = "spiffe://lockd/server/"
)

// Role is the kind of identity a certificate carries.
type Role uint8

// Roles. RoleNone is a certificate without a lockd SPIFFE URI.
const (
	RoleNone Role = iota
	RoleSDK
	RoleTC
	RoleServer
)

func (r Role) String() string {
	switch r {
	case RoleSDK:
		return "sdk"
	case RoleTC:
		return "tc"
	case RoleServer:
		return "server"
	}
	return "none"
}

func (r Role) prefix() string {
	switch r {
	case RoleSDK:
		return SPIFFESDKPrefix
	case RoleTC:
		return SPIFFETCPrefix
	case RoleServer:
		return SPIFFEServerPrefix
	}
	return ""
}

// SPIFFEID returns the first spiffe:// URI SAN of cert, or "".
func SPIFFEID(cert *x509.Certificate) string {
	for _, u := range cert.URIs {
		if u != nil && strings.EqualFold(u.Scheme, "spiffe") {
			return u.String()
		}
	}
	return ""
}

// RoleOf returns the lockd role named by cert's SPIFFE URI SANs; a server
// identity wins over a TC identity, which wins over an SDK identity.
func RoleOf(cert *x509.Certificate) Role {
	best := RoleNone
	for _, u := range cert.URIs {
		if u == nil {
			continue
		}
		s := u.String()
		for _, r := range []Role{RoleServer, RoleTC, RoleSDK} {
			if strings.HasPrefix(s, r.prefix()) && r > best {
				best = r
			}
		}
	}
	return best
}

// SPIFFEURI builds the SPIFFE URI of a role and a name; characters outside
// [A-Za-z0-9._-] in name become '-'.
func SPIFFEURI(r Role, name string) (*url.URL, error) {
	p := r.prefix()
	if p == "" {
		return nil, fmt.Errorf("tlsutil: no SPIFFE prefix for role %s", r)
	}
	name = pathSegment(name)
	if name == "" {
		return nil, fmt.Errorf("tlsutil: empty identity name")
	}
	return url.Parse(p + name)
}

func pathSegment(s string) string {
	var b strings.Builder
	for _, c := range strings.TrimSpace(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Serial returns cert's serial number as NormalizeSerial writes it.
func Serial(cert *x509.Certificate) string {
	if cert.SerialNumber == nil {
		return "0"
	}
	return cert.SerialNumber.Text(16)
}
