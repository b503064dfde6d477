package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/mcp/state"
)

// Default lifetimes.
const (
	DefaultTokenTTL = time.Hour
	DefaultCodeTTL  = time.Minute
)

// Endpoint paths, under the issuer URL.
const (
	PathAuthorize        = "/oauth/authorize"
	PathToken            = "/oauth/token"
	PathServerMetadata   = "/.well-known/oauth-authorization-server"
	PathResourceMetadata = "/.well-known/oauth-protected-resource"
)

// Config configures the authorization server.
type Config struct {
	// Store holds the signing key and the clients (required).
	Store *state.Store
	// Issuer is the server's base URL, e.g. https://mcp.example:9345, with
	// no path (required).
	Issuer string
	// Resource is the protected MCP endpoint's URL, the audience of every
	// token, e.g. https://mcp.example:9345/mcp (required).
	Resource string
	// TokenTTL is the lifetime of access tokens (default DefaultTokenTTL).
	TokenTTL time.Duration
	// CodeTTL is the lifetime of authorization codes (default DefaultCodeTTL).
	CodeTTL time.Duration
	// Clock defaults to the wall clock.
	Clock clock.Clock
}

// Server is the authorization server and token verifier. It is safe for
// concurrent use.
type Server struct {
	cfg Config

	mu    sync.Mutex
	codes map[string]*grant
}

// grant is what an authorization code stands for.
type grant struct {
	clientID    string
	gen         int64
	redirectURI string
	challenge   string
	resource    string
	expires     time.Time
}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("oauth: invalid configuration")

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: no state store", ErrConfig)
	}
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || iss.Scheme == "" || iss.Host == "" || strings.Trim(iss.Path, "/") != "" {
		return nil, fmt.Errorf("%w: issuer %q must be an absolute URL without a path", ErrConfig, cfg.Issuer)
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if res, err := url.Parse(cfg.Resource); err != nil || res.Scheme == "" || res.Host == "" || res.Fragment != "" {
		return nil, fmt.Errorf("%w: resource %q must be an absolute URL without a fragment", ErrConfig, cfg.Resource)
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Server{cfg: cfg, codes: map[string]*grant{}}, nil
}

// Issuer is the issuer URL.
func (s *Server) Issuer() string { return s.cfg.Issuer }

// Resource is the protected resource's URL (the tokens' audience).
func (s *Server) Resource() string { return s.cfg.Resource }

// ResourceMetadataURL is where the RFC 9728 document of the resource is.
func (s *Server) ResourceMetadataURL() string {
	u, _ := url.Parse(s.cfg.Resource)
	return s.cfg.Issuer + PathResourceMetadata + u.EscapedPath()
}

// Register adds the authorization server's endpoints and discovery
// documents to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc(PathAuthorize, s.authorize)
	mux.HandleFunc(PathToken, s.token)
	mux.Handle(PathServerMetadata, s.serverMetadata())
	prm := auth.ProtectedResourceMetadataHandler(s.resourceMetadata())
	mux.Handle(PathResourceMetadata, prm)
	u, _ := url.Parse(s.cfg.Resource)
	if p := u.EscapedPath(); p != "" && p != "/" {
		mux.Handle(PathResourceMetadata+p, prm)
	}
}

// Protect wraps the MCP handler: requests need a valid bearer token, and
// a refusal names the resource metadata (RFC 9728 section 5.1).
func (s *Server) Protect(h http.Handler) http.Handler {
	return auth.RequireBearerToken(s.Verify, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: s.ResourceMetadataURL(), Scopes: []string{Scope}})(h)
}

func (s *Server) resourceMetadata() *oauthex.ProtectedResourceMetadata {
	return &oauthex.ProtectedResourceMetadata{Resource: s.cfg.Resource, AuthorizationServers: []string{s.cfg.Issuer},
		ScopesSupported: []string{Scope}, BearerMethodsSupported: []string{"header"}, ResourceName: "lockd MCP facade"}
}

// serverMeta is the RFC 8414 document.
type serverMeta struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	IssParameterSupported             bool     `json:"authorization_response_iss_parameter_supported"`
	ResourceIndicatorsSupported       bool     `json:"resource_indicators_supported"`
}

func (s *Server) serverMetadata() http.Handler {
	meta := serverMeta{
		Issuer:                            s.cfg.Issuer,
		AuthorizationEndpoint:             s.cfg.Issuer + PathAuthorize,
		TokenEndpoint:                     s.cfg.Issuer + PathToken,
		ScopesSupported:                   []string{Scope},
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code", "client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		IssParameterSupported:             true,
		ResourceIndicatorsSupported:       true,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use GET")
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		writeJSON(w, http.StatusOK, meta)
	})
}
