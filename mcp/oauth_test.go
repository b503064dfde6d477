package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/mcp"
	"github.com/lockdhq/lockd/mcp/oauth"
	"github.com/lockdhq/lockd/mcp/state"
	"github.com/lockdhq/lockd/sdk/inprocess"
)

// authEnv is a facade behind its OAuth server, on real loopback HTTP.
type authEnv struct {
	base     string // issuer
	resource string // MCP endpoint
	store    *state.Store
	as       *oauth.Server
	clock    *clock.Fake
	node     *inprocess.Server
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := inprocess.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key, err := state.KeyFromSecret([]byte("a test secret of enough length"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &authEnv{base: "http://" + ln.Addr().String(), store: state.Open(t.TempDir()+"/oauth.state", key),
		clock: clock.NewFake(time.Now()), node: node}
	e.resource = e.base + "/mcp"
	e.as, err = oauth.New(oauth.Config{Store: e.store, Issuer: e.base, Resource: e.resource, Clock: e.clock, TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f, err := mcp.New(mcp.Config{Client: node.Client, RequireAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: f.Handler(mcp.HTTPOptions{Auth: e.as})}}
	hs.Start()
	t.Cleanup(func() {
		hs.CloseClientConnections()
		f.Close()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		node.Close(ctx)
	})
	return e
}

func (e *authEnv) client(t *testing.T, namespaces []string, redirects ...string) oauth.Credentials {
	t.Helper()
	cr, err := oauth.CreateClient(e.store, oauth.ClientSpec{Name: t.Name(), Namespaces: namespaces, RedirectURIs: redirects}, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return cr
}

// token runs the client credentials grant.
func (e *authEnv) token(t *testing.T, cr oauth.Credentials) string {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, TokenURL: e.base + oauth.PathToken,
		EndpointParams: url.Values{"resource": {e.resource}}}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// connectCC connects the go-sdk client with client-credentials tokens.
func (e *authEnv) connectCC(t *testing.T, cr oauth.Credentials) *sdkmcp.ClientSession {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, TokenURL: e.base + oauth.PathToken,
		EndpointParams: url.Values{"resource": {e.resource}}}
	return connectTo(t, &sdkmcp.StreamableClientTransport{Endpoint: e.resource, HTTPClient: cfg.Client(context.Background()), MaxRetries: -1})
}

// initStatus posts an MCP initialize with a bearer token and returns the
// HTTP status and WWW-Authenticate header.
func (e *authEnv) initStatus(t *testing.T, token string) (int, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"probe","version":"1"}}}`
	req, _ := http.NewRequest("POST", e.resource, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// A client-credentials agent uses the tools within its namespace claims.
func TestOAuthClientCredentialsAndNamespaceClaims(t *testing.T) {
	e := newAuthEnv(t)
	cr := e.client(t, []string{"orders=rw", "reports=r"})
	cs := e.connectCC(t, cr)
	var l lease
	must(t, cs, "lock_acquire", args{"namespace": "orders", "key": "o1"}, &l)
	must(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": args{"ok": true}}, nil)
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
	must(t, cs, "state_get", args{"namespace": "reports", "key": "r1"}, nil)
	must(t, cs, "lock_acquire", args{"namespace": "reports", "key": "r1"}, &l)
	te := mustFail(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": args{}}, "namespace_forbidden")
	if !strings.Contains(te.Detail, "reports") || !strings.Contains(te.Next, "namespace") {
		t.Fatalf("forbidden error %+v", te)
	}
	mustFail(t, cs, "lock_acquire", args{"namespace": "secrets", "key": "k"}, "namespace_forbidden")
	mustFail(t, cs, "state_get", args{"key": "k"}, "namespace_forbidden") // the default namespace is not granted
	mustFail(t, cs, "queue_enqueue", args{"namespace": "reports", "queue": "q", "text": "x"}, "namespace_forbidden")
	mustFail(t, cs, "query", args{"namespace": "secrets"}, "namespace_forbidden")
	must(t, cs, "query", args{"namespace": "orders", "refresh": "wait_for"}, nil)
}

// Tokens are refused when missing, expired, revoked, rotated away or for
// another audience.
func TestOAuthRefusesBadTokens(t *testing.T) {
	e := newAuthEnv(t)
	cr := e.client(t, []string{"ALL=rw"})
	tok := e.token(t, cr)
	if st, _ := e.initStatus(t, tok); st != http.StatusOK {
		t.Fatalf("valid token: %d", st)
	}
	st, challenge := e.initStatus(t, "")
	if st != http.StatusUnauthorized || !strings.Contains(challenge, "resource_metadata=") {
		t.Fatalf("no token: %d %q", st, challenge)
	}
	if st, _ := e.initStatus(t, tok+"x"); st != http.StatusUnauthorized {
		t.Fatalf("tampered token: %d", st)
	}

	// Wrong audience: a token of another resource, signed with the same key.
	other, err := oauth.New(oauth.Config{Store: e.store, Issuer: e.base, Resource: e.base + "/other", Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	other.Register(mux)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	cfg := clientcredentials.Config{ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, TokenURL: ts.URL + oauth.PathToken}
	wrong, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := e.initStatus(t, wrong.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("wrong audience: %d", st)
	}

	// Expired.
	e.clock.Advance(2 * time.Hour)
	if st, _ := e.initStatus(t, tok); st != http.StatusUnauthorized {
		t.Fatalf("expired token: %d", st)
	}
	tok = e.token(t, cr)

	// Rotated: the old secret and its tokens stop working.
	rot, err := oauth.RotateSecret(e.store, cr.ClientID, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := e.initStatus(t, tok); st != http.StatusUnauthorized {
		t.Fatalf("token of a rotated secret: %d", st)
	}
	if _, err := cfg.Token(context.Background()); err == nil {
		t.Fatal("old secret still gets tokens")
	}

	// Revoked in the middle of a session: the next call is refused.
	cs := e.connectCC(t, rot)
	must(t, cs, "lock_describe", args{"key": "k"}, nil)
	if err := oauth.RevokeClient(e.store, cr.ClientID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs.CallTool(ctx, &sdkmcp.CallToolParams{Name: "lock_describe", Arguments: args{"key": "k"}}); err == nil {
		t.Fatal("a revoked client's session still works")
	}
	rcfg := clientcredentials.Config{ClientID: rot.ClientID, ClientSecret: rot.ClientSecret, TokenURL: e.base + oauth.PathToken}
	if _, err := rcfg.Token(context.Background()); err == nil {
		t.Fatal("a revoked client still gets tokens")
	}
}

// The go-sdk's own authorization-code handler discovers the metadata,
// runs authorization code + PKCE against the facade and connects.
func TestOAuthAuthorizationCodeWithPKCE(t *testing.T) {
	e := newAuthEnv(t)
	const redirect = "http://127.0.0.1:1/callback"
	cr := e.client(t, []string{"ALL=rw"}, redirect)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(ctx context.Context, a *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		resp, err := noFollow.Get(a.URL)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("authorize: %d %v", resp.StatusCode, err)
		}
		q := loc.Query()
		if q.Get("error") != "" {
			t.Fatalf("authorize refused: %s %s", q.Get("error"), q.Get("error_description"))
		}
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient: &oauthex.ClientCredentials{ClientID: cr.ClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: cr.ClientSecret}},
		RedirectURL:         redirect, AuthorizationCodeFetcher: fetch})
	if err != nil {
		t.Fatal(err)
	}
	cs := connectTo(t, &sdkmcp.StreamableClientTransport{Endpoint: e.resource, OAuthHandler: h, MaxRetries: -1})
	var l lease
	must(t, cs, "lock_acquire", args{"key": "pkce"}, &l)
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
}

// The authorization and token endpoints refuse what OAuth 2.1 forbids.
func TestOAuthEndpointsRefuse(t *testing.T) {
	e := newAuthEnv(t)
	const redirect = "http://127.0.0.1:1/cb"
	cr := e.client(t, []string{"ALL=rw"}, redirect)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := strings.Repeat("v", 50)
	challenge := "CrlVwe1WSHWuTQYh3iczmx3aS-faRx6C92k9_hNxl4A" // S256 of verifier
	authorize := func(q url.Values) (int, url.Values) {
		resp, err := noFollow.Get(e.base + oauth.PathAuthorize + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return resp.StatusCode, loc.Query()
	}
	base := url.Values{"response_type": {"code"}, "client_id": {cr.ClientID}, "redirect_uri": {redirect}, "state": {"s1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for kk, vv := range base {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	if st, _ := authorize(with("redirect_uri", "http://127.0.0.1:2/evil")); st != http.StatusBadRequest {
		t.Fatalf("unregistered redirect: %d", st)
	}
	if st, _ := authorize(with("client_id", "lmc_nobody")); st != http.StatusBadRequest {
		t.Fatalf("unknown client: %d", st)
	}
	for _, q := range []url.Values{with("code_challenge", ""), with("code_challenge_method", "plain"), with("resource", "http://elsewhere/mcp")} {
		if st, back := authorize(q); st != http.StatusFound || back.Get("error") == "" || back.Get("state") != "s1" {
			t.Fatalf("authorize %v: %d %v", q, st, back)
		}
	}
	st, back := authorize(base)
	if st != http.StatusFound || back.Get("code") == "" || back.Get("iss") != e.base {
		t.Fatalf("good authorize: %d %v", st, back)
	}
	code := back.Get("code")
	exchange := func(v url.Values, secret string) (int, string) {
		v.Set("grant_type", "authorization_code")
		req, _ := http.NewRequest("POST", e.base+oauth.PathToken, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(cr.ClientID, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(resp.Body)
		json.Unmarshal(b, &out)
		return resp.StatusCode, out.Error
	}
	if st, code := exchange(url.Values{"code": {code}, "code_verifier": {verifier}}, "wrong"); st != http.StatusUnauthorized || code != "invalid_client" {
		t.Fatalf("bad secret: %d %s", st, code)
	}
	if st, ec := exchange(url.Values{"code": {code}, "code_verifier": {strings.Repeat("w", 50)}, "redirect_uri": {redirect}}, cr.ClientSecret); st != http.StatusBadRequest || ec != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %s", st, ec)
	}
	// The failed exchange used the code up.
	if st, ec := exchange(url.Values{"code": {code}, "code_verifier": {verifier}}, cr.ClientSecret); st != http.StatusBadRequest || ec != "invalid_grant" {
		t.Fatalf("reused code: %d %s", st, ec)
	}
	_, back = authorize(base)
	if st, ec := exchange(url.Values{"code": {back.Get("code")}, "code_verifier": {verifier}, "redirect_uri": {redirect}}, cr.ClientSecret); st != http.StatusOK {
		t.Fatalf("good exchange: %d %s", st, ec)
	}
	_, back = authorize(base)
	e.clock.Advance(2 * time.Minute)
	if st, ec := exchange(url.Values{"code": {back.Get("code")}, "code_verifier": {verifier}}, cr.ClientSecret); ec != "invalid_grant" {
		t.Fatalf("expired code: %d %s", st, ec)
	}
	form := url.Values{"grant_type": {"password"}, "client_id": {cr.ClientID}, "client_secret": {cr.ClientSecret}}
	resp, err := http.Post(e.base+oauth.PathToken, "application/x-www-form-urlencoded", bytes.NewReader([]byte(form.Encode())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("password grant: %d", resp.StatusCode)
	}
}

// The discovery documents describe the server and the resource.
func TestOAuthDiscoveryDocuments(t *testing.T) {
	e := newAuthEnv(t)
	var asm map[string]any
	getJSON(t, e.base+oauth.PathServerMetadata, &asm)
	if asm["issuer"] != e.base || asm["token_endpoint"] != e.base+oauth.PathToken ||
		!contains(asm["code_challenge_methods_supported"], "S256") || !contains(asm["grant_types_supported"], "client_credentials") {
		t.Fatalf("server metadata %v", asm)
	}
	var prm map[string]any
	getJSON(t, e.base+oauth.PathResourceMetadata+"/mcp", &prm)
	if prm["resource"] != e.resource || !contains(prm["authorization_servers"], e.base) {
		t.Fatalf("resource metadata %v", prm)
	}
}

func getJSON(t *testing.T, u string, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func contains(list any, s string) bool {
	l, _ := list.([]any)
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
