package module

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/ipfilter"
	"github.com/authgate/caddy-authgate/jwkscache"
	"github.com/authgate/caddy-authgate/token"
)

func init() {
	caddy.RegisterModule(new(Gateway))
	httpcaddyfile.RegisterHandlerDirective("authgate", parseGatewayCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("authgate", httpcaddyfile.After, "basic_auth")
}

// Gateway is the `authgate` HTTP handler: it checks the client address,
// validates the bearer token, enforces scopes and claims, and forwards the
// caller's identity upstream as request headers. Requests it refuses never
// reach the next handler.
type Gateway struct {
	// Issuers lists the accepted `iss` values. An issuer configured in the
	// same Caddy (authgate_issuer) is trusted in-process; any other issuer's
	// keys are found through OpenID/OAuth discovery unless `keys`,
	// `hmac_secret` or `jwks` give them explicitly.
	Issuers []string `json:"issuers,omitempty"`

	// JWKS lists key set URLs, fetched, cached and refreshed in the background.
	JWKS []JWKSConfig `json:"jwks,omitempty"`

	// InsecureHTTP accepts `http://` issuer and JWKS URLs to hosts other than
	// loopback. Keys fetched that way can be replaced by anyone on the path,
	// so without it such URLs are a configuration error; with it each one is
	// logged as a warning. An https issuer's discovered jwks_uri must be
	// https whatever this says.
	InsecureHTTP bool `json:"insecure_http,omitempty"`

	// Keys lists files with public keys: PEM (public key or certificate), a
	// JWK or a JWKS.
	Keys []string `json:"keys,omitempty"`

	// Introspect resolves opaque tokens (no dots) through a remote RFC 7662
	// endpoint, with a bounded cache keyed by a hash of the token. JWTs keep
	// the local path.
	Introspect *IntrospectConfig `json:"introspect,omitempty"`

	// HMACSecret is a shared secret (at least 32 bytes) for HS256/384/512.
	// Accepts `{env.NAME}` and `{file.PATH}` placeholders.
	HMACSecret string `json:"hmac_secret,omitempty"`

	// Algorithms allowed. Default: every algorithm the configured keys support
	// (HS* only with hmac_secret or an in-process HMAC issuer).
	Algorithms []string `json:"algorithms,omitempty"`

	// Audiences: the token's `aud` (string or array) must contain one of
	// them. Empty skips the check.
	Audiences []string `json:"audiences,omitempty"`

	// RequireTyp accepts only JWTs typed as RFC 9068 access tokens: header
	// `typ` "at+jwt" or "application/at+jwt". It keeps ID tokens and other
	// JWTs of a trusted issuer out. Without it, a typ is optional, but one
	// that declares another kind of JWT ("logout+jwt", "secevent+jwt", ...)
	// is refused anyway. Opaque tokens of an in-process issuer are access
	// tokens by construction.
	RequireTyp bool `json:"require_typ,omitempty"`

	// Leeway tolerated on exp, nbf and iat. Default 30s; 0 to 10m.
	Leeway *caddy.Duration `json:"leeway,omitempty"`

	// TokenSources say where tokens are looked for. Default:
	// `Authorization: Bearer <token>`.
	TokenSources []TokenSourceConfig `json:"token_sources,omitempty"`

	// Scopes that must all be present (from `scope` or `scp`).
	Scopes []string `json:"scopes,omitempty"`

	// ScopeAny: at least one of these scopes must be present.
	ScopeAny []string `json:"scope_any,omitempty"`

	// Claims rules: the claim at each dotted path must equal one of the
	// values, or for arrays contain one.
	Claims []ClaimRuleConfig `json:"claims,omitempty"`

	// Headers forwards claims upstream as request headers. Every header
	// named here is removed from the incoming request first, on every path.
	Headers []HeaderConfig `json:"headers,omitempty"`

	// StripToken removes the token from the request before it goes upstream.
	StripToken bool `json:"strip_token,omitempty"`

	// Optional lets requests without a token through anonymously (identity
	// headers still stripped). A request with a bad token is still refused.
	Optional bool `json:"optional,omitempty"`

	// CacheSize of the verified-token cache: at most this many tokens,
	// 0 to 1000000. Default 10000; 0 disables it. Memory follows the
	// entries in use, not this bound.
	CacheSize *int `json:"cache_size,omitempty"`

	// Realm for WWW-Authenticate. Default: the request host.
	Realm string `json:"realm,omitempty"`

	// AllowIP lists addresses, ranges and CIDRs allowed to reach the route
	// (empty: all, unless denied).
	AllowIP []string `json:"allow_ip,omitempty"`
	// DenyIP lists addresses, ranges and CIDRs refused; deny wins over allow.
	DenyIP []string `json:"deny_ip,omitempty"`
	// AllowIPFiles are files of allow entries, one per line, polled every 5s;
	// a change applies once two polls saw it unchanged. Replace them
	// atomically (write a temporary file, rename it over the list).
	AllowIPFiles []string `json:"allow_ip_files,omitempty"`
	// DenyIPFiles are files of deny entries, one per line, reloaded like
	// AllowIPFiles.
	DenyIPFiles []string `json:"deny_ip_files,omitempty"`

	// ClientCertHeader names the RFC 9440 header (e.g. Client-Cert) in which
	// a TLS-terminating proxy forwards the client certificate, for
	// certificate-bound tokens (cnf x5t#S256). It is read only from peers in
	// the server's trusted_proxies and removed from any other request.
	// Default: none (the TLS connection's own client certificate).
	ClientCertHeader string `json:"client_cert_header,omitempty"`
	// DPoP (RFC 9449) is optional (default: a DPoP-bound token needs
	// `Authorization: DPoP` and a valid proof, plain Bearer tokens work),
	// required (plain Bearer tokens are refused) or off (the DPoP scheme
	// is not read; DPoP-bound tokens are refused).
	DPoP string `json:"dpop,omitempty"`
	// Login enables browser sign-in (authorization code + PKCE, sessions,
	// refresh, logout) for requests without a bearer token.
	Login *LoginConfig `json:"login,omitempty"`
	// PassAccessToken sends a browser session's access token upstream as
	// `Authorization: Bearer <token>` (bearer requests keep theirs unless
	// strip_token).
	PassAccessToken bool `json:"pass_access_token,omitempty"`
	// IdentityHeader names a request header that carries a short-lived
	// ES256 JWT of the caller's identity (iss the gateway's origin, aud the
	// request host, sub and the claims of `header` mappings), for sessions
	// and bearer tokens alike; its keys are published at
	// /.well-known/authgate/jwks.json.
	IdentityHeader string `json:"identity_header,omitempty"`
	// IdentityAudience is the assertion's aud. Default: the request host.
	IdentityAudience string `json:"identity_audience,omitempty"`

	gw      *gateway.Gateway
	login   *gateway.Login
	assert  *gateway.Assertion
	ipf     *ipfilter.Dynamic // nil without IP lists
	logger  *zap.Logger
	metrics *gatewayMetrics
	routing *keyRouting
	release []func()
}

// JWKSConfig is one key set URL and its cache knobs.
type JWKSConfig struct {
	// URL of the JWKS document.
	URL string `json:"url"`
	// RefreshMin is the shortest time a fetched set is kept. Default 5m;
	// 1s to 24h.
	RefreshMin caddy.Duration `json:"refresh_min,omitempty"`
	// RefreshMax is the longest time a fetched set is kept. Default 24h;
	// 1s to 168h, and not below RefreshMin.
	RefreshMax caddy.Duration `json:"refresh_max,omitempty"`
	// RefetchInterval is the least time between two fetches caused by
	// unknown kids. Default 30s; 1s to 1h.
	RefetchInterval caddy.Duration `json:"refetch_interval,omitempty"`
	// MaxStale is how long the last good set keeps serving while the URL
	// fails. Default 24h; 1s to 720h (30 days).
	MaxStale caddy.Duration `json:"max_stale,omitempty"`
	// Timeout of one fetch. Default 10s; 100ms to 1m.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// TokenSourceConfig is one place a token may be presented.
type TokenSourceConfig struct {
	// Kind is header, query or cookie.
	Kind string `json:"kind"`
	// Name of the header, query parameter or cookie.
	Name string `json:"name"`
	// Scheme before the token in a header (e.g. Bearer); case-insensitive.
	Scheme string `json:"scheme,omitempty"`
}

// ClaimRuleConfig requires a claim value.
type ClaimRuleConfig struct {
	// Path is the claim's dotted path, e.g. realm_access.roles.
	Path string `json:"path"`
	// Values: the claim must equal (or, for arrays, contain) one of them.
	Values []string `json:"values"`
}

// HeaderConfig forwards one claim as a request header.
type HeaderConfig struct {
	// Name of the header set on the upstream request.
	Name string `json:"name"`
	// Claim is the dotted claim path whose value is forwarded.
	Claim string `json:"claim"`
}

// CaddyModule returns the Caddy module information.
func (*Gateway) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.authgate", New: func() caddy.Module { return new(Gateway) }}
}

// Provision wires key sources, caches, the IP filter and metrics. It does
// not fetch anything: key sets are fetched when the authgate app starts (so
// `caddy validate` stays offline) or on first use.
func (h *Gateway) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.warnCleartext(h.logger)
	if err := checkClientCertHeader(h.ClientCertHeader); err != nil {
		return fmt.Errorf("authgate: %w", err)
	}
	app, err := authgateApp(ctx)
	if err != nil {
		return err
	}
	h.defaultLoginIssuer()
	h.metrics, err = newGatewayMetrics(ctx.GetMetricsRegistry())
	if err != nil {
		return err
	}
	routing, err := h.buildKeyRouting(ctx, app)
	if err != nil {
		return err
	}
	h.routing = routing
	app.onStart(routing.start)

	if err := gateway.CheckCacheSize(h.cacheSize()); err != nil {
		return fmt.Errorf("authgate: %w", err)
	}
	cache, release, err := sharedTokenCache(routing.fingerprint, h.cacheSize())
	if err != nil {
		return err
	}
	h.release = append(h.release, release)

	h.ipf, err = h.ipFilter(ctx)
	if err != nil {
		return err
	}
	leeway := token.DefaultLeeway
	if h.Leeway != nil {
		leeway = time.Duration(*h.Leeway)
	}
	cfg := gateway.Config{
		Policy: token.Policy{
			Algorithms: h.Algorithms,
			Issuers:    h.Issuers,
			Audiences:  h.Audiences,
			Leeway:     leeway,
			RequireTyp: h.RequireTyp,
		},
		Keys:       routing.keys(),
		Local:      routing,
		Rules:      gateway.Rules{Scopes: h.Scopes, ScopeAny: h.ScopeAny},
		StripToken: h.StripToken,
		Optional:   h.Optional,
		Cache:      cache,
	}
	if len(h.Algorithms) == 0 {
		cfg.Policy.Algorithms = routing.defaultAlgorithms()
	}
	if h.ipf != nil {
		cfg.IP = h.ipf
	}
	if h.Introspect != nil {
		in, release, err := h.Introspect.introspector()
		if err != nil {
			return err
		}
		h.release = append(h.release, release)
		cfg.Introspect = in
	}
	if cfg.DPoP, err = h.dpopConfig(app); err != nil {
		return err
	}
	for _, s := range h.TokenSources {
		cfg.Sources = append(cfg.Sources, gateway.TokenSource{Kind: s.Kind, Name: s.Name, Scheme: s.Scheme})
	}
	for _, c := range h.Claims {
		cfg.Rules.Claims = append(cfg.Rules.Claims, gateway.ClaimRule{Path: c.Path, Values: c.Values})
	}
	for _, hd := range h.Headers {
		cfg.Headers = append(cfg.Headers, gateway.HeaderMapping{Name: hd.Name, Claim: hd.Claim})
	}
	if err := h.provisionLogin(ctx, app, routing, &cfg); err != nil {
		return err
	}
	h.login, h.assert = cfg.Login, cfg.Assertion
	h.gw, err = gateway.New(cfg)
	if err != nil {
		return fmt.Errorf("authgate: %w", err)
	}
	if len(h.Audiences) == 0 {
		// RFC 8725 §3.9: without an audience, a token the issuer minted
		// for any other API is accepted here too.
		h.logger.Warn("authgate: no audience configured; tokens the trusted issuers minted for any audience are accepted (RFC 8725 §3.9)",
			zap.Strings("issuers", h.Issuers))
	}
	return nil
}

func (h *Gateway) cacheSize() int {
	if h.CacheSize == nil {
		return gateway.DefaultCacheSize
	}
	return *h.CacheSize
}

func (h *Gateway) ipFilter(ctx caddy.Context) (*ipfilter.Dynamic, error) {
	lists := ipfilter.Lists{Allow: h.AllowIP, Deny: h.DenyIP, AllowFiles: h.AllowIPFiles, DenyFiles: h.DenyIPFiles}
	if lists.Empty() {
		return nil, nil
	}
	d, err := ipfilter.NewDynamic(lists)
	if err != nil {
		return nil, fmt.Errorf("authgate: %w", err)
	}
	d.Watch(ctx, ipListReloadInterval, func(path string, err error) {
		if err != nil {
			h.logger.Error("IP list not reloaded; keeping the previous list", zap.String("file", path), zap.Error(err))
			return
		}
		h.logger.Info("IP list reloaded", zap.String("file", path))
	})
	return d, nil
}

// ipListReloadInterval is how often IP list files are checked for changes.
const ipListReloadInterval = 5 * time.Second

// Validate checks the configuration without side effects. The Caddyfile
// parser makes the same checks with file:line; these are for JSON configs.
func (h *Gateway) Validate() error {
	if err := gateway.CheckCacheSize(h.cacheSize()); err != nil {
		return fmt.Errorf("authgate: %w", err)
	}
	if err := h.checkConfig(); err != nil {
		return fmt.Errorf("authgate: %w", err)
	}
	if err := gateway.CheckDPoPMode(h.DPoP); err != nil {
		return fmt.Errorf("authgate: %w", err)
	}
	return nil
}

// validate checks the URL and the bounds of every knob (see
// jwkscache.CheckBound).
func (j JWKSConfig) validate() error {
	return errors.Join(jwkscache.CheckURL(j.URL), j.options().Validate())
}

// Cleanup releases the shared caches this handler held.
func (h *Gateway) Cleanup() error {
	for _, release := range h.release {
		release()
	}
	h.release = nil
	if h.routing != nil {
		h.routing.cleanup()
	}
	return nil
}

// ServeHTTP authorizes the request, then calls next; refusals become
// caddyhttp errors (with the challenge header already set) so handle_errors
// can restyle them.
func (h *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.ipf != nil {
		if err := earlyDataError(r); err != nil {
			return err
		}
	}
	client, _ := clientIP(r)
	r, err := forwardedClientCert(r, h.ClientCertHeader)
	if err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	if h.servesOwnPath(w, r, client) {
		return nil
	}
	d, e := h.gw.Authorize(r, client)
	if e != nil {
		h.metrics.refused(e)
		h.logRefusal(r, client, e)
		if h.answersBrowser(w, r, e) {
			return nil
		}
		e.SetHeaders(w.Header(), h.realm(r))
		return caddyhttp.Error(e.Status, e)
	}
	h.metrics.allowed(d)
	h.setSessionCookie(w, r, d)
	setUserPlaceholders(r, d.Claims)
	return next.ServeHTTP(w, r)
}

func (h *Gateway) logRefusal(r *http.Request, client netip.Addr, e *gateway.Error) {
	fields := []zap.Field{
		zap.Int("status", e.Status),
		zap.String("reason", e.Reason),
		zap.String("client_ip", client.String()),
		zap.String("method", r.Method),
		zap.String("uri", r.URL.Path),
	}
	if e.Description != "" {
		fields = append(fields, zap.String("detail", e.Description))
	}
	if e.Rule != "" {
		fields = append(fields, zap.String("rule", e.Rule))
	}
	if e.Subject != "" {
		fields = append(fields, zap.String("sub", e.Subject))
	}
	if e.ClientID != "" {
		fields = append(fields, zap.String("client_id", e.ClientID))
	}
	if e.Err != nil {
		fields = append(fields, zap.NamedError("cause", e.Err))
	}
	h.logger.Info("request refused", fields...)
}

func (h *Gateway) realm(r *http.Request) string {
	if h.Realm != "" {
		return h.Realm
	}
	if host, _, err := net.SplitHostPort(r.Host); err == nil {
		return host
	}
	return r.Host
}

// setUserPlaceholders serves {http.auth.user.id} (= sub), as basic_auth sets
// it, and {http.auth.user.<claim path>} for any claim, computed only when a
// placeholder is used. For an anonymous request (c == nil), and for a claim
// the token lacks (or that is null), the placeholder is known and empty, so
// config like `header_up X-Tenant {http.auth.user.tenant}` never forwards
// placeholder text.
func setUserPlaceholders(r *http.Request, c *token.Claims) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	repl.Map(func(key string) (any, bool) {
		const prefix = "http.auth.user."
		if !strings.HasPrefix(key, prefix) {
			return nil, false
		}
		if c == nil {
			return "", true
		}
		path := key[len(prefix):]
		if path == "id" {
			return c.Subject, true
		}
		v, ok := c.Claim(path)
		if !ok {
			return "", true
		}
		s, _ := gateway.RenderClaim(v)
		return s, true
	})
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = (*Gateway)(nil)
	_ caddy.Provisioner           = (*Gateway)(nil)
	_ caddy.Validator             = (*Gateway)(nil)
	_ caddy.CleanerUpper          = (*Gateway)(nil)
)
