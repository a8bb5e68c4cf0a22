// Package gateway is authgate's request pipeline in plain net/http: IP check,
// token extraction, verification (through the verified-token cache), the
// route's policy and rules, and identity headers. The Caddy module wraps it.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// IPFilter decides which client addresses may reach the route
// (*ipfilter.Dynamic implements it).
type IPFilter interface {
	Allowed(netip.Addr) bool
	Explain(netip.Addr) (allowed bool, rule string)
}

// LocalIssuers finds in-process issuers (the module resolves them lazily,
// once every handler of the config was provisioned).
type LocalIssuers interface {
	// ByURL returns the local issuer whose "iss" is url, or nil.
	ByURL(url string) LocalIssuer
	// All returns every local issuer this gateway trusts, for opaque tokens.
	All() []LocalIssuer
}

// Config is a gateway route's complete configuration.
type Config struct {
	// Policy: algorithms, issuers, audiences, leeway, size limit.
	Policy token.Policy
	// Keys routes a token's issuer to its key source. Tokens from a local
	// issuer use that issuer's keys instead.
	Keys token.IssuerKeys
	// Local issuers, if any.
	Local LocalIssuers
	// Sources where tokens are looked for; empty means DefaultTokenSources.
	Sources []TokenSource
	// Rules on scopes and claims.
	Rules Rules
	// Headers forwarded upstream from claims.
	Headers []HeaderMapping
	// StripToken removes the token before the request goes upstream.
	StripToken bool
	// Optional lets requests without a token through anonymously.
	Optional bool
	// Cache of verified tokens; nil disables caching.
	Cache *Cache
	// Introspect resolves opaque tokens that no local issuer knows through a
	// remote RFC 7662 endpoint (with its own hashed cache); nil: none.
	Introspect *Introspector
	// IP filter, checked before any token work; nil allows every address.
	IP IPFilter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DPoP: sender-constrained tokens (binding_dpop.go).
	DPoP DPoPConfig
	// Login enables browser sign-in: a request without a token is
	// authorized by its session (login*.go, session_authorize.go).
	Login *Login
	// Assertion, when set, sends a signed JWT of the identity upstream.
	Assertion *Assertion
}

// Gateway authorizes requests for one route. It is safe for concurrent use.
type Gateway struct {
	cfg      Config
	strip    []string // identity header names, canonical
	dpopAlgs string   // algs of the DPoP challenge; "" when DPoP is off
}

// New validates cfg and builds a Gateway.
func New(cfg Config) (*Gateway, error) {
	if len(cfg.Sources) == 0 {
		cfg.Sources = DefaultTokenSources
	}
	for i, s := range cfg.Sources {
		if err := s.Validate(); err != nil {
			return nil, err
		}
		if s.Kind == "header" {
			cfg.Sources[i].Name = http.CanonicalHeaderKey(s.Name)
		}
	}
	if err := token.CheckAlgorithms(cfg.Policy.Algorithms); err != nil {
		return nil, err
	}
	if cfg.Keys == nil && cfg.Local == nil && cfg.Introspect == nil {
		return nil, errors.New("no key source: configure key, hmac_secret, jwks, issuer or introspect")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gateway{cfg: cfg}
	if err := g.setupDPoP(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, h := range cfg.Headers {
		name := http.CanonicalHeaderKey(h.Name)
		if name == "" || h.Claim == "" {
			return nil, fmt.Errorf("header mapping %d needs a name and a claim", i)
		}
		if seen[name] {
			return nil, fmt.Errorf("header %s is mapped twice", name)
		}
		seen[name] = true
		g.cfg.Headers[i].Name = name
		g.strip = append(g.strip, name)
	}
	if cfg.Assertion != nil {
		name := http.CanonicalHeaderKey(cfg.Assertion.Header)
		if name == "" || seen[name] {
			return nil, fmt.Errorf("identity_header %q is empty or also mapped from a claim", cfg.Assertion.Header)
		}
		g.cfg.Assertion.Header = name
		g.strip = append(g.strip, name)
	}
	for _, rule := range cfg.Rules.Claims {
		if rule.Path == "" || len(rule.Values) == 0 {
			return nil, errors.New("a claim rule needs a path and at least one value")
		}
	}
	return g, nil
}

// Decision is an authorized request's outcome.
type Decision struct {
	// Claims of the caller; nil for an anonymous request (optional mode).
	Claims *token.Claims
	// Cached reports a verified-token (or introspection) cache hit.
	Cached bool
	// VerifyTime is the time spent verifying (zero on a cache hit).
	VerifyTime time.Duration
	// Session: the identity came from a browser session.
	Session bool
	// SetCookie, when set, is a new session cookie value to send back
	// (`session cookie` after a refresh).
	SetCookie string
}

// Authorize runs the pipeline for r from client address client. On success
// the identity headers are set on r (and the token stripped if configured);
// on every path, client-supplied copies of the identity headers (and request
// trailers of the same names) are removed first, so a client can never
// inject identity.
func (g *Gateway) Authorize(r *http.Request, client netip.Addr) (Decision, *Error) {
	var f found
	d, e := g.authorize(r, client, &f)
	if e != nil {
		g.dpopChallenge(e, f)
	}
	return d, e
}

func (g *Gateway) authorize(r *http.Request, client netip.Addr, f *found) (Decision, *Error) {
	for _, name := range g.strip {
		delete(r.Header, name)
	}
	stripTrailers(r, g.strip)
	if g.cfg.IP != nil && !g.cfg.IP.Allowed(client) {
		_, rule := g.cfg.IP.Explain(client)
		return Decision{}, &Error{Status: http.StatusForbidden, Reason: ReasonIPDenied,
			Description: "client address is not allowed", Rule: rule}
	}
	var e *Error
	*f, e = extract(r, g.cfg.Sources)
	if e != nil {
		return Decision{}, e
	}
	if f.src == nil {
		if g.cfg.Login != nil {
			d, e := g.authorizeSession(r, client)
			return g.withAssertion(r, d, e)
		}
		if g.cfg.Optional {
			return Decision{}, nil
		}
		return Decision{}, errNoToken()
	}

	now := g.cfg.Now()
	var d Decision
	claims, bound, cached := g.cfg.Cache.Get(f.token, now)
	var local LocalIssuer
	var remote remoteVerdict
	if cached {
		// The verdict holds only while the in-process issuer instance that
		// vouched for it (or its absence) is still the one this config
		// trusts: a reload that removed the issuer or changed its store
		// makes the token verify again, like an uncached one.
		if local = g.localFor(claims.Issuer); local != bound {
			cached = false
		}
	}
	if cached {
		d.Cached = true
	} else if c, err, ok := g.remoteHit(f.token, now); ok {
		if err != nil {
			return Decision{}, tokenError(err)
		}
		claims, remote, d.Cached = c, remoteCached, true
	} else {
		if !validToken(f.token) {
			return Decision{}, errInvalidRequest(ReasonMalformed, "the token is not a b64token (RFC 6750 §2.1)")
		}
		start := time.Now()
		var err error
		claims, local, remote, err = g.verify(r.Context(), f.token)
		d.Cached = remote == remoteCached
		d.VerifyTime = time.Since(start)
		if err != nil {
			return Decision{}, tokenError(err)
		}
	}
	if te := g.cfg.Policy.Check(claims, now); te != nil {
		return Decision{}, withIdentity(tokenError(te), claims)
	}
	if !cached && remote == notRemote {
		// Introspected verdicts live in the introspector's hashed cache only.
		g.cfg.Cache.Put(f.token, claims, local)
	}
	if local != nil {
		if earlyData(r) && local.AddressBound(claims) {
			// The client's IP filter cannot be judged on a 0-RTT address.
			return Decision{}, withIdentity(errTooEarly(), claims)
		}
		if err := local.Admit(claims, client); err != nil {
			if te := (*token.Error)(nil); errors.As(err, &te) && te.Reason == token.ReasonKeysUnavailable {
				return Decision{}, withIdentity(tokenError(err), claims) // 503: the issuer's store is out of reach
			}
			e := errInvalidToken(ReasonNotAdmitted, err.Error())
			return Decision{}, withIdentity(e, claims)
		}
	}
	if e := checkCertificateBinding(r, claims); e != nil {
		return Decision{}, withIdentity(e, claims)
	}
	if e := g.bindDPoP(r, *f, claims, now); e != nil {
		return Decision{}, withIdentity(e, claims)
	}
	if e := g.cfg.Rules.check(claims); e != nil {
		return Decision{}, e
	}
	if e := setIdentity(r.Header, g.cfg.Headers, claims); e != nil {
		return Decision{}, e
	}
	if g.cfg.StripToken {
		f.strip(r)
	}
	d.Claims = claims
	if g.cfg.Assertion == nil { // the common case, kept off a non-inlined call
		return d, nil
	}
	return g.withAssertion(r, d, nil)
}

// earlyData reports a TLS 0-RTT request, whose source address is not
// verified yet (as Caddy's client_ip matcher judges it).
func earlyData(r *http.Request) bool {
	return r.TLS != nil && !r.TLS.HandshakeComplete
}

// verify checks a token that missed the cache: a JWT by signature, an opaque
// token (no dots) by asking the local issuers, then the introspection
// endpoint if one is configured. It returns the in-process issuer that
// vouched for the token, if any, to bind the cache entry to, and whether the
// claims came from introspection (which keeps its own cache).
func (g *Gateway) verify(ctx context.Context, tok string) (*token.Claims, LocalIssuer, remoteVerdict, error) {
	if strings.IndexByte(tok, '.') < 0 {
		if g.cfg.Introspect != nil {
			return g.resolveOpaque(ctx, tok)
		}
		if g.cfg.Local != nil {
			c, local, err := g.lookupOpaque(ctx, tok)
			return c, local, notRemote, err
		}
	}
	c, err := token.VerifySignature(ctx, tok, &g.cfg.Policy, g.keysFor)
	if err != nil {
		return nil, nil, notRemote, err
	}
	return c, g.localFor(c.Issuer), notRemote, nil
}

func (g *Gateway) keysFor(iss string) (token.KeyResolver, error) {
	if local := g.localFor(iss); local != nil {
		return local, nil
	}
	if g.cfg.Keys == nil {
		return nil, &token.Error{Reason: token.ReasonIssuer, Description: fmt.Sprintf("issuer %q is not trusted", iss)}
	}
	return g.cfg.Keys(iss)
}

func (g *Gateway) localFor(iss string) LocalIssuer {
	if g.cfg.Local == nil {
		return nil
	}
	return g.cfg.Local.ByURL(iss)
}

func (g *Gateway) lookupOpaque(ctx context.Context, tok string) (*token.Claims, LocalIssuer, error) {
	if len(tok) > g.cfg.Policy.MaxBytes() {
		return nil, nil, &token.Error{Reason: token.ReasonOversized, Description: "token is too large"}
	}
	for _, local := range g.cfg.Local.All() {
		c, err := local.LookupOpaque(ctx, tok)
		if err == nil {
			return c, local, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, nil, &token.Error{Reason: token.ReasonKeysUnavailable, Description: "token store is unavailable", Err: err}
		}
	}
	return nil, nil, &token.Error{Reason: token.ReasonUnknownKey, Description: "unknown or expired token"}
}

// tokenError maps a verification failure to the HTTP answer: 503 when keys
// are unavailable (fail closed, the client may retry), 401 otherwise.
func tokenError(err error) *Error {
	var te *token.Error
	if !errors.As(err, &te) {
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Reason: "error", Description: "token could not be verified", Err: err}
	}
	if te.Reason == token.ReasonKeysUnavailable {
		e := &Error{Status: http.StatusServiceUnavailable, Reason: string(te.Reason), Description: te.Description, RetryAfter: 5, Err: te.Err}
		var ra interface{ RetryAfterSeconds() int }
		if errors.As(te.Err, &ra) {
			e.RetryAfter = ra.RetryAfterSeconds()
		}
		return e
	}
	return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Reason: string(te.Reason), Description: te.Description, Err: te.Err}
}

func withIdentity(e *Error, c *token.Claims) *Error {
	e.Subject, e.ClientID = c.Subject, c.ClientID
	return e
}
