package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/lockdhq/lockd/mcp/state"
)

// tokenResponse is the RFC 6749 section 5.1 body.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// maxForm bounds a token request body.
const maxForm = 64 << 10

// token is the token endpoint: client authentication, then the grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form: "+err.Error())
		return
	}
	st, err := s.cfg.Store.Load()
	if err != nil {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "client registry unavailable")
		return
	}
	c, err := clientAuth(st, r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="lockd-mcp"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	form := r.PostForm
	switch form.Get("grant_type") {
	case "client_credentials":
		s.clientCredentials(w, st, c, form)
	case "authorization_code":
		s.authorizationCode(w, st, c, form)
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials or authorization_code")
	}
}

func (s *Server) clientCredentials(w http.ResponseWriter, st *state.State, c *state.Client, form url.Values) {
	if sc := form.Get("scope"); sc != "" && !scopeOK(sc) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "the only scope is "+Scope)
		return
	}
	aud, ok := s.resourceOf(form["resource"])
	if !ok {
		writeOAuthError(w, http.StatusBadRequest, "invalid_target", "resource must be "+s.cfg.Resource)
		return
	}
	s.respondToken(w, st, c, aud)
}

func (s *Server) authorizationCode(w http.ResponseWriter, st *state.State, c *state.Client, form url.Values) {
	g, ok := s.takeCode(form.Get("code"))
	switch {
	case !ok:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "authorization code is unknown, used or expired")
	case g.clientID != c.ID || g.gen != c.Generation:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "authorization code was issued to another client")
	case form.Get("redirect_uri") != "" && form.Get("redirect_uri") != g.redirectURI:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
	case !pkceOK(form.Get("code_verifier"), g.challenge):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
	default:
		if res, ok := s.resourceOf(form["resource"]); !ok || res != g.resource {
			writeOAuthError(w, http.StatusBadRequest, "invalid_target", "resource must be "+g.resource)
			return
		}
		s.respondToken(w, st, c, g.resource)
	}
}

func (s *Server) respondToken(w http.ResponseWriter, st *state.State, c *state.Client, aud string) {
	tok, exp, err := s.issue(st, c, aud)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int64(exp.Sub(s.cfg.Clock.Now()).Seconds()), Scope: Scope})
}

// clientAuth authenticates the client by HTTP Basic (client_secret_basic)
// or form fields (client_secret_post); public clients are not supported.
func clientAuth(st *state.State, r *http.Request) (*state.Client, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err error
		// RFC 6749 section 2.3.1: form-urlencoded in the header.
		if id, err = url.QueryUnescape(id); err != nil {
			return nil, errors.New("malformed client_id in Authorization")
		}
		if secret, err = url.QueryUnescape(secret); err != nil {
			return nil, errors.New("malformed client_secret in Authorization")
		}
		if fid := r.PostForm.Get("client_id"); fid != "" && fid != id {
			return nil, errors.New("client_id in the form differs from the Authorization header")
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if strings.TrimSpace(id) == "" || secret == "" {
		return nil, errNoClientAuth
	}
	c, err := authenticate(st, id, secret)
	if err != nil {
		if errors.Is(err, ErrBadSecret) || errors.Is(err, ErrUnknownClient) {
			return nil, errors.New("client authentication failed")
		}
		return nil, err
	}
	return c, nil
}
