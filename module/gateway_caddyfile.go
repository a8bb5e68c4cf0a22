package module

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/jwkscache"
	"github.com/authgate/caddy-authgate/token"
)

func parseGatewayCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	g := new(Gateway)
	err := g.UnmarshalCaddyfile(h.Dispenser)
	return g, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	authgate [<matcher>] {
//		issuer <url>...
//		insecure_http
//		jwks <url> [{ refresh_min <d>; refresh_max <d>; refetch_interval <d>; max_stale <d>; timeout <d> }]
//		key <file>
//		hmac_secret <secret>
//		introspect <url> { client_id <id>; client_secret <s>; cache_ttl <d>; negative_cache_ttl <d>; timeout <d>; cache_size <n> }
//		algorithms <alg>...
//		audience <aud>...
//		leeway <duration>
//		require_typ
//		token_source header <Name> [<scheme>] | query <param> | cookie <name>
//		scope <scope>...
//		scope_any <scope>...
//		claim <path> <value>...
//		header <Header-Name> <claim-path>
//		strip_token
//		optional
//		cache_size <n>
//		realm <text>
//		client_cert_header <Header>
//		allow_ip <entry>...
//		deny_ip <entry>...
//		allow_ip_file <path>
//		deny_ip_file <path>
//		login <issuer> { ... }     (gateway_login_caddyfile.go)
//		pass_access_token
//		identity_header <Header-Name> [<audience>]
//	}
//
// Repeatable subdirectives append; the others may appear once. Values are
// checked here, so that a bad one is reported with its file:line; checks
// that need the whole block (plain http without insecure_http, algorithms
// no key source can verify) run at its end and name the offending line.
func (g *Gateway) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	directive := d.Token()
	if err := argEnd(d); err != nil {
		return err
	}
	seen := map[string]bool{}
	var cleartext []lineURL // issuer/jwks lines with a plain-http URL
	var algLine caddyfile.Token
	for d.NextBlock(0) {
		name := d.Val()
		at := d.Token()
		if !repeatable[name] {
			if seen[name] {
				return d.Errf("duplicate subdirective %q", name)
			}
			seen[name] = true
		}
		var err error
		switch name {
		case "issuer":
			n := len(g.Issuers)
			if g.Issuers, err = argAppend(d, g.Issuers); err == nil {
				for _, iss := range g.Issuers[n:] {
					if err := checkIssuerURL(iss); err != nil {
						return d.Errf("issuer: %v", err)
					}
					if jwkscache.Cleartext(iss) {
						cleartext = append(cleartext, lineURL{at, iss})
					}
				}
			}
		case "insecure_http":
			err = argNone(d, func() { g.InsecureHTTP = true })
		case "jwks":
			if err = g.parseJWKS(d); err == nil && jwkscache.Cleartext(g.JWKS[len(g.JWKS)-1].URL) {
				cleartext = append(cleartext, lineURL{at, g.JWKS[len(g.JWKS)-1].URL})
			}
		case "introspect":
			if err = g.parseIntrospect(d); err == nil && jwkscache.Cleartext(g.Introspect.URL) {
				cleartext = append(cleartext, lineURL{at, g.Introspect.URL})
			}
		case "key":
			var path string
			if path, err = argOne(d); err == nil {
				g.Keys = append(g.Keys, path)
			}
		case "hmac_secret":
			if g.HMACSecret, err = argOne(d); err == nil {
				if err := checkHMACLiteral(g.HMACSecret); err != nil {
					return d.Err(err.Error())
				}
			}
		case "algorithms":
			algLine = at
			if g.Algorithms, err = argAppend(d, nil); err == nil {
				if err := token.CheckAlgorithms(g.Algorithms); err != nil {
					return d.Err(err.Error())
				}
			}
		case "audience":
			n := len(g.Audiences)
			if g.Audiences, err = argAppend(d, g.Audiences); err == nil {
				for _, a := range g.Audiences[n:] {
					if err := checkAudience(a); err != nil {
						return d.Err(err.Error())
					}
				}
			}
		case "leeway":
			var dur caddy.Duration
			if dur, err = argDuration(d); err == nil {
				if err := checkLeeway(time.Duration(dur)); err != nil {
					return d.Err(err.Error())
				}
				g.Leeway = &dur
			}
		case "require_typ":
			err = argNone(d, func() { g.RequireTyp = true })
		case "token_source":
			err = g.parseTokenSource(d)
		case "scope", "scope_any":
			dst := &g.Scopes
			if name == "scope_any" {
				dst = &g.ScopeAny
			}
			n := len(*dst)
			if *dst, err = argAppend(d, *dst); err == nil {
				for _, sc := range (*dst)[n:] {
					if err := checkScope(sc); err != nil {
						return d.Errf("%s: %v", name, err)
					}
				}
			}
		case "claim":
			args := d.RemainingArgs()
			if len(args) < 2 || args[0] == "" {
				return d.Errf("claim needs a path and at least one value")
			}
			g.Claims = append(g.Claims, ClaimRuleConfig{Path: args[0], Values: args[1:]})
		case "header":
			args := d.RemainingArgs()
			if len(args) != 2 || args[1] == "" {
				return d.Errf("header needs a header name and a claim path")
			}
			if err := checkHeaderName(args[0]); err != nil {
				return d.Err(err.Error())
			}
			for _, prev := range g.Headers {
				if http.CanonicalHeaderKey(prev.Name) == http.CanonicalHeaderKey(args[0]) {
					return d.Errf("header %s is mapped twice (header names are case-insensitive)", http.CanonicalHeaderKey(args[0]))
				}
			}
			g.Headers = append(g.Headers, HeaderConfig{Name: args[0], Claim: args[1]})
		case "strip_token":
			err = argNone(d, func() { g.StripToken = true })
		case "optional":
			err = argNone(d, func() { g.Optional = true })
		case "cache_size":
			var s string
			if s, err = argOne(d); err == nil {
				n, convErr := strconv.Atoi(s)
				if convErr != nil || gateway.CheckCacheSize(n) != nil {
					return d.Errf("cache_size must be an integer from 0 to %d, got %q", gateway.MaxCacheSize, s)
				}
				g.CacheSize = &n
			}
		case "realm":
			g.Realm, err = argOne(d)
		case "client_cert_header":
			if g.ClientCertHeader, err = argOne(d); err == nil {
				if cerr := checkClientCertHeader(g.ClientCertHeader); cerr != nil {
					return d.Errf("%v", cerr)
				}
			}
		case "allow_ip", "deny_ip":
			dst := &g.AllowIP
			if name == "deny_ip" {
				dst = &g.DenyIP
			}
			var entries []string
			if entries, err = argIPEntries(d, *dst, false, name); err == nil {
				*dst = entries
			}
		case "allow_ip_file":
			var path string
			if path, err = argOne(d); err == nil {
				g.AllowIPFiles = append(g.AllowIPFiles, path)
			}
		case "dpop":
			if g.DPoP, err = argOne(d); err == nil {
				if err := gateway.CheckDPoPMode(g.DPoP); err != nil || g.DPoP == "" {
					return d.Errf("dpop must be required, optional or off, got %q", g.DPoP)
				}
			}
		case "login":
			if err = g.parseLogin(d); err == nil && jwkscache.Cleartext(g.Login.Issuer) {
				cleartext = append(cleartext, lineURL{at, g.Login.Issuer})
			}
		case "pass_access_token":
			err = argNone(d, func() { g.PassAccessToken = true })
		case "identity_header":
			err = g.parseIdentityHeader(d)
		case "deny_ip_file":
			var path string
			if path, err = argOne(d); err == nil {
				g.DenyIPFiles = append(g.DenyIPFiles, path)
			}
		default:
			return d.Errf("unknown subdirective %q", name)
		}
		if err != nil {
			return err
		}
	}
	g.defaultLoginIssuer()
	if len(g.Issuers) == 0 && len(g.JWKS) == 0 && len(g.Keys) == 0 && g.HMACSecret == "" && g.Introspect == nil {
		return errAt(directive, errNoKeySource)
	}
	if len(cleartext) > 0 && !g.InsecureHTTP {
		c := cleartext[0]
		return errAt(c.tok, errCleartext(c.tok.Text, c.url))
	}
	if err := g.checkAlgorithmsFit(); err != nil {
		return errAt(algLine, err)
	}
	return nil
}

// lineURL is a URL and the subdirective token (file:line) it came from.
type lineURL struct {
	tok caddyfile.Token
	url string
}

// repeatable subdirectives accumulate; any other may appear once.
var repeatable = map[string]bool{
	"issuer": true, "jwks": true, "key": true, "audience": true, "token_source": true,
	"scope": true, "scope_any": true, "claim": true, "header": true,
	"allow_ip": true, "deny_ip": true, "allow_ip_file": true, "deny_ip_file": true,
}

func (g *Gateway) parseJWKS(d *caddyfile.Dispenser) error {
	url, err := argOneKeepBlock(d)
	if err != nil {
		return err
	}
	if err := jwkscache.CheckURL(url); err != nil {
		return d.Errf("jwks: %v", err)
	}
	line := d.Token()
	j := JWKSConfig{URL: url}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("duplicate jwks option %q", opt)
		}
		seen[opt] = true
		dur, err := argDuration(d)
		if err != nil {
			return err
		}
		switch opt {
		case "refresh_min":
			j.RefreshMin = dur
		case "refresh_max":
			j.RefreshMax = dur
		case "refetch_interval":
			j.RefetchInterval = dur
		case "max_stale":
			j.MaxStale = dur
		case "timeout":
			j.Timeout = dur
		default:
			return d.Errf("unknown jwks option %q", opt)
		}
		if err := jwkscache.CheckWrittenBound(opt, time.Duration(dur)); err != nil {
			return d.Errf("jwks: %v", err)
		}
	}
	if err := j.options().Validate(); err != nil { // refresh_min > refresh_max
		return errAt(line, fmt.Errorf("jwks %s: %w", url, err))
	}
	g.JWKS = append(g.JWKS, j)
	return nil
}

func (g *Gateway) parseTokenSource(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return d.Errf("token_source needs a kind (header, query, cookie) and a name")
	}
	src := TokenSourceConfig{Kind: args[0], Name: args[1]}
	switch {
	case src.Kind == "header" && len(args) <= 3:
		if len(args) == 3 {
			src.Scheme = args[2]
		}
	case (src.Kind == "query" || src.Kind == "cookie") && len(args) == 2:
	case src.Kind != "header" && src.Kind != "query" && src.Kind != "cookie":
		return d.Errf("token_source kind %q: want header, query or cookie", src.Kind)
	default:
		return d.ArgErr()
	}
	if src.Name == "" {
		return d.Errf("token_source %s needs a name", src.Kind)
	}
	for _, prev := range g.TokenSources {
		if tokenSourcesClash(prev, src) {
			return d.Errf("token_source %s %s overlaps an earlier one: every token would count twice", src.Kind, src.Name)
		}
	}
	g.TokenSources = append(g.TokenSources, src)
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Gateway)(nil)
