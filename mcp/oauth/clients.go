package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/mcp/state"
)

var (
	// ErrUnknownClient: no client has that ID.
	ErrUnknownClient = errors.New("oauth: unknown client")
	// ErrRevoked: the client was revoked.
	ErrRevoked = errors.New("oauth: client revoked")
	// ErrBadSecret: the secret does not match.
	ErrBadSecret = errors.New("oauth: wrong client secret")
	// ErrInvalidClientSpec: a client definition is malformed.
	ErrInvalidClientSpec = errors.New("oauth: invalid client")
)

// ClientSpec describes a client to create.
type ClientSpec struct {
	Name string
	// Namespaces are claim specs: "orders" (rw), "orders=r", "ALL=rw".
	// At least one is required.
	Namespaces []string
	// RedirectURIs allow the authorization code grant (exact match). An
	// http redirect URI must be on a loopback host.
	RedirectURIs []string
}

// Credentials are a client's ID and secret, as shown once at creation or
// rotation.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// CreateClient registers a client and returns its credentials.
func CreateClient(st *state.Store, spec ClientSpec, now time.Time) (Credentials, error) {
	claims, err := tlsutil.ParseClaimSpecs(spec.Namespaces...)
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: %w", ErrInvalidClientSpec, err)
	}
	if len(claims) == 0 {
		return Credentials{}, fmt.Errorf("%w: give at least one namespace claim (e.g. --namespace orders=rw, or ALL=rw)", ErrInvalidClientSpec)
	}
	for _, u := range spec.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return Credentials{}, err
		}
	}
	id, err := randomToken("lmc_", 12)
	if err != nil {
		return Credentials{}, err
	}
	secret, err := randomToken("lms_", 32)
	if err != nil {
		return Credentials{}, err
	}
	specs := make([]string, len(claims))
	for i, c := range claims {
		specs[i] = c.String()
	}
	_, err = st.Update(func(s *state.State) error {
		s.Clients[id] = &state.Client{ID: id, Name: spec.Name, SecretHash: hashSecret(secret), Generation: 1,
			RedirectURIs: spec.RedirectURIs, Namespaces: specs, CreatedAt: now.UTC()}
		return nil
	})
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{ClientID: id, ClientSecret: secret}, nil
}

// RotateSecret gives a client a new secret; the old secret and every token
// issued under it stop working.
func RotateSecret(st *state.Store, id string, now time.Time) (Credentials, error) {
	secret, err := randomToken("lms_", 32)
	if err != nil {
		return Credentials{}, err
	}
	_, err = st.Update(func(s *state.State) error {
		c, err := clientOf(s, id)
		if err != nil {
			return err
		}
		c.SecretHash, c.RotatedAt = hashSecret(secret), now.UTC()
		c.Generation++
		return nil
	})
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{ClientID: id, ClientSecret: secret}, nil
}

// RevokeClient revokes a client: it gets no more tokens and its tokens are
// refused. Revoking twice is not an error.
func RevokeClient(st *state.Store, id string, now time.Time) error {
	_, err := st.Update(func(s *state.State) error {
		c, ok := s.Clients[id]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownClient, id)
		}
		if !c.Revoked() {
			c.RevokedAt = now.UTC()
		}
		return nil
	})
	return err
}

// ListClients returns the registered clients (revoked ones included).
func ListClients(st *state.Store) ([]*state.Client, error) {
	s, err := st.Load()
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.ClientList(), nil
}

// clientOf returns a live client of s.
func clientOf(s *state.State, id string) (*state.Client, error) {
	c, ok := s.Clients[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownClient, id)
	}
	if c.Revoked() {
		return nil, fmt.Errorf("%w: %s", ErrRevoked, id)
	}
	return c, nil
}

// authenticate checks a client's secret in constant time.
func authenticate(s *state.State, id, secret string) (*state.Client, error) {
	c, err := clientOf(s, id)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(hashSecret(secret), c.SecretHash) != 1 {
		return nil, ErrBadSecret
	}
	return c, nil
}

func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// randomToken is prefix + n random bytes in unpadded base64url.
func randomToken(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oauth: random: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// checkRedirectURI accepts absolute https URIs, http URIs on a loopback
// host, and private-use schemes (com.example.app:/cb), never fragments.
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Fragment != "" {
		return fmt.Errorf("%w: redirect URI %q must be absolute and have no fragment", ErrInvalidClientSpec, raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%w: redirect URI %q: http is only allowed on a loopback host (use https)", ErrInvalidClientSpec, raw)
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return fmt.Errorf("%w: redirect URI %q has no host", ErrInvalidClientSpec, raw)
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}
