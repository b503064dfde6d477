package tlsutil

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/lockdhq/lockd/internal/names"
)

// AllNamespaces is the claim namespace that grants every namespace.
const AllNamespaces = "ALL"

const (
	claimScheme = "lockd"
	claimHost   = "ns"
)

// Permission is what a claim grants on a namespace: a set of read and
// write.
type Permission uint8

// Permissions. PermReadWrite is PermRead|PermWrite.
const (
	PermNone      Permission = 0
	PermRead      Permission = 1
	PermWrite     Permission = 2
	PermReadWrite Permission = PermRead | PermWrite
)

func (p Permission) String() string {
	switch p {
	case PermRead:
		return "r"
	case PermWrite:
		return "w"
	case PermReadWrite:
		return "rw"
	}
	return "none"
}

// ParsePermission reads r, w or rw.
func ParsePermission(s string) (Permission, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "r":
		return PermRead, nil
	case "w":
		return PermWrite, nil
	case "rw", "wr":
		return PermReadWrite, nil
	}
	return PermNone, fmt.Errorf("invalid permission %q (want r, w or rw)", s)
}

// Access is what an operation needs.
type Access uint8

// Accesses: AccessAny is satisfied by any permission (lease lifecycle),
// the others by the permissions that include them.
const (
	AccessAny Access = iota
	AccessRead
	AccessWrite
	AccessReadWrite
)

func (a Access) String() string {
	switch a {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessReadWrite:
		return "read-write"
	}
	return "any"
}

// Allows reports whether p grants a.
func (p Permission) Allows(a Access) bool {
	switch a {
	case AccessAny:
		return p != PermNone
	case AccessRead:
		return p&PermRead != 0
	case AccessWrite:
		return p&PermWrite != 0
	case AccessReadWrite:
		return p == PermReadWrite
	}
	return false
}

// Claim grants Perm on Namespace (AllNamespaces for every namespace).
type Claim struct {
	Namespace string
	Perm      Permission
}

// URI is the claim's URI SAN, lockd://ns/<namespace>?perm=<perm>.
func (c Claim) URI() *url.URL {
	return &url.URL{Scheme: claimScheme, Host: claimHost, Path: "/" + c.Namespace, RawQuery: "perm=" + c.Perm.String()}
}

func (c Claim) String() string { return c.Namespace + "=" + c.Perm.String() }

// ErrClaims is wrapped by every error about a malformed claim.
var ErrClaims = errors.New("tlsutil: invalid namespace claim")

// ParseClaimSpecs reads claims as the CLI writes them: "orders" (rw),
// "orders=r", comma-separated lists, and ALL for every namespace.
func ParseClaimSpecs(specs ...string) ([]Claim, error) {
	var out []Claim
	for _, spec := range specs {
		for _, part := range strings.Split(spec, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			ns, perm, found := strings.Cut(part, "=")
			p := PermReadWrite
			if found {
				var err error
				if p, err = ParsePermission(perm); err != nil {
					return nil, fmt.Errorf("%w: %q: %w", ErrClaims, part, err)
				}
			}
			ns, err := claimNamespace(strings.TrimSpace(ns))
			if err != nil {
				return nil, fmt.Errorf("%w: %q: %w", ErrClaims, part, err)
			}
			out = append(out, Claim{Namespace: ns, Perm: p})
		}
	}
	return out, nil
}

func claimNamespace(ns string) (string, error) {
	if ns == AllNamespaces {
		return ns, nil
	}
	return names.Namespace(ns, "")
}

// Claims are the namespace claims of a certificate.
type Claims struct {
	exact map[string]Permission
	all   Permission
}

// ParseClaims reads the lockd://ns/ URI SANs of cert. URIs of other schemes
// or hosts are ignored; a malformed claim is an error (ErrClaims), never
// silently dropped.
func ParseClaims(cert *x509.Certificate) (Claims, error) {
	c := Claims{}
	for _, u := range cert.URIs {
		if u == nil || !strings.EqualFold(u.Scheme, claimScheme) || !strings.EqualFold(u.Host, claimHost) {
			continue
		}
		cl, err := parseClaimURI(u)
		if err != nil {
			return Claims{}, err
		}
		c.add(cl)
	}
	return c, nil
}

func (c *Claims) add(cl Claim) {
	if cl.Namespace == AllNamespaces {
		c.all |= cl.Perm
		return
	}
	if c.exact == nil {
		c.exact = map[string]Permission{}
	}
	c.exact[cl.Namespace] |= cl.Perm
}

func parseClaimURI(u *url.URL) (Claim, error) {
	bad := func(why string) (Claim, error) {
		return Claim{}, fmt.Errorf("%w: %q: %s", ErrClaims, u.String(), why)
	}
	if u.User != nil || u.Port() != "" || u.Fragment != "" || u.Opaque != "" {
		return bad("unexpected URI parts")
	}
	ns := strings.TrimPrefix(u.Path, "/")
	if ns == "" || strings.Contains(ns, "/") {
		return bad("want exactly one namespace path segment")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query: " + err.Error())
	}
	perm := PermReadWrite
	for k, v := range q {
		if k != "perm" || len(v) != 1 {
			return bad("only one perm parameter is allowed")
		}
		if perm, err = ParsePermission(v[0]); err != nil {
			return bad(err.Error())
		}
	}
	if ns, err = claimNamespace(ns); err != nil {
		return bad(err.Error())
	}
	return Claim{Namespace: ns, Perm: perm}, nil
}

// Empty reports whether there is no claim at all.
func (c Claims) Empty() bool { return c.all == PermNone && len(c.exact) == 0 }

// Permission returns what the claims grant on the normalized namespace ns:
// its own claim when there is one, else the ALL claim.
func (c Claims) Permission(ns string) Permission {
	if p, ok := c.exact[ns]; ok {
		return p
	}
	return c.all
}

// Allows reports whether the claims grant a on the normalized namespace ns.
func (c Claims) Allows(ns string, a Access) bool { return c.Permission(ns).Allows(a) }

// AllowsAll reports whether the ALL claim grants a.
func (c Claims) AllowsAll(a Access) bool { return c.all.Allows(a) }

// List returns the claims sorted by namespace, ALL first.
func (c Claims) List() []Claim {
	var out []Claim
	if c.all != PermNone {
		out = append(out, Claim{AllNamespaces, c.all})
	}
	nss := make([]string, 0, len(c.exact))
	for ns := range c.exact {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		out = append(out, Claim{ns, c.exact[ns]})
	}
	return out
}
