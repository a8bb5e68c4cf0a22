// Package issuer is authgate's OAuth 2.0 authorization server for API
// clients: the client credentials grant, RFC 8693 token exchange (for
// downscoping), RFC 7662 introspection, RFC 7009 revocation, RFC 8414
// metadata and the JWKS. It is plain net/http; the Caddy module in package
// module wires the store and the client IP in.
package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/authgate/caddy-authgate/jwkscache"
	"github.com/authgate/caddy-authgate/token"
)

// Defaults.
const (
	DefaultPathPrefix     = "/oauth"
	DefaultSigningAlg     = token.ES256
	DefaultKeyRotation    = 30 * 24 * time.Hour
	DefaultAccessTokenTTL = time.Hour
	// DefaultRefreshTokenTTL is how long an unused refresh token lives.
	DefaultRefreshTokenTTL = 60 * 24 * time.Hour
	// DefaultRefreshFamilyLifetime is how long refresh tokens keep one
	// sign-in alive in all, however often they are rotated.
	DefaultRefreshFamilyLifetime = 180 * 24 * time.Hour
	// MinKeyRotation is the shortest key rotation period.
	MinKeyRotation = 2 * time.Second
)

// Well-known paths.
const (
	PathASMetadata   = "/.well-known/oauth-authorization-server"
	PathOIDCMetadata = "/.well-known/openid-configuration"
	// PathJWKS is the JWKS of an issuer without a path; an issuer URL with
	// a path serves it below that path (<path>/.well-known/jwks.json).
	PathJWKS = "/.well-known/jwks.json"
)

// Token type URNs (RFC 8693 §3).
const (
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

// Config configures an Issuer.
type Config struct {
	// Issuer is the "iss" of every token: an https (or http) URL without
	// query or fragment. Required.
	Issuer string
	// PathPrefix is where the OAuth endpoints live; default /oauth.
	PathPrefix string
	// SigningAlg is the JWS algorithm of new keys; default ES256.
	SigningAlg string
	// KeyRotation is how long a key signs before the next one takes over;
	// default 30 days, at least 2s.
	KeyRotation time.Duration
	// AccessTokenTTL is the default access token lifetime; default 1h,
	// 1s to 2147483647s.
	AccessTokenTTL time.Duration
	// Audience is the default "aud"; default the issuer URL.
	Audience []string
	// Clients are the registered clients. New hashes and clears every
	// SecretConfig.Plain. The store's clients join them at run time (see
	// ClientPollInterval); a config client wins over a store client with
	// the same id.
	Clients []ClientConfig
	// Store keeps signing keys, opaque tokens and revocations. When nil,
	// New only validates and builds; Open attaches the store later.
	Store Store
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives log events (never a secret or a token); default
	// none.
	Logger *slog.Logger
	// Realm is the HTTP Basic realm of invalid_client challenges; default
	// the issuer URL.
	Realm string
	// HashLimiter bounds concurrent slow-hash verifications; default the
	// process-wide limiter shared by every issuer.
	HashLimiter *HashLimiter
	// RateLimit is the default issuance limit of each client; nil means
	// DefaultRateLimit, the zero RateLimit no limit.
	RateLimit *RateLimit
	// JWKS fetches the clients' jwks_uri key sets (private_key_jwt,
	// self_signed_tls_client_auth); required when a client has one.
	JWKS *jwkscache.Cache
	// DPoPNonce makes the token endpoint require a server nonce in DPoP
	// proofs (RFC 9449 §8), sent in DPoP-Nonce.
	DPoPNonce bool
	// DPoPAlgorithms accepted in DPoP proofs; default
	// token.DefaultDPoPAlgorithms.
	DPoPAlgorithms []string
	// RotatedSecretTTL is how long a secret kept at an admin API rotation
	// works when the rotation names no expiry; default
	// DefaultRotatedSecretTTL.
	RotatedSecretTTL time.Duration
	// SignInConfig configures sign-in for people (users, pages, sessions).
	SignInConfig
	// RefreshTokenTTL is the default lifetime of a refresh token (each one
	// of a rotation); default 60 days.
	RefreshTokenTTL time.Duration
	// RefreshFamilyLifetime is the absolute lifetime of a refresh-token
	// family: no token of the family outlives the sign-in by more;
	// default 180 days.
	RefreshFamilyLifetime time.Duration
}

// Issuer serves the OAuth endpoints and is the gateway's in-process issuer.
type Issuer struct {
	iss        string
	issPath    string // path component of the issuer URL, without trailing slash
	origin     string // scheme://host of the issuer URL
	prefix     string
	realm      string
	defaultAud []string
	maxTTL     time.Duration
	alg        string
	rotation   time.Duration
	store      Store          // set by Open
	health     healthReporter // set by Open for a shared (networked) store, else nil
	now        func() time.Time
	logger     *slog.Logger

	clients *clientRegistry
	slow    *slowCache
	limiter *HashLimiter
	flight  singleflight.Group
	// hashHook, when set (tests), runs before each slow hash computation.
	hashHook func()
	keys     *keyManager
	dpop     dpopState
	idKeys   *keyManager // RS256 ID-token keys next to another signing_alg (id_keys.go); nil when not needed
	revoked  revocationSet
	revFeed  revocationFeed
	jwks     *jwkscache.Cache // clients' jwks_uri
	jwksOpts jwkscache.Options
	// clientAlgs are the config clients' signing algorithms other than alg,
	// each signed by its own key manager in algKeys (keys_per_alg.go).
	clientAlgs []string
	algKeys    map[string]*keyManager
	// notBefore holds the per-client / per-user revocation instants.
	notBefore notBeforeSet
	// rotatedSecretTTL is how long a kept secret works by default.
	rotatedSecretTTL time.Duration
	// knownScopes are the scopes store clients may be given (admin API).
	knownScopes []string
	// adminUsers serialises the admin API's user edits (the user store
	// has no atomic update).
	adminUsers sync.Mutex

	signInState    // people sign-in (signin_config.go)
	refreshTTL     time.Duration
	familyLifetime time.Duration

	runOnce sync.Once
}

// New validates cfg and builds the Issuer (client secrets are hashed here).
// With cfg.Store set it also opens it (see Open) and the Issuer is ready;
// otherwise call Open before serving. Call Run to keep keys rotating and
// revocations in sync.
func New(ctx context.Context, cfg Config) (*Issuer, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("issuer: %q must be an http(s) URL without query, fragment or user info", cfg.Issuer)
	}
	i := &Issuer{
		iss:     cfg.Issuer,
		issPath: strings.TrimSuffix(u.Path, "/"),
		origin:  u.Scheme + "://" + u.Host,
		prefix:  cfg.PathPrefix,
		realm:   cfg.Realm,
		now:     cfg.Now,
		logger:  cfg.Logger,
		slow:    newSlowCache(5*time.Minute, 4096),
		limiter: cfg.HashLimiter,

		rotatedSecretTTL: cfg.RotatedSecretTTL,
	}
	for s := range cfg.ScopeDescriptions {
		i.knownScopes = append(i.knownScopes, s)
	}
	if i.limiter == nil {
		i.limiter = sharedHashLimiter
	}
	if i.now == nil {
		i.now = time.Now
	}
	if i.logger == nil {
		i.logger = slog.New(slog.DiscardHandler)
	}
	if i.realm == "" {
		i.realm = cfg.Issuer
	}
	if i.prefix == "" {
		i.prefix = DefaultPathPrefix
	}
	if !strings.HasPrefix(i.prefix, "/") || strings.HasSuffix(i.prefix, "/") || strings.ContainsAny(i.prefix, "?#") {
		return nil, fmt.Errorf("issuer: path_prefix %q must start with / and not end with /", i.prefix)
	}
	alg := cfg.SigningAlg
	if alg == "" {
		alg = DefaultSigningAlg
	}
	if err := CheckSigningAlg(alg); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	rotation := cfg.KeyRotation
	if rotation == 0 {
		rotation = DefaultKeyRotation
	}
	if rotation < MinKeyRotation {
		return nil, fmt.Errorf("issuer: key_rotation must be at least %s", MinKeyRotation)
	}
	ttl := cfg.AccessTokenTTL
	if ttl == 0 {
		ttl = DefaultAccessTokenTTL
	}
	if !validTTL(ttl) {
		return nil, errors.New("issuer: access_token_ttl must be between 1s and 2147483647s")
	}
	ttl = ttl.Truncate(time.Second)
	i.defaultAud = slices.Clone(cfg.Audience)
	if len(i.defaultAud) == 0 {
		i.defaultAud = []string{cfg.Issuer}
	}
	i.maxTTL = ttl
	defLimit := DefaultRateLimit
	if cfg.RateLimit != nil {
		defLimit = *cfg.RateLimit
	}
	build := func(cc *ClientConfig) (*client, error) { return buildClient(cc, i.defaultAud, ttl, defLimit) }
	config := make(map[string]*client, len(cfg.Clients))
	for idx := range cfg.Clients {
		c, err := build(&cfg.Clients[idx])
		if err != nil {
			return nil, fmt.Errorf("issuer: %w", err)
		}
		if _, dup := config[c.id]; dup {
			return nil, fmt.Errorf("issuer: client %q is defined twice", c.id)
		}
		config[c.id] = c
		if c.ttl > i.maxTTL {
			i.maxTTL = c.ttl
		}
	}
	if err := i.setRefreshLifetimes(cfg.RefreshTokenTTL, cfg.RefreshFamilyLifetime); err != nil {
		return nil, err
	}
	for _, c := range config {
		if err := i.resolveIDTokenAlg(c, alg); err != nil {
			return nil, fmt.Errorf("issuer: client %q: %w", c.id, err)
		}
	}
	i.alg, i.rotation = alg, rotation
	i.clientAlgs = clientSigningAlgs(config, alg)
	if i.jwks = cfg.JWKS; i.jwks == nil && len(jwksURIs(config)) > 0 {
		return nil, errors.New("issuer: a client has a jwks_uri but no JWKS cache is configured")
	}
	if i.dpop, err = newDPoPState(&cfg); err != nil {
		return nil, err
	}
	if err := i.initSignIn(&cfg.SignInConfig); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if i.clients, err = newClientRegistry(cfg.Issuer, config, build, i.buildMetadata, i.logger); err != nil {
		return nil, err
	}
	if cfg.Store != nil {
		if err := i.Open(ctx, cfg.Store); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// Open attaches the store: it loads (or, on the very first start, creates)
// the signing keys and loads the revocations and the store's clients. New
// validates and touches no storage, so a config can be checked (`caddy
// validate`) next to a running server that holds the store's lock; Open
// must succeed before the issuer serves.
func (i *Issuer) Open(ctx context.Context, st Store) error {
	i.store = st
	i.health = healthOf(st)
	i.keys = newKeyManager(st, i.iss, i.alg, i.rotation, i.maxTTL, i.now, i.logger)
	if err := i.keys.refresh(ctx); err != nil {
		return fmt.Errorf("issuer: signing keys: %w", err)
	}
	if err := i.openAlgKeys(ctx); err != nil {
		return fmt.Errorf("issuer: signing keys: %w", err)
	}
	if err := i.openIDKeys(ctx, st); err != nil {
		return fmt.Errorf("issuer: ID-token keys: %w", err)
	}
	if err := i.loadRevocations(ctx); err != nil {
		return fmt.Errorf("issuer: revocations: %w", err)
	}
	if err := i.loadNotBefores(ctx); err != nil {
		return fmt.Errorf("issuer: revocations of clients and users: %w", err)
	}
	// Unreadable store clients only keep those clients out (Run retries);
	// the config clients serve regardless.
	if err := i.clients.sync(ctx, st); err != nil {
		i.logger.LogAttrs(ctx, slog.LevelError, "reading the store's clients failed", slog.String("error", err.Error()))
	}
	return nil
}

// IssuerURL returns the issuer's "iss".
func (i *Issuer) IssuerURL() string { return i.iss }

// JWKSMaxAge is the max-age of the JWKS response, which is also how long a
// new key is published before it signs.
func (i *Issuer) JWKSMaxAge() time.Duration { return i.keys.lead }

// PublishedKeyIDs lists the kids of every key currently published (HMAC keys
// included, though they never appear in the JWKS), oldest first.
func (i *Issuer) PublishedKeyIDs() []string {
	return slices.Clone(i.keys.current(context.Background()).kids)
}

// SigningKeyID is the kid of the key that signs now.
func (i *Issuer) SigningKeyID() string {
	return i.keys.current(context.Background()).signer.KeyID()
}

// Run keeps the key schedule, the revocation list and the clients current
// until ctx is done. It returns at once when called a second time.
func (i *Issuer) Run(ctx context.Context) {
	first := false
	i.runOnce.Do(func() { first = true })
	if !first {
		return
	}
	go i.keys.run(ctx)
	i.runAlgKeys(ctx)
	if i.idKeys != nil {
		go i.idKeys.run(ctx)
	}
	go i.pollClients(ctx)
	if i.users.watch != nil {
		go i.users.watch.run(ctx, UsersFileInterval)
	}
	i.followChanges(ctx)
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := i.loadRevocations(ctx); err != nil && ctx.Err() == nil {
				i.logger.LogAttrs(ctx, slog.LevelWarn, "reloading revocations failed", slog.String("error", err.Error()))
			}
			i.revoked.prune(i.now().Unix())
		}
	}
}

// Owns reports whether path is one of the issuer's endpoints.
func (i *Issuer) Owns(path string) bool {
	_, ok := i.route(path)
	return ok
}

type endpoint uint8

const (
	epToken endpoint = iota + 1
	epIntrospect
	epRevoke
	epMetadata
	epJWKS
	epUserinfo
)

func (i *Issuer) route(path string) (endpoint, bool) {
	if strings.HasPrefix(path, i.prefix) {
		if ep, ok := routeSignIn(path[len(i.prefix):]); ok {
			return ep, true
		}
		switch path[len(i.prefix):] {
		case "/token":
			return epToken, true
		case "/introspect", "/token/verify":
			return epIntrospect, true
		case "/revoke":
			return epRevoke, true
		case "/userinfo":
			return epUserinfo, true
		}
	}
	switch path {
	case i.jwksPath():
		return epJWKS, true
	case PathASMetadata + i.issPath, i.issPath + PathOIDCMetadata:
		return epMetadata, true
	}
	// OpenID Discovery's appended form for an issuer with a path (RFC 8414
	// §3.1 inserts, OpenID Discovery 1.0 §4 appends).
	if i.issPath != "" && path == PathOIDCMetadata+i.issPath {
		return epMetadata, true
	}
	return 0, false
}

// jwksPath is where the JWKS is served: under the issuer URL's path, so
// that issuers sharing an origin each publish their own keys.
func (i *Issuer) jwksPath() string { return i.issPath + PathJWKS }

// Paths lists every path the issuer answers, for collision checks between
// issuers that share an origin.
func (i *Issuer) Paths() []string {
	p := []string{
		i.prefix + "/token", i.prefix + "/introspect", i.prefix + "/token/verify", i.prefix + "/revoke", i.prefix + "/userinfo",
		i.jwksPath(), PathASMetadata + i.issPath, i.issPath + PathOIDCMetadata,
	}
	if i.issPath != "" {
		p = append(p, PathOIDCMetadata+i.issPath)
	}
	p = append(p, i.signInPaths()...)
	return p
}

// Origin is the scheme and host of the issuer URL, where its endpoints are.
func (i *Issuer) Origin() string { return i.origin }

// ServeHTTP serves the issuer's endpoints (404 for any other path), taking the
// client address from r.RemoteAddr.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !i.Handle(w, r, remoteAddr(r)) {
		http.NotFound(w, r)
	}
}

// Handle serves r when its path is one of the issuer's endpoints and reports
// whether it did. clientIP is the caller's address (as resolved by the
// server, honouring trusted proxies); per-client IP filters check it.
func (i *Issuer) Handle(w http.ResponseWriter, r *http.Request, clientIP netip.Addr) bool {
	ep, ok := i.route(r.URL.Path)
	if !ok {
		return false
	}
	if ep >= epAuthorize {
		i.serveSignIn(w, r, ep, clientIP)
		return true
	}
	switch ep {
	case epUserinfo:
		i.serveUserinfo(w, r)
		return true
	case epToken, epIntrospect, epRevoke:
		if r.Method != http.MethodPost {
			writeMethodNotAllowed(w, http.MethodPost)
			return true
		}
	default:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeMethodNotAllowed(w, "GET, HEAD")
			return true
		}
	}
	switch ep {
	case epToken:
		i.serveToken(w, r, clientIP)
	case epIntrospect:
		i.serveIntrospect(w, r, clientIP)
	case epRevoke:
		i.serveRevoke(w, r, clientIP)
	case epMetadata:
		i.serveMetadata(w, r)
	case epJWKS:
		i.serveJWKS(w, r)
	}
	return true
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
