package issuer

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/authgate/caddy-authgate/ipfilter"
)

// Client authentication methods (RFC 7591 names).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	// AuthNone is a public client's method: client_id only (RFC 7591).
	AuthNone = "none"
)

// Grant types.
const (
	GrantClientCredentials = "client_credentials"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	// GrantImplicit is the legacy implicit grant (response_type=token at
	// the authorization endpoint); never served by the token endpoint.
	GrantImplicit = "implicit"
	// DefaultGrantType is the grant of a client that names none; it is
	// always listed in grant_types_supported.
	DefaultGrantType = GrantClientCredentials
)

// Token formats.
const (
	FormatJWT    = "jwt"
	FormatOpaque = "opaque"
)

// ClientConfig registers one API client.
type ClientConfig struct {
	ID   string
	Name string
	// Secrets are the accepted secrets; several overlap during a rotation.
	Secrets []SecretConfig
	// AuthMethods are the client's authentication methods, names of
	// registered methods (client_auth.go): client_secret_basic and/or
	// client_secret_post; default both.
	AuthMethods []string
	// GrantTypes are the client's grants, types of registered grants
	// (grant.go): client_credentials and/or token exchange; default
	// client_credentials.
	GrantTypes []string
	// Scopes is the most the client may get.
	Scopes []string
	// Audience overrides the issuer's default audience.
	Audience []string
	// TokenFormat is jwt (default) or opaque.
	TokenFormat string
	// AccessTokenTTL overrides the issuer's default lifetime.
	AccessTokenTTL time.Duration
	// AllowIP and DenyIP restrict where the client may get and use tokens.
	AllowIP []string
	DenyIP  []string
	// Disabled refuses the client and every token it holds.
	Disabled bool
	// RateLimit overrides the issuer's issuance limit for this client; nil
	// means the issuer's, the zero RateLimit none.
	RateLimit *RateLimit
	// People sign-in (client_people.go).
	PeopleConfig
}

// SecretConfig is one accepted client secret: either Plain (hashed by New,
// which then clears the field) or Hash.
type SecretConfig struct {
	Plain string
	// Hash is "sha256:<hex>", a bcrypt hash or an argon2id PHC string.
	Hash string
	// Expires, when set, is when the secret stops working.
	Expires time.Time
}

// client is a provisioned client; immutable.
type client struct {
	id          string
	name        string // shown to people on the consent page
	secrets     []secretHash
	authMethods []string // names of clientAuthMethods (client_auth.go)
	grantTypes  []string // grant types of grantRegistry (grant.go)
	scopes      []string
	scopeSet    map[string]struct{}
	audience    []string
	format      string // FormatJWT or FormatOpaque
	ttl         time.Duration
	filter      *ipfilter.Filter
	disabled    bool
	issuance    *bucket // nil: no rate limit
	people              // sign-in settings (client_people.go)
}

// CheckTokenFormat refuses anything but jwt and opaque (the Caddyfile parser
// calls it too, for an error with file:line).
func CheckTokenFormat(f string) error {
	if f != FormatJWT && f != FormatOpaque {
		return errors.New("token_format must be jwt or opaque")
	}
	return nil
}

func validTTL(d time.Duration) bool {
	return d >= time.Second && d <= MaxTTL
}

// MaxTTL is the longest access token lifetime (2^31-1 seconds).
const MaxTTL = 2147483647 * time.Second

func buildClient(cc *ClientConfig, defAud []string, defTTL time.Duration, defLimit RateLimit) (*client, error) {
	if cc.ID == "" {
		return nil, errors.New("client without id")
	}
	if !utf8Valid(cc.ID) || strings.ContainsAny(cc.ID, ":\x00") || len(cc.ID) > 255 {
		return nil, fmt.Errorf("client %q: id must be at most 255 characters without ':'", cc.ID)
	}
	c := &client{id: cc.ID, name: cc.Name, disabled: cc.Disabled}
	for j := range cc.Secrets {
		s := &cc.Secrets[j]
		if (s.Plain == "") == (s.Hash == "") {
			return nil, fmt.Errorf("client %q: each secret needs exactly one of a value or a hash", cc.ID)
		}
		hashStr := s.Hash
		if s.Plain != "" {
			hashStr = HashSecret(s.Plain)
			s.Plain = "" // never keep the clear secret
		}
		h, err := parseSecretHash(hashStr)
		if err != nil {
			return nil, fmt.Errorf("client %q: %v", cc.ID, err)
		}
		h.expires = s.Expires
		c.secrets = append(c.secrets, h)
	}
	if err := c.people.build(cc); err != nil {
		return nil, fmt.Errorf("client %q: %w", cc.ID, err)
	}
	if len(c.secrets) == 0 && !cc.Disabled && !cc.Public {
		return nil, fmt.Errorf("client %q: no secret", cc.ID)
	}
	methods := cc.AuthMethods
	if len(methods) == 0 {
		methods = []string{AuthClientSecretBasic, AuthClientSecretPost}
		if cc.Public {
			methods = []string{AuthNone}
		}
	}
	for _, m := range methods {
		if clientAuthMethodByName(m) == nil {
			return nil, fmt.Errorf("client %q: unsupported auth method %q", cc.ID, m)
		}
		if !slices.Contains(c.authMethods, m) {
			c.authMethods = append(c.authMethods, m)
		}
	}
	grants := cc.GrantTypes
	if len(grants) == 0 {
		grants = []string{DefaultGrantType}
		if cc.Public {
			grants = []string{GrantAuthorizationCode}
		}
	}
	for _, g := range grants {
		if grantByType(g) == nil {
			return nil, fmt.Errorf("client %q: unsupported grant type %q", cc.ID, g)
		}
		if !slices.Contains(c.grantTypes, g) {
			c.grantTypes = append(c.grantTypes, g)
		}
	}
	if err := c.people.check(c.authMethods, c.grantTypes); err != nil {
		return nil, fmt.Errorf("client %q: %w", cc.ID, err)
	}
	c.scopeSet = make(map[string]struct{}, len(cc.Scopes))
	for _, s := range cc.Scopes {
		if !validScopeToken(s) {
			return nil, fmt.Errorf("client %q: invalid scope %q", cc.ID, s)
		}
		if _, dup := c.scopeSet[s]; dup {
			continue
		}
		c.scopeSet[s] = struct{}{}
		c.scopes = append(c.scopes, s)
	}
	c.audience = slices.Clone(cc.Audience)
	if len(c.audience) == 0 {
		c.audience = slices.Clone(defAud)
	}
	c.format = FormatJWT
	if cc.TokenFormat != "" {
		if err := CheckTokenFormat(cc.TokenFormat); err != nil {
			return nil, fmt.Errorf("client %q: %w", cc.ID, err)
		}
		c.format = cc.TokenFormat
	}
	c.ttl = cc.AccessTokenTTL
	if c.ttl == 0 {
		c.ttl = defTTL
	}
	if !validTTL(c.ttl) {
		return nil, fmt.Errorf("client %q: access_token_ttl must be between 1s and 2147483647s", cc.ID)
	}
	c.ttl = c.ttl.Truncate(time.Second)
	limit := defLimit
	if cc.RateLimit != nil {
		limit = *cc.RateLimit
	}
	if limit.N != 0 && (limit.N < 0 || limit.N > MaxRateLimitN || limit.Per < MinRateLimitPer || limit.Per > MaxRateLimitPer) {
		return nil, fmt.Errorf("client %q: rate_limit %s out of bounds (1 to %d per %s to %s)", cc.ID, limit, MaxRateLimitN, MinRateLimitPer, MaxRateLimitPer)
	}
	c.issuance = newBucket(limit)
	if len(cc.AllowIP) > 0 || len(cc.DenyIP) > 0 {
		f, err := ipfilter.NewFilter(cc.AllowIP, cc.DenyIP)
		if err != nil {
			return nil, fmt.Errorf("client %q: %v", cc.ID, err)
		}
		c.filter = f
	}
	return c, nil
}

func (c *client) ipAllowed(addr netip.Addr) bool {
	if c.filter == nil {
		return true
	}
	return c.filter.Allowed(addr)
}

// allowsGrant reports whether the client may use the grant type.
func (c *client) allowsGrant(grantType string) bool { return slices.Contains(c.grantTypes, grantType) }

// allowsAuth reports whether the client may authenticate with the method.
func (c *client) allowsAuth(method string) bool { return slices.Contains(c.authMethods, method) }

func (c *client) hasScope(s string) bool {
	_, ok := c.scopeSet[s]
	return ok
}

// validScopeToken checks RFC 6749 §3.3: 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)) {
			return false
		}
	}
	return true
}

// parseScopeParam splits a space-delimited scope parameter, deduplicating.
// ok is false when it contains an invalid scope token.
func parseScopeParam(s string) (scopes []string, ok bool) {
	if len(s) > 4096 {
		return nil, false
	}
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			continue
		}
		if !validScopeToken(tok) {
			return nil, false
		}
		if !slices.Contains(scopes, tok) {
			scopes = append(scopes, tok)
		}
	}
	return scopes, true
}

// narrowScopes returns the requested scopes when each is in allowed, or all of
// allowed when none were requested.
func narrowScopes(param string, allowed func(string) bool, all []string) ([]string, *oauthError) {
	req, ok := parseScopeParam(param)
	if !ok {
		return nil, newError(400, errInvalidScope, "malformed scope")
	}
	if len(req) == 0 {
		return all, nil
	}
	for _, s := range req {
		if !allowed(s) {
			return nil, newError(400, errInvalidScope, "scope "+safeName(s)+" is not allowed")
		}
	}
	return req, nil
}

// narrowAudience returns the requested audiences when each is in allowed, or
// allowed when none were requested.
func narrowAudience(req, allowed []string) ([]string, *oauthError) {
	if len(req) == 0 {
		return allowed, nil
	}
	var out []string
	for _, a := range req {
		if !slices.Contains(allowed, a) {
			return nil, newError(400, errInvalidTarget, "audience "+safeName(a)+" is not allowed")
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}
