package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/mcp/state"
)

// Scope is the one scope the facade grants: use of its tools.
const Scope = "lockd:mcp"

// tokenClaims are the claims of an access token.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope,omitempty"`
	// Gen is the client's secret generation at issue time.
	Gen int64 `json:"gen"`
}

// Principal is the client a verified token speaks for.
type Principal struct {
	ClientID string
	Name     string
	// Namespaces are the client's claim specs; Claims the parsed form.
	Namespaces []string
	Claims     tlsutil.Claims
}

const principalKey = "lockd.principal"

// PrincipalOf returns the principal of a token verified by Verify, or nil.
func PrincipalOf(ti *auth.TokenInfo) *Principal {
	if ti == nil {
		return nil
	}
	p, _ := ti.Extra[principalKey].(*Principal)
	return p
}

// issue signs an access token for client c and audience aud.
func (s *Server) issue(st *state.State, c *state.Client, aud string) (string, time.Time, error) {
	now := s.cfg.Clock.Now()
	exp := now.Add(s.cfg.TokenTTL)
	jti, err := randomToken("", 12)
	if err != nil {
		return "", time.Time{}, err
	}
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: s.cfg.Issuer, Subject: c.ID, Audience: jwt.ClaimStrings{aud},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(exp), ID: jti},
		Scope: Scope, Gen: c.Generation,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(st.SigningKey)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("oauth: sign token: %w", err)
	}
	return tok, exp, nil
}

// Verify checks a bearer token for the facade's resource; it is an
// auth.TokenVerifier. Failures wrap auth.ErrInvalidToken (401).
func (s *Server) Verify(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	st, err := s.cfg.Store.Load()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
	}
	var claims tokenClaims
	_, err = jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return st.SigningKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(s.cfg.Resource), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.cfg.Clock.Now))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
	}
	c, err := clientOf(st, claims.Subject)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
	}
	if claims.Gen != c.Generation {
		return nil, fmt.Errorf("%w: token predates the client's secret rotation", auth.ErrInvalidToken)
	}
	p, err := principalOf(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
	}
	return &auth.TokenInfo{Scopes: []string{claims.Scope}, Expiration: claims.ExpiresAt.Time, UserID: c.ID,
		Extra: map[string]any{principalKey: p}}, nil
}

func principalOf(c *state.Client) (*Principal, error) {
	list, err := tlsutil.ParseClaimSpecs(c.Namespaces...)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errors.New("oauth: client has no namespace claims")
	}
	return &Principal{ClientID: c.ID, Name: c.Name, Namespaces: c.Namespaces, Claims: tlsutil.ClaimsOf(list...)}, nil
}
