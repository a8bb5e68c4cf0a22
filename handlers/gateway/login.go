package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// Defaults of the `login` block.
const (
	DefaultCallbackPath = "/_authgate/callback"
	DefaultLogoutPath   = "/_authgate/logout"
	DefaultCookieName   = "authgate_session"
	DefaultSessionTTL   = 12 * time.Hour
	DefaultIdleTimeout  = time.Hour
	// LoginAttemptTTL bounds how long a sign-in may take, from the redirect
	// to the provider until its callback.
	LoginAttemptTTL = 10 * time.Minute
	// MaxCookieSession is the largest `session cookie` value: a browser
	// drops bigger cookies, and splitting them is a bug farm.
	MaxCookieSession = 4000
)

// DefaultLoginScopes are requested when `scopes` is not configured.
var DefaultLoginScopes = []string{"openid", "profile", "email"}

// ProviderEndpoints are what sign-in needs from the provider's metadata.
type ProviderEndpoints struct {
	Issuer                string
	AuthorizationEndpoint string
	TokenEndpoint         string
	UserinfoEndpoint      string // "" when the provider has none
	EndSessionEndpoint    string // "" when the provider has none
	// TokenAuthMethods are token_endpoint_auth_methods_supported.
	TokenAuthMethods []string
}

// LoginConfig is one route's browser sign-in: the gateway as an OpenID
// Connect relying party of Issuer.
type LoginConfig struct {
	// Issuer is the provider's issuer URL (the ID token's iss).
	Issuer string
	// Provider returns the provider's endpoints (discovery or, for an
	// in-process issuer, its own); called on every sign-in, refresh and
	// logout, so it caches.
	Provider func(ctx context.Context) (ProviderEndpoints, error)
	// IDTokenKeys returns the keys that verify the provider's ID tokens
	// (the same jwkscache or in-process path bearer tokens use).
	IDTokenKeys func() (token.KeyResolver, error)
	// Algorithms allowed for ID tokens; empty means every asymmetric one.
	Algorithms []string
	// Leeway on the ID token's exp and iat.
	Leeway time.Duration

	ClientID     string
	ClientSecret string // "" for a public client (PKCE only)
	Scopes       []string
	// AuthParams are extra authorization request parameters
	// (prompt=consent, access_type=offline, ...).
	AuthParams map[string]string

	CallbackPath       string
	LogoutPath         string
	PostLogoutRedirect string // "" means the site's root

	SessionTTL  time.Duration // absolute; refresh never extends it
	IdleTimeout time.Duration // 0 disables
	CookieName  string
	// CookieSessions keeps sessions in an encrypted cookie instead of the
	// store (one instance; no logout elsewhere than in this process and
	// the sessions it ended).
	CookieSessions bool

	// PassAccessToken sends `Authorization: Bearer <access token>` upstream.
	PassAccessToken bool

	// Sessions keeps server-side sessions (and, in cookie mode, the
	// markers of ended ones).
	Sessions store.SessionStore
	// Markers makes callbacks single use and leases refreshes across
	// instances sharing the store.
	Markers store.ReplayStore
	// Secret returns the gateway's 32-byte secret, generated once and kept
	// in the store: it encrypts sign-in attempt cookies and cookie sessions.
	Secret func(ctx context.Context) ([]byte, error)

	// HTTPClient talks to the provider; nil means a client with a 10s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Login is browser sign-in for one route: it starts sign-ins, serves the
// callback and logout paths, and resolves a request's session to claims.
// Safe for concurrent use.
type Login struct {
	cfg    LoginConfig
	kind   string // store kind of this login's sessions
	live   sync.Map
	nLive  int64
	liveMu sync.Mutex

	secretOnce sync.Mutex
	secret     []byte
}

// NewLogin validates cfg and applies defaults.
func NewLogin(cfg LoginConfig) (*Login, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("login needs an issuer and a client_id")
	}
	if cfg.Provider == nil || cfg.IDTokenKeys == nil || cfg.Sessions == nil || cfg.Markers == nil || cfg.Secret == nil {
		return nil, errors.New("login: provider, keys, sessions, markers and secret are required")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultLoginScopes
	}
	hasOpenID := false
	for _, s := range cfg.Scopes {
		hasOpenID = hasOpenID || s == "openid"
	}
	if !hasOpenID {
		return nil, errors.New("login scopes must include openid")
	}
	if cfg.CallbackPath == "" {
		cfg.CallbackPath = DefaultCallbackPath
	}
	if cfg.LogoutPath == "" {
		cfg.LogoutPath = DefaultLogoutPath
	}
	for _, p := range []string{cfg.CallbackPath, cfg.LogoutPath} {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#") {
			return nil, fmt.Errorf("login path %q must be an absolute path without query", p)
		}
	}
	if cfg.CallbackPath == cfg.LogoutPath {
		return nil, errors.New("callback_path and logout_path must differ")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.SessionTTL < time.Minute || cfg.IdleTimeout < 0 {
		return nil, errors.New("session_ttl must be at least 1m and idle_timeout not negative")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if !ValidCookieName(cfg.CookieName) {
		return nil, fmt.Errorf("cookie_name %q is not a valid cookie name", cfg.CookieName)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = token.DefaultLeeway
	}
	l := &Login{cfg: cfg, kind: "gateway-session"}
	return l, nil
}

// Paths reports whether r is for the callback or logout path, which the
// gateway answers itself and never proxies.
func (l *Login) Paths(r *http.Request) bool {
	return r.URL.Path == l.cfg.CallbackPath || r.URL.Path == l.cfg.LogoutPath
}

// ServeHTTP answers the callback and logout paths.
func (l *Login) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case l.cfg.CallbackPath:
		l.serveCallback(w, r)
	case l.cfg.LogoutPath:
		l.serveLogout(w, r)
	default:
		http.NotFound(w, r)
	}
}

// gatewaySecret loads the 32-byte secret once.
func (l *Login) gatewaySecret(ctx context.Context) ([]byte, error) {
	l.secretOnce.Lock()
	defer l.secretOnce.Unlock()
	if l.secret != nil {
		return l.secret, nil
	}
	s, err := l.cfg.Secret(ctx)
	if err != nil {
		return nil, err
	}
	if len(s) != 32 {
		return nil, fmt.Errorf("gateway secret has %d bytes, want 32", len(s))
	}
	l.secret = s
	return s, nil
}

// ValidCookieName reports an RFC 6265 cookie name (a token) of at most 64
// bytes.
func ValidCookieName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
