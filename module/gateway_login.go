package module

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/jwkscache"
	"github.com/authgate/caddy-authgate/store"
	"github.com/authgate/caddy-authgate/token"
)

// LoginConfig is browser sign-in at the gateway (the `login` block): the
// gateway becomes an OpenID Connect relying party, sends browsers without a
// token or session to the provider (authorization code, PKCE S256, state,
// nonce), keeps the session, refreshes its tokens and forwards the
// identity like a bearer token's.
type LoginConfig struct {
	// Issuer is the OpenID provider (discovered from its
	// /.well-known/openid-configuration), or an authgate_issuer of this
	// Caddy (its keys then verify ID tokens in-process).
	Issuer string `json:"issuer"`
	// ClientID registered at the provider.
	ClientID string `json:"client_id"`
	// ClientSecret; omit it for a public client (PKCE only). Accepts
	// `{env.NAME}` and `{file.PATH}` placeholders.
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes requested. Default: openid profile email. Must include openid;
	// add offline_access (most providers) for a refresh token.
	Scopes []string `json:"scopes,omitempty"`
	// AuthParams are extra authorization request parameters, e.g.
	// prompt=consent or Google's access_type=offline.
	AuthParams map[string]string `json:"auth_params,omitempty"`
	// CallbackPath is the redirect URI's path (register
	// <origin><callback_path> at the provider). Default /_authgate/callback.
	CallbackPath string `json:"callback_path,omitempty"`
	// LogoutPath ends the session (POST, or GET with a same-site check).
	// Default /_authgate/logout.
	LogoutPath string `json:"logout_path,omitempty"`
	// PostLogoutRedirect is where the provider sends the browser after
	// logout (register it as a post-logout redirect URI). Default: the
	// provider's own page, or a "signed out" page without end_session.
	PostLogoutRedirect string `json:"post_logout_redirect,omitempty"`
	// SessionTTL is the absolute session lifetime; refreshing never
	// extends it. Default 12h; at least 1m.
	SessionTTL caddy.Duration `json:"session_ttl,omitempty"`
	// IdleTimeout ends a session unused this long. Default 1h; 0 disables.
	IdleTimeout *caddy.Duration `json:"idle_timeout,omitempty"`
	// CookieName of the session cookie, __Host- prefixed on https.
	// Default authgate_session.
	CookieName string `json:"cookie_name,omitempty"`
	// Session is where sessions live: "store" (default: server-side, the
	// cookie holds only a 256-bit ticket; shared by instances sharing the
	// store) or "cookie" (an AES-GCM encrypted cookie, at most 4000 bytes,
	// for one instance).
	Session string `json:"session,omitempty"`
}

// metadataTTL is how long provider metadata is used before it is fetched
// again; metadataRetry the pause after a failed fetch.
const (
	metadataTTL   = time.Hour
	metadataRetry = 5 * time.Second
)

// provisionLogin wires browser sign-in and the identity assertion into cfg.
func (h *Gateway) provisionLogin(ctx caddy.Context, app *App, routing *keyRouting, cfg *gateway.Config) error {
	st := &lazyStore{app: app}
	if h.IdentityHeader != "" {
		keys := &assertionKeys{st: st}
		a := &gateway.Assertion{Header: h.IdentityHeader, Audience: h.IdentityAudience, Keys: keys.get}
		for _, m := range h.Headers {
			a.Claims = append(a.Claims, m.Claim)
		}
		cfg.Assertion = a
	}
	lc := h.Login
	if lc == nil {
		return nil
	}
	secret, err := caddy.NewReplacer().ReplaceOrErr(lc.ClientSecret, true, true)
	if err != nil {
		return fmt.Errorf("authgate login: client_secret: %w", err)
	}
	cache, releaseCache, err := sharedJWKSCache(ctx)
	if err != nil {
		return err
	}
	h.release = append(h.release, releaseCache)
	keys, err := h.loginKeys(app, routing, cache)
	if err != nil {
		return err
	}
	meta := &providerMetadata{cache: cache, issuer: lc.Issuer}
	idle := gateway.DefaultIdleTimeout
	if lc.IdleTimeout != nil {
		idle = time.Duration(*lc.IdleTimeout)
	}
	algs := h.Algorithms
	if _, local := app.LocalIssuer(lc.Issuer); local && len(algs) == 0 {
		algs = routing.defaultAlgorithms() // our own issuer may sign with HMAC, in-process only
	}
	l, err := gateway.NewLogin(gateway.LoginConfig{
		Issuer: lc.Issuer, Provider: meta.get, IDTokenKeys: keys, Algorithms: algs, Leeway: cfg.Policy.Leeway,
		ClientID: lc.ClientID, ClientSecret: secret, Scopes: lc.Scopes, AuthParams: lc.AuthParams,
		CallbackPath: lc.CallbackPath, LogoutPath: lc.LogoutPath, PostLogoutRedirect: lc.PostLogoutRedirect,
		SessionTTL: time.Duration(lc.SessionTTL), IdleTimeout: idle, CookieName: lc.CookieName,
		CookieSessions: lc.Session == "cookie", PassAccessToken: h.PassAccessToken,
		Sessions: st, Markers: st, Secret: st.gatewaySecret, Logger: ctx.Slogger(),
	})
	if err != nil {
		return fmt.Errorf("authgate login: %w", err)
	}
	cfg.Login = l
	return nil
}

// loginKeys returns the resolver of the login issuer's ID token keys: the
// in-process issuer's, else the discovery source bearer tokens of that
// issuer use, else one of its own from the shared JWKS cache.
func (h *Gateway) loginKeys(app *App, routing *keyRouting, cache *jwkscache.Cache) (func() (token.KeyResolver, error), error) {
	iss := h.Login.Issuer
	d := routing.discovery[iss]
	if d == nil {
		d = cache.Discovery(iss, jwkscache.Options{})
		release, err := holdSource("issuer "+iss, func() { cache.DropDiscovery(iss, jwkscache.Options{}) })
		if err != nil {
			return nil, err
		}
		h.release = append(h.release, release)
		app.onStart(func() error {
			if _, local := app.LocalIssuer(iss); !local {
				d.Start()
			}
			return nil
		})
	}
	return func() (token.KeyResolver, error) {
		if l := routing.ByURL(iss); l != nil {
			return localIDTokenKeys(l), nil
		}
		if l, ok := app.LocalIssuer(iss); ok {
			return localIDTokenKeys(l), nil
		}
		return d, nil
	}, nil
}

// providerMetadata caches the provider's discovery document.
type providerMetadata struct {
	cache  *jwkscache.Cache
	issuer string

	mu      sync.Mutex
	ep      gateway.ProviderEndpoints
	fetched time.Time
	failed  time.Time
	lastErr error
}

func (p *providerMetadata) get(ctx context.Context) (gateway.ProviderEndpoints, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !p.fetched.IsZero() && now.Sub(p.fetched) < metadataTTL {
		return p.ep, nil
	}
	if !p.failed.IsZero() && now.Sub(p.failed) < metadataRetry {
		if !p.fetched.IsZero() {
			return p.ep, nil // keep the last good document
		}
		return gateway.ProviderEndpoints{}, p.lastErr
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := p.cache.ProviderMetadata(ctx, p.issuer)
	if err != nil {
		p.failed, p.lastErr = now, err
		if !p.fetched.IsZero() {
			return p.ep, nil
		}
		return gateway.ProviderEndpoints{}, err
	}
	p.ep = gateway.ProviderEndpoints{
		Issuer: m.Issuer, AuthorizationEndpoint: m.AuthorizationEndpoint, TokenEndpoint: m.TokenEndpoint,
		UserinfoEndpoint: m.UserinfoEndpoint, EndSessionEndpoint: m.EndSessionEndpoint, TokenAuthMethods: m.TokenAuthMethods,
	}
	p.fetched, p.failed = now, time.Time{}
	return p.ep, nil
}

// lazyStore opens the shared store on first use (never in Provision, so
// `caddy validate` stays offline) and serves the roles sign-in needs.
type lazyStore struct {
	app *App

	mu     sync.Mutex
	secret []byte
}

func (s *lazyStore) engine() (store.Engine, error) { return s.app.Store() }

func (s *lazyStore) PutSession(ctx context.Context, sess store.Session) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	return e.PutSession(ctx, sess)
}

func (s *lazyStore) GetSession(ctx context.Context, kind, id string) (store.Session, error) {
	e, err := s.engine()
	if err != nil {
		return store.Session{}, err
	}
	return e.GetSession(ctx, kind, id)
}

func (s *lazyStore) DeleteSession(ctx context.Context, kind, id string) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	return e.DeleteSession(ctx, kind, id)
}

func (s *lazyStore) MarkUsed(ctx context.Context, key string, until time.Time) (bool, error) {
	e, err := s.engine()
	if err != nil {
		return false, err
	}
	return e.MarkUsed(ctx, key, until)
}

// Store "issuers" (owners) of the gateway's own keys.
const (
	gatewaySecretOwner    = "authgate-gateway/secret"
	gatewayAssertionOwner = "authgate-gateway/assertion"
)

// gatewaySecret is the 32-byte secret of every gateway sharing the store,
// generated by the first one (in one store transaction, so two instances
// never pick two secrets).
func (s *lazyStore) gatewaySecret(ctx context.Context) ([]byte, error) {
	e, err := s.engine()
	if err != nil {
		return nil, err
	}
	keys, err := e.UpdateSigningKeys(ctx, gatewaySecretOwner, func(cur []store.SigningKey) ([]store.SigningKey, error) {
		if len(cur) > 0 {
			return cur, nil
		}
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		now := time.Now()
		return []store.SigningKey{{ID: "secret", Alg: token.HS256, Private: b, CreatedAt: now, ActiveAt: now}}, nil
	})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 || len(keys[0].Private) != 32 {
		return nil, errors.New("gateway secret in the store is malformed")
	}
	return keys[0].Private, nil
}

// assertionKeys loads (or creates) the ES256 key of identity_header JWTs.
type assertionKeys struct {
	st *lazyStore

	mu     sync.Mutex
	signer *token.Signer
	jwks   []byte
}

func (a *assertionKeys) get(ctx context.Context) (*token.Signer, []byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.signer != nil {
		return a.signer, a.jwks, nil
	}
	e, err := a.st.engine()
	if err != nil {
		return nil, nil, err
	}
	keys, err := e.UpdateSigningKeys(ctx, gatewayAssertionOwner, func(cur []store.SigningKey) ([]store.SigningKey, error) {
		if len(cur) > 0 {
			return cur, nil
		}
		priv, err := token.GenerateKey(token.ES256)
		if err != nil {
			return nil, err
		}
		der, err := token.MarshalPrivateKey(priv)
		if err != nil {
			return nil, err
		}
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		now := time.Now()
		return []store.SigningKey{{ID: hex.EncodeToString(id), Alg: token.ES256, Private: der, CreatedAt: now, ActiveAt: now}}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(keys) == 0 {
		return nil, nil, errors.New("no identity assertion key in the store")
	}
	k := keys[len(keys)-1]
	priv, err := token.ParsePrivateKey(k.Alg, k.Private)
	if err != nil {
		return nil, nil, err
	}
	signer, err := token.NewSigner(k.ID, k.Alg, priv)
	if err != nil {
		return nil, nil, err
	}
	jwk, err := token.PublicJWK(k.ID, k.Alg, priv)
	if err != nil {
		return nil, nil, err
	}
	doc, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	if err != nil {
		return nil, nil, err
	}
	a.signer, a.jwks = signer, doc
	return signer, doc, nil
}

// defaultLoginIssuer: with `login` and no other key source, bearer tokens
// of the login's issuer are accepted on the route too.
func (h *Gateway) defaultLoginIssuer() {
	if h.Login != nil && len(h.Issuers) == 0 && len(h.JWKS) == 0 && len(h.Keys) == 0 && h.HMACSecret == "" {
		h.Issuers = []string{h.Login.Issuer}
	}
}

// servesOwnPath answers the sign-in callback, logout and the assertion JWKS,
// which never go upstream; an address the IP lists refuse gets none of them
// (Authorize then refuses it).
func (h *Gateway) servesOwnPath(w http.ResponseWriter, r *http.Request, client netip.Addr) bool {
	if h.login == nil && h.assert == nil {
		return false
	}
	if h.ipf != nil && !h.ipf.Allowed(client) {
		return false
	}
	if h.login != nil && h.login.Paths(r) {
		h.login.ServeHTTP(w, r)
		return true
	}
	if h.assert != nil && r.URL.Path == gateway.AssertionJWKSPath {
		h.assert.ServeJWKS(w, r)
		return true
	}
	return false
}

// answersBrowser turns a refusal into a page for a browser: no session ->
// the provider's sign-in; a signed-in identity a rule refused -> the 403
// page.
func (h *Gateway) answersBrowser(w http.ResponseWriter, r *http.Request, e *gateway.Error) bool {
	if h.login == nil {
		return false
	}
	if e.LoginRequired || e.Reason == gateway.ReasonNoToken {
		if e.LoginRequired && !gateway.BrowserNavigation(r) {
			h.login.ClearCookie(w, r)
		}
		return h.login.Challenge(w, r)
	}
	if e.Session && e.Status == http.StatusForbidden && gateway.BrowserNavigation(r) {
		h.login.RenderForbidden(w, r)
		return true
	}
	return false
}

// setSessionCookie sends a cookie session resealed by a refresh.
func (h *Gateway) setSessionCookie(w http.ResponseWriter, r *http.Request, d gateway.Decision) {
	if d.SetCookie != "" && h.login != nil {
		h.login.SetCookie(w, r, d.SetCookie)
	}
}

// idTokenKeys resolves an in-process issuer's ID-token keys (never used
// for access tokens).
type idTokenKeys struct{ h *IssuerHandler }

func (k idTokenKeys) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	if err := k.h.open(); err != nil {
		return nil, fmt.Errorf("%w: %v", token.ErrKeysUnavailable, err)
	}
	return k.h.iss.ResolveIDTokenKeys(ctx, kid, alg)
}

// localIDTokenKeys is the ID-token resolver of an in-process issuer, or l
// itself for another LocalIssuer.
func localIDTokenKeys(l gateway.LocalIssuer) token.KeyResolver {
	if li, ok := l.(localIssuer); ok {
		return idTokenKeys{li.h}
	}
	return l
}
