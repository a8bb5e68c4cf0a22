package module

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/handlers/issuer"
	"github.com/authgate/caddy-authgate/token"
)

func init() {
	caddy.RegisterModule(new(IssuerHandler))
}

// IssuerHandler is the `authgate_issuer` HTTP handler: an OAuth 2.0
// authorization server for API clients. It answers its own paths (the token,
// introspection and revocation endpoints under path_prefix, the RFC 8414 /
// OpenID metadata and the JWKS under /.well-known) and passes every other
// request to the next handler. A gateway (`authgate`) in the same Caddy
// trusts it in-process.
type IssuerHandler struct {
	// Issuer is the `iss` of every token, an http(s) URL. Endpoint URLs in
	// the metadata are built from its scheme and host. Required.
	Issuer string `json:"issuer,omitempty"`
	// PathPrefix is where the OAuth endpoints live: <prefix>/token,
	// <prefix>/introspect (alias <prefix>/token/verify), <prefix>/revoke.
	// Default: /oauth.
	PathPrefix string `json:"path_prefix,omitempty"`
	// SigningAlg is the algorithm of the signing keys: ES256 (default),
	// ES384, RS256, RS384, RS512, PS256, EdDSA, HS256, HS384 or HS512. HMAC
	// keys are never published; only gateways in the same Caddy can verify
	// their tokens.
	SigningAlg string `json:"signing_alg,omitempty"`
	// KeyRotation is how long a signing key signs before the next one takes
	// over. Default: 30 days; minimum 2s.
	KeyRotation caddy.Duration `json:"key_rotation,omitempty"`
	// AccessTokenTTL is the default access token lifetime, 1s to
	// 2147483647s. Default: 1h.
	AccessTokenTTL caddy.Duration `json:"access_token_ttl,omitempty"`
	// Audience is the default `aud` of tokens. Default: the issuer URL.
	Audience []string `json:"audience,omitempty"`
	// RateLimit is the default issuance limit of each client,
	// "<n>/<duration>" (a token bucket: bursts of n, n per duration on
	// average; n 1 to 1000000, duration 1s to 24h) or "off". Default:
	// 600/1m. Beyond it the token endpoint answers 429 with Retry-After.
	RateLimit string `json:"rate_limit,omitempty"`
	// DPoPNonce requires a server nonce (RFC 9449 §8) in DPoP proofs at the
	// token endpoint: a proof without the current one is answered 400
	// use_dpop_nonce with the nonce in DPoP-Nonce. Default: off.
	DPoPNonce bool `json:"dpop_nonce,omitempty"`
	// DPoPAlgorithms are the algorithms accepted in DPoP proofs (and
	// listed as dpop_signing_alg_values_supported). Default: ES256 ES384
	// ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512.
	DPoPAlgorithms []string `json:"dpop_algorithms,omitempty"`
	// RefreshTokenTTL is the default lifetime of each refresh token (they
	// are single use: every refresh returns a new one). Default: 60 days.
	RefreshTokenTTL caddy.Duration `json:"refresh_token_ttl,omitempty"`
	// RefreshFamilyLifetime is the absolute lifetime of the refresh tokens
	// of one sign-in: however often they are rotated, none is valid longer
	// than this after the authorization code was issued; then the person
	// signs in again. Default: 180 days.
	RefreshFamilyLifetime caddy.Duration `json:"refresh_family_lifetime,omitempty"`
	// Clients are the registered API clients.
	Clients []*IssuerClient `json:"clients,omitempty"`
	// ClientCertHeader names the RFC 9440 header (e.g. Client-Cert) in which
	// a TLS-terminating proxy forwards the client certificate, for
	// tls_client_auth, self_signed_tls_client_auth and certificate-bound
	// tokens. It is read only from peers in the server's trusted_proxies and
	// removed from any other request. Default: none (the TLS connection's
	// own client certificate).
	ClientCertHeader string `json:"client_cert_header,omitempty"`
	// RotatedSecretTTL is how long a client secret kept at a rotation
	// through the admin API (`caddy authgate client rotate-secret
	// --keep-current`) works when the rotation names no expiry. Default:
	// 7 days.
	RotatedSecretTTL caddy.Duration `json:"rotated_secret_ttl,omitempty"`
	IssuerSignIn

	iss     *issuer.Issuer
	app     *App
	ctx     caddy.Context
	logger  *zap.Logger
	opened  sync.Once
	openErr error
	alive   func() // releases holdAliveIssuer; set once opened
	release func() // releases the shared JWKS cache; nil without one
}

// IssuerClient is one registered API client.
type IssuerClient struct {
	// ClientID identifies the client (`client_id`). Required.
	ClientID string `json:"client_id,omitempty"`
	// Name is a human-readable name, for logs.
	Name string `json:"name,omitempty"`
	// Secrets are the accepted client secrets. Several may be valid at once
	// during a rotation; each may expire.
	Secrets []*IssuerSecret `json:"secrets,omitempty"`
	// AuthMethods are the allowed client authentication methods:
	// client_secret_basic and/or client_secret_post. Default: both.
	AuthMethods []string `json:"auth_methods,omitempty"`
	// GrantTypes are the allowed grants: client_credentials and/or
	// urn:ietf:params:oauth:grant-type:token-exchange. Default:
	// client_credentials.
	GrantTypes []string `json:"grant_types,omitempty"`
	// Scopes are the most the client may get; a request without `scope`
	// gets all of them.
	Scopes []string `json:"scopes,omitempty"`
	// Audience overrides the issuer's default audience for this client.
	Audience []string `json:"audience,omitempty"`
	// TokenFormat is jwt (default, RFC 9068) or opaque (random, stored
	// hashed, resolved by introspection or an in-process gateway).
	TokenFormat string `json:"token_format,omitempty"`
	// AccessTokenTTL overrides the issuer's default lifetime.
	AccessTokenTTL caddy.Duration `json:"access_token_ttl,omitempty"`
	// AllowIP restricts where the client may get tokens from, and where a
	// gateway in the same Caddy accepts its tokens from (IPs, CIDRs, ranges).
	AllowIP []string `json:"allow_ip,omitempty"`
	// DenyIP refuses these addresses, like AllowIP.
	DenyIP []string `json:"deny_ip,omitempty"`
	// Disabled refuses the client and every token it holds.
	Disabled bool `json:"disabled,omitempty"`
	// RateLimit overrides the issuer's rate_limit for this client:
	// "<n>/<duration>" or "off".
	RateLimit string `json:"rate_limit,omitempty"`
	IssuerClientStrongAuth
	// DPoP is optional (default: a token request with a DPoP proof gets
	// DPoP-bound tokens, one without gets Bearer tokens) or required (no
	// token without a proof).
	DPoP string `json:"dpop,omitempty"`
	// Public marks a client that cannot keep a secret (native or browser
	// app): no secret, auth method none, PKCE required, never
	// client_credentials or token exchange. Its default grant is
	// authorization_code.
	Public bool `json:"public,omitempty"`
	// RedirectURIs are the registered redirect_uri values: absolute, no
	// fragment, compared exactly (loopback redirects of native apps may
	// vary the port, RFC 8252 §7.3). Required for the authorization_code
	// and implicit grants.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back to.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// SkipConsent skips the consent page (first-party apps).
	SkipConsent bool `json:"skip_consent,omitempty"`
	// IDTokenSignedResponseAlg is the algorithm of the client's ID tokens:
	// RS256 (default) or the issuer's signing_alg when it is asymmetric.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
	// RefreshTokenTTL overrides the issuer's refresh_token_ttl.
	RefreshTokenTTL caddy.Duration `json:"refresh_token_ttl,omitempty"`
}

// IssuerSecret is one accepted client secret.
type IssuerSecret struct {
	// Value is a clear-text secret; it accepts {env.NAME} and {file.PATH}
	// placeholders. It is hashed (SHA-256) at provision and the clear value
	// dropped. Prefer placeholders or Hash: the raw config is visible
	// through the admin API.
	Value string `json:"value,omitempty"`
	// Hash is a secret hash: sha256:<hex>, a bcrypt hash ($2a$/$2b$/$2y$)
	// or an argon2id PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$key).
	// Placeholders are accepted.
	Hash string `json:"hash,omitempty"`
	// Expires, when set (RFC 3339), is when the secret stops working.
	Expires string `json:"expires,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*IssuerHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.authgate_issuer",
		New: func() caddy.Module { return new(IssuerHandler) },
	}
}

// Provision resolves and hashes the secrets, validates the configuration
// and registers the issuer with the authgate app. It does not open the
// store: that happens when the config starts (see open), so `caddy
// validate` works next to a running server that holds the store's lock.
func (h *IssuerHandler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.ctx = ctx
	app, err := authgateApp(ctx)
	if err != nil {
		return err
	}
	h.app = app
	if err := checkClientCertHeader(h.ClientCertHeader); err != nil {
		return fmt.Errorf("authgate_issuer: %w", err)
	}
	cfg := issuer.Config{
		Issuer:         h.Issuer,
		PathPrefix:     h.PathPrefix,
		SigningAlg:     h.SigningAlg,
		KeyRotation:    time.Duration(h.KeyRotation),
		AccessTokenTTL: time.Duration(h.AccessTokenTTL),
		Audience:       h.Audience,
		Logger:         ctx.Slogger(),
		DPoPNonce:      h.DPoPNonce,
		DPoPAlgorithms: h.DPoPAlgorithms,

		RotatedSecretTTL:      time.Duration(h.RotatedSecretTTL),
		RefreshTokenTTL:       time.Duration(h.RefreshTokenTTL),
		RefreshFamilyLifetime: time.Duration(h.RefreshFamilyLifetime),
	}
	if h.RateLimit != "" {
		rl, err := issuer.ParseRateLimit(h.RateLimit, caddy.ParseDuration)
		if err != nil {
			return fmt.Errorf("authgate_issuer: %w", err)
		}
		cfg.RateLimit = &rl
	}
	repl := caddy.NewReplacer()
	if cfg.SignInConfig, err = h.signInConfig(ctx, repl); err != nil {
		return fmt.Errorf("authgate_issuer: %w", err)
	}
	for _, c := range h.Clients {
		if c == nil {
			return errors.New("authgate_issuer: empty client")
		}
		cc := issuer.ClientConfig{
			ID:             c.ClientID,
			Name:           c.Name,
			AuthMethods:    c.AuthMethods,
			GrantTypes:     c.GrantTypes,
			Scopes:         c.Scopes,
			Audience:       c.Audience,
			TokenFormat:    c.TokenFormat,
			AccessTokenTTL: time.Duration(c.AccessTokenTTL),
			AllowIP:        c.AllowIP,
			DenyIP:         c.DenyIP,
			Disabled:       c.Disabled,
			DPoP:           c.DPoP,
			PeopleConfig: issuer.PeopleConfig{
				Public:                   c.Public,
				RedirectURIs:             c.RedirectURIs,
				PostLogoutRedirectURIs:   c.PostLogoutRedirectURIs,
				SkipConsent:              c.SkipConsent,
				IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
				RefreshTokenTTL:          time.Duration(c.RefreshTokenTTL),
			},
		}
		if c.RateLimit != "" {
			rl, err := issuer.ParseRateLimit(c.RateLimit, caddy.ParseDuration)
			if err != nil {
				return fmt.Errorf("authgate_issuer: client %q: %w", c.ClientID, err)
			}
			cc.RateLimit = &rl
		}
		cc.SigningAlg = c.SigningAlg
		if cc.StrongAuth, err = c.strongAuth(); err != nil {
			return fmt.Errorf("authgate_issuer: client %q: %w", c.ClientID, err)
		}
		for _, s := range c.Secrets {
			if s == nil {
				continue
			}
			sc := issuer.SecretConfig{}
			if s.Expires != "" {
				if sc.Expires, err = time.Parse(time.RFC3339, s.Expires); err != nil {
					return fmt.Errorf("authgate_issuer: client %q: secret expires: %v", c.ClientID, err)
				}
			}
			if s.Value != "" {
				if sc.Plain, err = repl.ReplaceOrErr(s.Value, true, true); err != nil {
					return fmt.Errorf("authgate_issuer: client %q: secret: %v", c.ClientID, err)
				}
				// Drop the placeholder-resolved clear secret: only its
				// hash is kept (issuer.New clears sc.Plain).
				sc.Plain = strings.TrimRight(sc.Plain, "\r\n")
			}
			if s.Hash != "" {
				if sc.Hash, err = repl.ReplaceOrErr(s.Hash, true, true); err != nil {
					return fmt.Errorf("authgate_issuer: client %q: secret_hash: %v", c.ClientID, err)
				}
				sc.Hash = strings.TrimSpace(sc.Hash)
			}
			cc.Secrets = append(cc.Secrets, sc)
		}
		cfg.Clients = append(cfg.Clients, cc)
	}
	// Config clients and clients added at run time (admin API) may name a
	// jwks_uri: the issuer always gets the process's shared JWKS cache.
	if err := h.shareJWKSCache(ctx, &cfg); err != nil {
		return err
	}
	iss, err := issuer.New(ctx, cfg)
	for i := range cfg.Clients {
		for j := range cfg.Clients[i].Secrets {
			cfg.Clients[i].Secrets[j].Plain = ""
		}
	}
	if err != nil {
		return fmt.Errorf("authgate_issuer: %w", err)
	}
	h.iss = iss
	if err := app.RegisterIssuer(localIssuer{h}); err != nil {
		return err
	}
	if err := app.claimIssuerPaths(iss.IssuerURL(), iss.Origin(), iss.Paths()); err != nil {
		return err
	}
	app.onStart(h.open)
	return nil
}

// open attaches the shared store once: signing keys are loaded (or created
// on the very first start) and the revocations read. It runs when the
// authgate app starts, or on first use if a request comes first; its error
// fails the config start. Expiry is the engine's own job (the bbolt engine
// purges until it is closed).
func (h *IssuerHandler) open() error {
	h.opened.Do(func() {
		st, err := h.app.Store()
		if err == nil {
			err = h.iss.Open(h.ctx, st)
		}
		if err != nil {
			h.openErr = fmt.Errorf("authgate_issuer %s: %w", h.Issuer, err)
			return
		}
		h.alive = holdAliveIssuer(h.iss.IssuerURL())
		go h.iss.Run(h.ctx)
		h.logger.Info("issuer ready",
			zap.String("issuer", h.iss.IssuerURL()),
			zap.String("signing_kid", h.iss.SigningKeyID()),
			zap.Int("clients", len(h.Clients)))
	})
	return h.openErr
}

// Validate checks the provisioned configuration (Provision already rejected
// anything invalid; this only asserts it ran).
func (h *IssuerHandler) Validate() error {
	if h.iss == nil {
		return errors.New("authgate_issuer: not provisioned")
	}
	return nil
}

// Cleanup retires this instance's keys, so no gateway keeps serving tokens
// it verified from its cache. The issuer's background goroutine stops with
// the config's context; expiry in the store is the engine's own job.
func (h *IssuerHandler) Cleanup() error {
	// A store never opened stays closed (a late request of this config
	// gets 503); one that was opened has its keys retired.
	h.opened.Do(func() { h.openErr = errors.New("authgate_issuer: the config was unloaded") })
	if h.openErr == nil && h.iss != nil {
		h.iss.RetireKeys()
	}
	if h.alive != nil {
		h.alive()
	}
	if h.release != nil {
		h.release()
	}
	return nil
}

// ServeHTTP answers the issuer's own paths and passes other requests on.
// OAuth errors are written directly as RFC 6749 JSON (they are part of the
// protocol), not routed through handle_errors.
func (h *IssuerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.iss.Owns(r.URL.Path) {
		stripUntrustedClientCert(r, h.ClientCertHeader)
		return next.ServeHTTP(w, r)
	}
	if err := h.open(); err != nil {
		// An RFC 6749 JSON error like every other answer of these paths
		// (the cause was logged when the store failed to open).
		h.logger.Error("issuer unavailable", zap.Error(err))
		issuer.WriteUnavailable(w)
		return nil
	}
	client, _ := clientIP(r)
	r, err := forwardedClientCert(r, h.ClientCertHeader)
	if err != nil {
		issuer.WriteInvalidRequest(w, err.Error())
		return nil
	}
	h.iss.Handle(w, r, client)
	return nil
}

// localIssuer adapts the handler's issuer to gateway.LocalIssuer: it opens
// the store on first use and maps the error sentinels.
type localIssuer struct{ h *IssuerHandler }

func (l localIssuer) IssuerURL() string { return l.h.iss.IssuerURL() }

func (l localIssuer) ResolveKeys(ctx context.Context, kid, alg string) ([]*token.Key, error) {
	if err := l.h.open(); err != nil {
		return nil, fmt.Errorf("%w: %v", token.ErrKeysUnavailable, err)
	}
	return l.h.iss.ResolveKeys(ctx, kid, alg)
}

func (l localIssuer) LookupOpaque(ctx context.Context, tok string) (*token.Claims, error) {
	if err := l.h.open(); err != nil {
		return nil, err
	}
	return l.h.iss.LookupOpaque(ctx, tok)
}

func (l localIssuer) AddressBound(c *token.Claims) bool { return l.h.iss.AddressBound(c) }

func (l localIssuer) Admit(c *token.Claims, client netip.Addr) error {
	if err := l.h.open(); err != nil {
		return err
	}
	return l.h.iss.Admit(c, client)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*IssuerHandler)(nil)
	_ caddy.Validator             = (*IssuerHandler)(nil)
	_ caddy.CleanerUpper          = (*IssuerHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*IssuerHandler)(nil)
	_ gateway.LocalIssuer         = localIssuer{}
)
