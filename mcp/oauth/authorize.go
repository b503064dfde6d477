package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/lockdhq/lockd/mcp/state"
)

// authorize is the authorization endpoint (GET or POST form): it checks
// the request and redirects to the client's redirect URI with a code, or
// with an error once the redirect URI is known to be the client's.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use GET or POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed request: "+err.Error())
		return
	}
	q := r.Form
	st, err := s.cfg.Store.Load()
	if err != nil {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "client registry unavailable")
		return
	}
	c, err := clientOf(st, q.Get("client_id"))
	if err != nil {
		// Never redirect for an unknown client: the redirect URI is unproven.
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", err.Error())
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(c.RedirectURIs) == 1 {
		redirect = c.RedirectURIs[0]
	}
	if !slices.Contains(c.RedirectURIs, redirect) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request",
			"redirect_uri is not registered for this client (register it with lockd mcp admin create --redirect-uri)")
		return
	}
	code, errCode, detail := s.newCode(c, q, redirect)
	target, _ := url.Parse(redirect)
	back := target.Query()
	if errCode != "" {
		back.Set("error", errCode)
		back.Set("error_description", detail)
	} else {
		back.Set("code", code)
	}
	if v := q.Get("state"); v != "" {
		back.Set("state", v)
	}
	back.Set("iss", s.cfg.Issuer)
	target.RawQuery = back.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// newCode checks the grant request and stores a code for it; on failure
// it returns the OAuth error code and description.
func (s *Server) newCode(c *state.Client, q url.Values, redirect string) (code, errCode, detail string) {
	if q.Get("response_type") != "code" {
		return "", "unsupported_response_type", "response_type must be code"
	}
	challenge := q.Get("code_challenge")
	if challenge == "" {
		return "", "invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256"
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		return "", "invalid_request", "code_challenge_method must be S256"
	}
	if len(challenge) < 43 || len(challenge) > 128 {
		return "", "invalid_request", "code_challenge must be 43 to 128 characters"
	}
	if sc := q.Get("scope"); sc != "" && !scopeOK(sc) {
		return "", "invalid_scope", "the only scope is " + Scope
	}
	resource, ok := s.resourceOf(q["resource"])
	if !ok {
		return "", "invalid_target", "resource must be " + s.cfg.Resource
	}
	code, err := randomToken("", 32)
	if err != nil {
		return "", "server_error", "no randomness"
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, g := range s.codes { // drop expired codes as new ones come
		if now.After(g.expires) {
			delete(s.codes, k)
		}
	}
	s.codes[code] = &grant{clientID: c.ID, gen: c.Generation, redirectURI: redirect, challenge: challenge,
		resource: resource, expires: now.Add(s.cfg.CodeTTL)}
	return code, "", ""
}

// resourceOf checks the resource parameters (RFC 8707): none means this
// server's resource; any other resource is refused.
func (s *Server) resourceOf(vals []string) (string, bool) {
	for _, v := range vals {
		if strings.TrimSuffix(v, "/") != strings.TrimSuffix(s.cfg.Resource, "/") {
			return "", false
		}
	}
	return s.cfg.Resource, true
}

func scopeOK(scope string) bool {
	for _, sc := range strings.Fields(scope) {
		if sc != Scope {
			return false
		}
	}
	return true
}

// takeCode removes and returns the grant of code, if it is live.
func (s *Server) takeCode(code string) (*grant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.codes[code]
	delete(s.codes, code)
	if !ok || s.cfg.Clock.Now().After(g.expires) {
		return nil, false
	}
	return g, true
}

// pkceOK checks a code verifier against an S256 challenge.
func pkceOK(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// oauthError is the RFC 6749 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, oauthError{Error: code, Description: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var errNoClientAuth = errors.New("oauth: client authentication required")
