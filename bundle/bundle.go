package bundle

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

// CreateCABundleRequest controls CA bundle generation.
type CreateCABundleRequest struct {
	// CommonName is the CA certificate's subject CN (default "lockd-ca").
	CommonName string
	// ValidFor is the CA's validity (<= 0: 10 years).
	ValidFor time.Duration
}

// CreateServerBundleRequest controls server bundle generation.
type CreateServerBundleRequest struct {
	// CABundlePEM is the CA bundle (CreateCABundle's output). Required.
	CABundlePEM []byte
	// CommonName is the server certificate's CN and names its identity
	// spiffe://lockd/server/<CommonName> (default "lockd-server").
	CommonName string
	// ValidFor is the certificate's validity (<= 0: 1 year).
	ValidFor time.Duration
	// Hosts are DNS names and IP addresses for the SANs (empty: "*",
	// localhost and the loopback addresses).
	Hosts []string
	// Denylist seeds revoked client serials (hex).
	Denylist []string
}

// CreateClientBundleRequest controls SDK client bundle generation.
type CreateClientBundleRequest struct {
	// CABundlePEM is the CA bundle (CreateCABundle's output). Required.
	CABundlePEM []byte
	// CommonName is the client certificate's CN (default "lockd-client").
	CommonName string
	// ValidFor is the certificate's validity (<= 0: 1 year).
	ValidFor time.Duration
	// NamespaceClaims are namespace claims as the CLI takes them:
	// "ns" (read-write) or "ns=r|w|rw", several per entry separated by
	// commas. With no claims and no *All flag the client gets default=rw.
	NamespaceClaims []string
	// ReadAll, WriteAll and ReadWriteAll add ALL=r, ALL=w and ALL=rw.
	ReadAll, WriteAll, ReadWriteAll bool
}

// CreateTCClientBundleRequest controls transaction-coordinator client
// bundle generation (the identity nodes use to call each other).
type CreateTCClientBundleRequest struct {
	// CABundlePEM is the CA bundle (CreateCABundle's output). Required.
	CABundlePEM []byte
	// CommonName is the certificate's CN (default "lockd-tc").
	CommonName string
	// ValidFor is the certificate's validity (<= 0: 1 year).
	ValidFor time.Duration
}

// ErrNoCA is returned when a request has no CA bundle.
var ErrNoCA = errors.New("bundle: CABundlePEM is required")

// CreateCABundle generates a CA bundle: a fresh ECDSA P-256 CA and a fresh
// storage root key.
func CreateCABundle(req CreateCABundleRequest) ([]byte, error) {
	ca, err := tlsutil.NewCA(req.CommonName, req.ValidFor)
	if err != nil {
		return nil, err
	}
	return ca.Encode()
}

// CreateServerBundle generates a server bundle signed by the CA bundle.
func CreateServerBundle(req CreateServerBundleRequest) ([]byte, error) {
	ca, err := parseCA(req.CABundlePEM)
	if err != nil {
		return nil, err
	}
	b, err := ca.IssueServer(tlsutil.ServerOptions{CommonName: req.CommonName, Hosts: trimmed(req.Hosts), ValidFor: req.ValidFor})
	if err != nil {
		return nil, err
	}
	if len(req.Denylist) > 0 {
		for _, s := range req.Denylist {
			if _, err := tlsutil.NormalizeSerial(s); err != nil {
				return nil, fmt.Errorf("bundle: denylist: %w", err)
			}
		}
		b.Denylist = tlsutil.NormalizeSerials(req.Denylist)
	}
	return b.Encode()
}

// CreateClientBundle generates an SDK client bundle signed by the CA
// bundle.
func CreateClientBundle(req CreateClientBundleRequest) ([]byte, error) {
	ca, err := parseCA(req.CABundlePEM)
	if err != nil {
		return nil, err
	}
	specs := append([]string(nil), req.NamespaceClaims...)
	if req.ReadAll {
		specs = append(specs, "ALL=r")
	}
	if req.WriteAll {
		specs = append(specs, "ALL=w")
	}
	if req.ReadWriteAll {
		specs = append(specs, "ALL=rw")
	}
	var claims []tlsutil.Claim
	if len(specs) > 0 {
		if claims, err = tlsutil.ParseClaimSpecs(specs...); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
	}
	b, err := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{CommonName: req.CommonName, Claims: claims, ValidFor: req.ValidFor})
	if err != nil {
		return nil, err
	}
	return b.Encode()
}

// CreateTCClientBundle generates a TC client bundle (ALL=rw) signed by the
// CA bundle.
func CreateTCClientBundle(req CreateTCClientBundleRequest) ([]byte, error) {
	ca, err := parseCA(req.CABundlePEM)
	if err != nil {
		return nil, err
	}
	b, err := ca.IssueClient(tlsutil.RoleTC, tlsutil.ClientOptions{CommonName: req.CommonName, ValidFor: req.ValidFor})
	if err != nil {
		return nil, err
	}
	return b.Encode()
}

func parseCA(pem []byte) (*tlsutil.CABundle, error) {
	if len(pem) == 0 {
		return nil, ErrNoCA
	}
	return tlsutil.ParseCABundle(pem)
}

func trimmed(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
