package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/mcp/state"
)

func TestPKCE(t *testing.T) {
	v := strings.Repeat("a", 43)
	sum := sha256.Sum256([]byte(v))
	ch := base64.RawURLEncoding.EncodeToString(sum[:])
	for _, tc := range []struct {
		verifier, challenge string
		ok                  bool
	}{
		{v, ch, true},
		{v + "b", ch, false},
		{strings.Repeat("a", 42), ch, false}, // too short
		{strings.Repeat("a", 129), ch, false},
		{v, v, false}, // plain is not accepted
	} {
		if got := pkceOK(tc.verifier, tc.challenge); got != tc.ok {
			t.Errorf("pkceOK(%q, %q) = %v", tc.verifier, tc.challenge, got)
		}
	}
}

func TestRedirectURIRules(t *testing.T) {
	for uri, ok := range map[string]bool{
		"https://agent.example/cb":       true,
		"http://127.0.0.1:8765/callback": true,
		"http://localhost/cb":            true,
		"http://[::1]:9/cb":              true,
		"com.example.agent:/oauth":       true,
		"http://agent.example/cb":        false,
		"https://agent.example/cb#frag":  false,
		"/relative":                      false,
		"https:///nohost":                false,
	} {
		if err := checkRedirectURI(uri); (err == nil) != ok {
			t.Errorf("checkRedirectURI(%q) = %v, want ok=%v", uri, err, ok)
		}
	}
}

func TestScopes(t *testing.T) {
	if !scopeOK(Scope) || !scopeOK(Scope+" "+Scope) || scopeOK("admin") || scopeOK(Scope+" admin") {
		t.Fatal("scope rules")
	}
}

func newTestServer(t *testing.T, clk clock.Clock) (*Server, *state.Store) {
	t.Helper()
	key, err := state.KeyFromSecret([]byte("oauth internal test secret"))
	if err != nil {
		t.Fatal(err)
	}
	st := state.Open(filepath.Join(t.TempDir(), "s"), key)
	s, err := New(Config{Store: st, Issuer: "http://127.0.0.1:1", Resource: "http://127.0.0.1:1/mcp", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// Client authentication by Basic (form-urlencoded) or by form fields,
// never both with different ids, never without a secret.
func TestClientAuthentication(t *testing.T) {
	_, st := newTestServer(t, clock.Real{})
	cr, err := CreateClient(st, ClientSpec{Name: "c", Namespaces: []string{"a=r"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := st.Load()
	req := func(basicID, basicSecret string, form url.Values) *http.Request {
		r, _ := http.NewRequest("POST", "/", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basicID != "" {
			r.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
		}
		r.ParseForm()
		return r
	}
	if _, err := clientAuth(s, req(cr.ClientID, cr.ClientSecret, nil)); err != nil {
		t.Fatalf("basic: %v", err)
	}
	if _, err := clientAuth(s, req("", "", url.Values{"client_id": {cr.ClientID}, "client_secret": {cr.ClientSecret}})); err != nil {
		t.Fatalf("post: %v", err)
	}
	for name, r := range map[string]*http.Request{
		"wrong secret":   req(cr.ClientID, "lms_wrong", nil),
		"no secret":      req("", "", url.Values{"client_id": {cr.ClientID}}),
		"unknown":        req("lmc_nobody", cr.ClientSecret, nil),
		"two client ids": req(cr.ClientID, cr.ClientSecret, url.Values{"client_id": {"lmc_other"}}),
	} {
		if _, err := clientAuth(s, r); err == nil {
			t.Errorf("%s: authenticated", name)
		}
	}
}

// Client specs are checked: claims are required and valid, redirect URIs
// follow the rules; unknown clients cannot be rotated or revoked.
func TestClientSpecs(t *testing.T) {
	_, st := newTestServer(t, clock.Real{})
	for _, spec := range []ClientSpec{
		{Name: "none"},
		{Name: "bad", Namespaces: []string{"orders=x"}},
		{Name: "redirect", Namespaces: []string{"ALL=rw"}, RedirectURIs: []string{"http://evil.example/cb"}},
	} {
		if _, err := CreateClient(st, spec, time.Now()); !errors.Is(err, ErrInvalidClientSpec) {
			t.Errorf("%+v: %v", spec, err)
		}
	}
	if _, err := RotateSecret(st, "lmc_nobody", time.Now()); !errors.Is(err, ErrUnknownClient) {
		t.Errorf("rotate unknown: %v", err)
	}
	if err := RevokeClient(st, "lmc_nobody", time.Now()); !errors.Is(err, ErrUnknownClient) {
		t.Errorf("revoke unknown: %v", err)
	}
	cr, err := CreateClient(st, ClientSpec{Name: "ok", Namespaces: []string{"orders", "reports=r"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	list, err := ListClients(st)
	if err != nil || len(list) != 1 || strings.Join(list[0].Namespaces, ",") != "orders=rw,reports=r" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := RevokeClient(st, cr.ClientID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := RevokeClient(st, cr.ClientID, time.Now()); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := RotateSecret(st, cr.ClientID, time.Now()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("rotate revoked: %v", err)
	}
}

func TestConfigChecks(t *testing.T) {
	_, st := newTestServer(t, clock.Real{})
	for _, cfg := range []Config{
		{Issuer: "http://a", Resource: "http://a/mcp"},
		{Store: st, Issuer: "http://a/path", Resource: "http://a/mcp"},
		{Store: st, Issuer: "http://a", Resource: "mcp"},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}
